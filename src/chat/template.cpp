// Template::parse/render: the boundary where internal TemplateError becomes Result, plus the
// globals Hugging Face provides (raise_exception, strftime_now at a fixed date, namespace, range).
#include "chat/template.h"

#include <ctime>
#include <new>

#include "chat/eval.h"
#include "chat/lexer.h"
#include "chat/parser.h"

namespace minnow::chat {
namespace {

Error to_error(const TemplateError& e) {
  if (e.line > 0)
    return make_error("chat template: line %d, column %d: %s", e.line, e.column, e.message.c_str());
  return make_error("chat template: %s", e.message.c_str());
}

void add_globals(Frame& g) {
  g.set("raise_exception", Value::function("raise_exception", [](CallArgs& a) -> Value {
          fail(a.args.empty() ? std::string("raise_exception called") : a.args[0].to_str());
        }));
  g.set("strftime_now", Value::function("strftime_now", [](CallArgs& a) -> Value {
          // Fixed 2026-07-04 12:00:00 so renders are reproducible (as the golden data was made).
          std::tm tm{};
          tm.tm_year = 2026 - 1900;
          tm.tm_mon = 6;
          tm.tm_mday = 4;
          tm.tm_hour = 12;
          tm.tm_wday = 6;  // a Saturday
          tm.tm_yday = 184;
          std::string fmt = a.args.empty() ? "" : a.args[0].to_str();
          if (fmt.size() > 256) fail("strftime_now: format too long");
          char buf[1024];
          size_t n = fmt.empty() ? 0 : std::strftime(buf, sizeof buf, fmt.c_str(), &tm);
          return Value(std::string(buf, n));
        }));
  g.set("namespace", Value::function("namespace", [](CallArgs& a) -> Value {
          Dict d;
          d.is_namespace = true;
          if (!a.args.empty() && a.args[0].is_dict())
            for (const auto& kv : a.args[0].dict().items) d.set(kv.first, kv.second);
          for (const auto& kv : a.kwargs) d.set(kv.first, kv.second);
          for (const auto& kv : d.items)
            if (kv.second.contains_namespace()) fail("cannot store a namespace inside a namespace");
          return Value(std::move(d));
        }));
  g.set("dict", Value::function("dict", [](CallArgs& a) -> Value {
          Dict d;
          for (const auto& kv : a.kwargs) d.set(kv.first, kv.second);
          return Value(std::move(d));
        }));
  g.set("range", Value::function("range", [](CallArgs& a) -> Value {
          int64_t start = 0, stop = 0, step = 1;
          for (const auto& x : a.args)
            if (!x.is_int()) fail("range: integer arguments expected");
          if (a.args.size() == 1) {
            stop = a.args[0].as_int();
          } else if (a.args.size() >= 2) {
            start = a.args[0].as_int();
            stop = a.args[1].as_int();
            if (a.args.size() >= 3) step = a.args[2].as_int();
          } else {
            fail("range expected at least 1 argument");
          }
          if (step == 0) fail("range() arg 3 must not be zero");
          List out;
          for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
            if (out.size() >= 1'000'000) fail("range too large");
            out.emplace_back(i);
          }
          return Value(std::move(out));
        }));
}

}  // namespace

Result<Template> Template::parse(std::string_view source) {
  try {
    Template t;
    t.program_ = chat::parse(lex(source));
    return t;
  } catch (const TemplateError& e) {
    return to_error(e);
  } catch (const std::bad_alloc&) {
    return make_error("chat template: out of memory while parsing");
  }
}

template <class Json>
static Result<std::string> render_impl(const Program* program, const Json& context) {
  if (!program) return make_error("chat template: not parsed");
  if (!context.is_object()) return make_error("chat template: context must be a JSON object");
  try {
    Frame globals;
    add_globals(globals);
    for (auto it = context.begin(); it != context.end(); ++it)
      globals.set(it.key(), Value::from_json(it.value()));
    Evaluator ev(*program, &globals, Limits{});
    return ev.render();
  } catch (const TemplateError& e) {
    return to_error(e);
  } catch (const std::bad_alloc&) {
    return make_error("chat template: out of memory while rendering");
  }
}

Result<std::string> Template::render(const nlohmann::ordered_json& context) const {
  return render_impl(program_.get(), context);
}
Result<std::string> Template::render(const nlohmann::json& context) const {
  return render_impl(program_.get(), context);
}

Result<std::string> render_template(std::string_view source, const nlohmann::ordered_json& context) {
  auto t = Template::parse(source);
  if (!t.ok()) return t.error();
  return t->render(context);
}
Result<std::string> render_template(std::string_view source, const nlohmann::json& context) {
  auto t = Template::parse(source);
  if (!t.ok()) return t.error();
  return t->render(context);
}

}  // namespace minnow::chat

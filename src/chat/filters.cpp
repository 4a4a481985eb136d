// Jinja2's built-in filters and tests that chat templates use, with Jinja2's argument names and
// defaults (e.g. `default(v, boolean=false)`, `unique` and `sort` ignoring case by default).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "chat/eval.h"

namespace minnow::chat {
namespace {

Value arg(const CallArgs& a, size_t i, const char* name) {
  if (i < a.args.size()) return a.args[i];
  if (const Value* v = a.kwarg(name)) return *v;
  return Value();
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Iterating a value the way Jinja2 filters do: lists as is, dict keys, string characters.
List to_list(const Value& v, const char* filter) {
  if (v.is_list()) return v.list();
  if (v.is_dict()) {
    List l;
    for (size_t i = 0; i < v.dict().items.size(); ++i) l.push_back(v.dict().key_at(i));
    return l;
  }
  if (v.is_string()) {
    List l;
    for (auto& c : utf8_chars(v.str())) l.emplace_back(std::move(c));
    return l;
  }
  if (v.is_undefined()) return {};
  fail(std::string(filter) + ": '" + v.type_name() + "' object is not iterable");
}

// `attribute="a.b"` lookups used by map/selectattr/sort/join/unique.
Value attribute_of(Evaluator& ev, Value v, const std::string& path) {
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!part.empty() && std::isdigit(static_cast<unsigned char>(part[0])) && v.is_list())
      v = ev.get_item(v, Value(static_cast<int64_t>(std::strtoll(part.c_str(), nullptr, 10))));
    else if (v.is_undefined())
      return v;
    else
      v = ev.get_attr(v, part);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return v;
}

Value sort_key(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value(lower(v.str()));
  return v;
}

}  // namespace

bool Evaluator::apply_test(const std::string& name, const Value& v, CallArgs& a) {
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "number") return v.is_number();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "mapping") return v.is_dict();
  if (name == "iterable") return v.is_list() || v.is_dict() || v.is_string();
  if (name == "sequence") return v.is_list() || v.is_dict() || v.is_string();
  if (name == "callable") return v.is_callable();
  if (name == "lower") return v.is_string() && v.str() == lower(v.str());
  if (name == "upper") {
    if (!v.is_string()) return false;
    std::string u = v.str();
    for (auto& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return u == v.str();
  }
  if (name == "odd" || name == "even") {
    if (!v.is_int()) fail("test '" + name + "' needs an integer");
    return (v.as_int() % 2 != 0) == (name == "odd");
  }
  if (name == "divisibleby") {
    Value d = arg(a, 0, "num");
    if (!v.is_int() || !d.is_int() || d.as_int() == 0) fail("divisibleby needs nonzero integers");
    return v.as_int() % d.as_int() == 0;
  }
  Value other = arg(a, 0, "other");
  if (name == "equalto" || name == "eq" || name == "==" || name == "sameas") return values_equal(v, other);
  if (name == "ne" || name == "!=") return !values_equal(v, other);
  if (name == "lt" || name == "lessthan" || name == "<") return compare_values(v, other) < 0;
  if (name == "le" || name == "<=") return compare_values(v, other) <= 0;
  if (name == "gt" || name == "greaterthan" || name == ">") return compare_values(v, other) > 0;
  if (name == "ge" || name == ">=") return compare_values(v, other) >= 0;
  if (name == "in") {
    Value seq = arg(a, 0, "seq");
    if (seq.is_string()) return v.is_string() && seq.str().find(v.str()) != std::string::npos;
    if (seq.is_dict()) return v.is_string() && seq.dict().find(v.str());
    if (seq.is_list())
      return std::any_of(seq.list().begin(), seq.list().end(),
                         [&](const Value& x) { return values_equal(v, x); });
    fail("test 'in' needs a container");
  }
  fail("no test named '" + name + "'");
}

Value Evaluator::apply_filter(const std::string& name, const Value& v, CallArgs& a) {
  if (name == "safe" || name == "string" || name == "e" || name == "escape" || name == "forceescape") {
    if (name == "safe") return v.is_markup() ? v : Value::markup(v.to_str());
    if (name == "string") return v.is_string() ? v : Value(v.to_str());
    if (v.is_markup() && name != "forceescape") return v;
    return Value::markup(html_escape(v.to_str()));
  }
  if (name == "tojson") {
    Value ind = arg(a, 0, "indent");
    int indent = ind.is_int() ? static_cast<int>(std::clamp<int64_t>(ind.as_int(), 0, 64)) : -1;
    return Value(v.to_json(indent));
  }
  if (name == "length" || name == "count") {
    if (v.is_string()) return Value(static_cast<int64_t>(utf8_chars(v.str()).size()));
    if (v.is_generator()) fail("object of type 'generator' has no len()");
    if (v.is_list()) return Value(static_cast<int64_t>(v.list().size()));
    if (v.is_dict()) return Value(static_cast<int64_t>(v.dict().items.size()));
    if (v.is_undefined()) return Value(0);
    fail("object of type '" + v.type_name() + "' has no len()");
  }
  if (name == "default" || name == "d") {
    Value def = arg(a, 0, "default_value");
    bool boolean = arg(a, 1, "boolean").truthy();
    if (v.is_undefined() || (boolean && !v.truthy())) return def.is_undefined() ? Value("") : def;
    return v;
  }
  if (name == "trim") {
    CallArgs m;
    Value chars = arg(a, 0, "chars");
    if (!chars.is_undefined()) m.args.push_back(chars);
    return call_method(Value(v.to_str()), "strip", m);
  }
  if (name == "upper" || name == "lower" || name == "capitalize" || name == "title") {
    CallArgs m;
    return call_method(Value(v.to_str()), name, m);
  }
  if (name == "replace") {
    CallArgs m;
    m.args = {arg(a, 0, "old"), arg(a, 1, "new")};
    Value cnt = arg(a, 2, "count");
    if (!cnt.is_undefined()) m.args.push_back(cnt);
    return call_method(Value(v.to_str()), "replace", m);
  }
  if (name == "list") return Value(to_list(v, "list"));
  if (name == "items") {
    if (v.is_undefined()) return Value(List{});
    if (!v.is_dict()) fail("items: expected a mapping, got " + v.type_name());
    CallArgs m;
    return call_method(v, "items", m);
  }
  if (name == "dictsort") {
    if (!v.is_dict()) fail("dictsort: expected a mapping, got " + v.type_name());
    bool cs = arg(a, 0, "case_sensitive").truthy();
    Value by = arg(a, 1, "by");
    bool by_value = by.is_string() && by.str() == "value";
    bool rev = arg(a, 2, "reverse").truthy();
    List items;
    for (size_t i = 0; i < v.dict().items.size(); ++i)
      items.emplace_back(List{v.dict().key_at(i), v.dict().items[i].second});
    count_iterations(items.size());
    std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
      size_t k = by_value ? 1 : 0;
      int c = compare_values(sort_key(x.list()[k], cs), sort_key(y.list()[k], cs));
      return rev ? c > 0 : c < 0;
    });
    return Value(std::move(items));
  }
  if (name == "join") {
    Value sep = arg(a, 0, "d");
    Value attr = arg(a, 1, "attribute");
    std::string d = sep.is_undefined() ? "" : sep.to_str();
    std::string out;
    List items = to_list(v, "join");
    count_iterations(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
      Value x = attr.is_undefined() ? items[i] : attribute_of(*this, items[i], attr.to_str());
      out += (i ? d : "") + x.to_str();
      if (out.size() > limits_.max_string) fail("string exceeds the size limit");
    }
    return Value(std::move(out));
  }
  if (name == "first" || name == "last") {
    List items = to_list(v, name.c_str());
    if (items.empty()) return Value();
    return name == "first" ? items.front() : items.back();
  }
  if (name == "reverse") {
    if (v.is_string()) {
      auto chars = utf8_chars(v.str());
      std::string out;
      for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += *it;
      return Value(out);
    }
    List items = to_list(v, "reverse");
    std::reverse(items.begin(), items.end());
    return Value(std::move(items));
  }
  if (name == "int") {
    Value def = arg(a, 0, "default");
    if (def.is_undefined()) def = Value(0);
    if (v.is_int() || v.is_bool()) return Value(v.as_int());
    if (v.is_float()) {
      double d = v.as_double();
      if (!std::isfinite(d) || std::fabs(d) > 9.2e18) return def;
      return Value(static_cast<int64_t>(d));
    }
    if (v.is_string()) {
      const char* s = v.str().c_str();
      char* end = nullptr;
      errno = 0;
      long long r = std::strtoll(s, &end, 10);
      while (end && std::isspace(static_cast<unsigned char>(*end))) ++end;
      if (end != s && end && *end == '\0' && errno == 0) return Value(static_cast<int64_t>(r));
      double d = std::strtod(s, &end);
      if (end != s && end && *end == '\0' && std::isfinite(d) && std::fabs(d) < 9.2e18)
        return Value(static_cast<int64_t>(d));
    }
    return def;
  }
  if (name == "float") {
    Value def = arg(a, 0, "default");
    if (def.is_undefined()) def = Value(0.0);
    if (v.is_number() || v.is_bool()) return Value(v.as_double());
    if (v.is_string()) {
      char* end = nullptr;
      double d = std::strtod(v.str().c_str(), &end);
      if (end != v.str().c_str() && *end == '\0') return Value(d);
    }
    return def;
  }
  if (name == "abs") {
    if (v.is_float()) return Value(std::fabs(v.as_double()));
    if (v.is_int()) {
      if (v.as_int() == INT64_MIN) fail("integer overflow");
      return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
    }
    fail("bad operand type for abs(): '" + v.type_name() + "'");
  }
  if (name == "round") {
    if (!v.is_number()) fail("round: expected a number");
    Value p = arg(a, 0, "precision");
    Value method = arg(a, 1, "method");
    int prec = p.is_int() ? static_cast<int>(std::clamp<int64_t>(p.as_int(), -20, 20)) : 0;
    double scale = std::pow(10.0, prec), x = v.as_double() * scale;
    std::string m = method.is_string() ? method.str() : "common";
    double r = m == "floor" ? std::floor(x) : m == "ceil" ? std::ceil(x) : std::round(x);
    return Value(r / scale);
  }
  if (name == "indent") {
    Value w = arg(a, 0, "width");
    bool first = arg(a, 1, "first").truthy();
    bool blank = arg(a, 2, "blank").truthy();
    std::string pad =
        w.is_string()
            ? w.str()
            : std::string(static_cast<size_t>(std::clamp<int64_t>(w.is_int() ? w.as_int() : 4, 0, 256)), ' ');
    std::string s = v.to_str(), out;
    size_t start = 0;
    bool first_line = true;
    while (true) {
      size_t nl = s.find('\n', start);
      std::string line = s.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
      bool ws_only = line.find_first_not_of(" \t\r\f\v") == std::string::npos;
      if ((first_line ? first : true) && (blank || !ws_only)) out += pad;
      out += line;
      first_line = false;
      if (nl == std::string::npos) break;
      out += '\n';
      start = nl + 1;
      if (out.size() > limits_.max_string) fail("string exceeds the size limit");
    }
    return Value(out);
  }
  if (name == "map" || name == "select" || name == "reject" || name == "selectattr" || name == "rejectattr") {
    // Jinja2 guards these with `if value:`, so none/undefined/empty give an empty generator.
    List items = v.truthy() ? to_list(v, name.c_str()) : List{};
    count_iterations(items.size());
    List out;
    if (name == "map") {
      Value attr = a.kwarg("attribute") ? *a.kwarg("attribute") : Value();
      if (!attr.is_undefined()) {
        Value def = a.kwarg("default") ? *a.kwarg("default") : Value();
        for (const auto& x : items) {
          Value r = attribute_of(*this, x, attr.to_str());
          out.push_back(r.is_undefined() && !def.is_undefined() ? def : r);
        }
        return Value::generator(std::move(out));
      }
      if (a.args.empty()) fail("map: needs a filter name or attribute=");
      std::string f = a.args[0].to_str();
      CallArgs rest;
      rest.args.assign(a.args.begin() + 1, a.args.end());
      rest.kwargs = a.kwargs;
      for (const auto& x : items) {
        CallArgs copy = rest;
        out.push_back(apply_filter(f, x, copy));
      }
      return Value::generator(std::move(out));
    }
    bool attr_form = name == "selectattr" || name == "rejectattr";
    bool want = name == "select" || name == "selectattr";
    size_t k = 0;
    std::string attr;
    if (attr_form) {
      if (a.args.empty()) fail(name + ": needs an attribute");
      attr = a.args[k++].to_str();
    }
    std::string test = k < a.args.size() ? a.args[k++].to_str() : "";
    CallArgs targs;
    targs.args.assign(a.args.begin() + static_cast<std::ptrdiff_t>(std::min(k, a.args.size())), a.args.end());
    for (const auto& x : items) {
      Value subject = attr_form ? attribute_of(*this, x, attr) : x;
      CallArgs copy = targs;
      bool ok = test.empty() ? subject.truthy() : apply_test(test, subject, copy);
      if (ok == want) out.push_back(x);
    }
    return Value::generator(std::move(out));
  }
  if (name == "unique" || name == "sort" || name == "min" || name == "max") {
    List items = to_list(v, name.c_str());
    count_iterations(items.size() * 8);
    bool cs = arg(a, name == "sort" ? 1 : 0, "case_sensitive").truthy();
    Value attr = arg(a, name == "sort" ? 2 : 1, "attribute");
    auto key = [&](const Value& x) {
      return sort_key(attr.is_undefined() ? x : attribute_of(*this, x, attr.to_str()), cs);
    };
    if (name == "unique") {
      List out, seen;
      for (const auto& x : items) {
        Value kx = key(x);
        if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return values_equal(s, kx); })) {
          seen.push_back(kx);
          out.push_back(x);
        }
      }
      return Value(std::move(out));
    }
    if (name == "sort") {
      bool rev = arg(a, 0, "reverse").truthy();
      std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
        int c = compare_values(key(x), key(y));
        return rev ? c > 0 : c < 0;
      });
      return Value(std::move(items));
    }
    if (items.empty()) return Value();
    size_t best = 0;
    for (size_t i = 1; i < items.size(); ++i) {
      int c = compare_values(key(items[i]), key(items[best]));
      if (name == "min" ? c < 0 : c > 0) best = i;
    }
    return items[best];
  }
  if (name == "sum") {
    List items = to_list(v, "sum");
    Value attr = arg(a, 0, "attribute");
    Value total = arg(a, 1, "start");
    if (total.is_undefined()) total = Value(0);
    for (const auto& x : items)
      total = binary_op("+", total, attr.is_undefined() ? x : attribute_of(*this, x, attr.to_str()));
    return total;
  }
  if (name == "wordcount") {
    CallArgs m;
    return Value(static_cast<int64_t>(call_method(Value(v.to_str()), "split", m).list().size()));
  }
  if (name == "center") {
    Value w = arg(a, 0, "width");
    int64_t width = std::clamp<int64_t>(w.is_int() ? w.as_int() : 80, 0, 4096);
    std::string s = v.to_str();
    int64_t len = static_cast<int64_t>(utf8_chars(s).size());
    if (len >= width) return Value(s);
    int64_t total = width - len, left = total / 2 + (total & width & 1);
    return Value(std::string(static_cast<size_t>(left), ' ') + s +
                 std::string(static_cast<size_t>(total - left), ' '));
  }
  fail("no filter named '" + name + "'");
}

}  // namespace minnow::chat

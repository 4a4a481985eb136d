// Evaluator core: statements (if/for/set/macro/call/filter blocks, break/continue), expressions
// and Python-style operators. Jinja2 scoping: a for loop and a macro call get their own frame, so
// `set` inside them does not leak out (templates use namespace() for that).
#include "chat/eval.h"

#include <cctype>
#include <cmath>
#include <cstdio>

namespace minnow::chat {

const Value* Frame::find(std::string_view name) const {
  for (const Frame* f = this; f; f = f->parent)
    for (const auto& kv : f->vars)
      if (kv.first == name) return &kv.second;
  return nullptr;
}

void Frame::set(const std::string& name, Value v) {
  for (auto& kv : vars)
    if (kv.first == name) {
      kv.second = std::move(v);
      return;
    }
  vars.emplace_back(name, std::move(v));
}

Evaluator::DepthGuard::DepthGuard(Evaluator* e) : e_(e) {
  if (++e_->depth_ > e_->limits_.max_depth) {
    --e_->depth_;
    fail("recursion too deep");
  }
}

std::string Evaluator::render() {
  std::string out;
  // Macros resolve names in the template's top-level frame at call time, as Jinja2's do.
  Frame top;
  top.parent = root_;
  root_ = &top;
  exec(program_.body, top, out);
  root_ = top.parent;
  return out;
}

void Evaluator::emit(std::string& out, std::string_view s) {
  if (out.size() + s.size() > limits_.max_output) fail("output exceeds the size limit");
  out.append(s);
  work_bytes_ += s.size();  // macro and block bodies are re-emitted by their callers
  if (work_bytes_ > limits_.max_work_bytes) fail("template does too much work");
}

void Evaluator::count_iterations(uint64_t n) {
  iterations_ += n;
  if (iterations_ > limits_.max_iterations) fail("too many loop iterations");
}

Value Evaluator::check_size(Value v) {
  if (v.is_string()) {
    if (v.str().size() > limits_.max_string) fail("string exceeds the size limit");
    work_bytes_ += v.str().size();
  }
  if (v.is_list()) {
    if (v.list().size() > limits_.max_list) fail("list exceeds the size limit");
    work_bytes_ += v.list().size() * sizeof(Value);
  }
  if (work_bytes_ > limits_.max_work_bytes) fail("template does too much work");
  return v;
}

Evaluator::Flow Evaluator::exec(const Body& body, Frame& frame, std::string& out) {
  for (const auto& s : body) {
    Flow f = exec_stmt(*s, frame, out);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

Evaluator::Flow Evaluator::exec_stmt(const Stmt& s, Frame& frame, std::string& out) {
  DepthGuard g(this);
  try {
    switch (s.kind) {
      case Stmt::Kind::Text:
        emit(out, s.text);
        break;
      case Stmt::Kind::Output: {
        Value v = eval(*s.expr, frame);
        emit(out, v.to_str());
        break;
      }
      case Stmt::Kind::If:
        for (const auto& [cond, body] : s.branches)
          if (!cond || eval(*cond, frame).truthy()) return exec(body, frame, out);
        break;
      case Stmt::Kind::For:
        exec_for(s, frame, out);
        break;
      case Stmt::Kind::Set:
      case Stmt::Kind::SetBlock:
        exec_set(s, frame, out);
        break;
      case Stmt::Kind::Macro:
        frame.set(s.text, make_macro(s));
        break;
      case Stmt::Kind::Break:
        return Flow::Break;
      case Stmt::Kind::Continue:
        return Flow::Continue;
      case Stmt::Kind::FilterBlock: {
        std::string inner;
        Frame f;
        f.parent = &frame;
        exec(s.body, f, inner);
        // The filter chain was parsed with a null subject; substitute the rendered body.
        std::vector<const Expr*> chain;
        for (const Expr* x = s.expr.get(); x; x = x->args.empty() ? nullptr : x->args[0].get())
          chain.push_back(x);
        Value v(std::move(inner));
        for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
          CallArgs a = eval_args(**it, frame, 1);
          v = apply_filter((*it)->name, v, a);
        }
        emit(out, v.to_str());
        break;
      }
      case Stmt::Kind::CallBlock: {
        // `caller()` renders the block body in the calling frame.
        // The block's frame dies with this statement; a `caller` stored away and called later
        // must fail instead of touching it.
        const Stmt* sp = &s;
        Frame* fp = &frame;
        auto alive = std::make_shared<bool>(true);
        struct Expire {
          std::shared_ptr<bool> a;
          ~Expire() { *a = false; }
        } expire{alive};
        Value caller = Value::function("caller", [this, sp, fp, alive](CallArgs&) {
          if (!*alive) fail("caller() used after its call block ended");
          std::string inner;
          Frame f;
          f.parent = fp;
          exec(sp->body, f, inner);
          return Value(std::move(inner));
        });
        // Jinja2 passes the block to the macro as its `caller` keyword argument.
        Value fn = eval(*s.expr->args[0], frame);
        CallArgs a = eval_args(*s.expr, frame, 1);
        a.kwargs.emplace_back("caller", caller);
        emit(out, call(fn, a).to_str());
        break;
      }
    }
  } catch (TemplateError& e) {
    if (e.line == 0) {
      e.line = s.line;
      e.column = s.column;
    }
    throw;
  }
  return Flow::Normal;
}

void Evaluator::exec_for(const Stmt& s, Frame& frame, std::string& out) {
  Value seq = eval(*s.expr, frame);
  List items;
  if (seq.is_list()) {
    items = seq.list();
  } else if (seq.is_dict()) {
    for (size_t k = 0; k < seq.dict().items.size(); ++k) items.push_back(seq.dict().key_at(k));
  } else if (seq.is_string()) {
    for (auto& c : utf8_chars(seq.str())) items.emplace_back(std::move(c));
  } else if (seq.is_undefined() || seq.is_none()) {
    if (seq.is_none()) fail("'NoneType' object is not iterable");
  } else {
    fail("'" + seq.type_name() + "' object is not iterable");
  }
  Frame f;
  f.parent = &frame;
  auto bind = [&](Frame& fr, const Value& item) {
    if (s.targets.size() == 1) {
      fr.set(s.targets[0], item);
      return;
    }
    if (!item.is_list() || item.list().size() != s.targets.size())
      fail("cannot unpack " + item.type_name() + " into " + std::to_string(s.targets.size()) +
           " loop variables");
    for (size_t k = 0; k < s.targets.size(); ++k) fr.set(s.targets[k], item.list()[k]);
  };
  if (s.loop_filter) {  // `for x in xs if cond`: filtered before loop.index/length are counted
    List kept;
    for (const auto& it : items) {
      count_iterations(1);
      Frame tf;
      tf.parent = &frame;
      bind(tf, it);
      if (eval(*s.loop_filter, tf).truthy()) kept.push_back(it);
    }
    items = std::move(kept);
  }
  const int64_t n = static_cast<int64_t>(items.size());
  auto index = std::make_shared<int64_t>(0);
  Value cycle = Value::function("cycle", [index](CallArgs& a) {
    if (a.args.empty()) fail("loop.cycle needs at least one argument");
    return a.args[static_cast<size_t>(*index) % a.args.size()];
  });
  for (int64_t i = 0; i < n; ++i) {
    count_iterations(1);
    *index = i;
    bind(f, items[static_cast<size_t>(i)]);
    Value prev = i > 0 ? items[static_cast<size_t>(i - 1)] : Value();
    Value next = i + 1 < n ? items[static_cast<size_t>(i + 1)] : Value();
    Value* loop = nullptr;
    for (auto& kv : f.vars)
      if (kv.first == "loop") loop = &kv.second;
    if (loop && loop->is_dict() && loop->sole_owner() && loop->dict().items.size() == 12) {
      // Nobody kept last iteration's `loop`: update it in place instead of building a new one.
      auto& it = loop->dict().items;
      it[0].second = Value(i + 1);
      it[1].second = Value(i);
      it[2].second = Value(i == 0);
      it[3].second = Value(i == n - 1);
      it[5].second = Value(n - i);
      it[6].second = Value(n - i - 1);
      it[9].second = std::move(prev);
      it[10].second = std::move(next);
    } else {
      Dict d;
      d.items = {{"index", Value(i + 1)},         {"index0", Value(i)},          {"first", Value(i == 0)},
                 {"last", Value(i == n - 1)},     {"length", Value(n)},          {"revindex", Value(n - i)},
                 {"revindex0", Value(n - i - 1)}, {"depth", Value(1)},           {"depth0", Value(0)},
                 {"previtem", std::move(prev)},   {"nextitem", std::move(next)}, {"cycle", cycle}};
      f.set("loop", Value(std::move(d)));
    }
    if (exec(s.body, f, out) == Flow::Break) break;
  }
  if (n == 0) {
    Frame ef;
    ef.parent = &frame;
    exec(s.else_body, ef, out);
  }
}

void Evaluator::exec_set(const Stmt& s, Frame& frame, std::string& out) {
  (void)out;
  Value v;
  if (s.kind == Stmt::Kind::SetBlock) {
    std::string inner;
    Frame f;
    f.parent = &frame;
    exec(s.body, f, inner);
    v = Value(std::move(inner));
    if (s.expr) {
      std::vector<const Expr*> chain;
      for (const Expr* x = s.expr.get(); x; x = x->args.empty() ? nullptr : x->args[0].get())
        chain.push_back(x);
      for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
        CallArgs a = eval_args(**it, frame, 1);
        v = apply_filter((*it)->name, v, a);
      }
    }
  } else {
    v = eval(*s.expr, frame);
  }
  if (s.target_obj) {
    Value obj = eval(*s.target_obj, frame);
    if (!obj.is_dict() || !obj.dict().is_namespace) fail("cannot assign attribute on non-namespace object");
    if (v.contains_namespace()) fail("cannot store a namespace inside a namespace");
    obj.dict().set(s.targets[0], std::move(v));
    return;
  }
  if (s.targets.size() == 1) {
    frame.set(s.targets[0], std::move(v));
    return;
  }
  if (!v.is_list() || v.list().size() != s.targets.size()) fail("cannot unpack value in set");
  for (size_t k = 0; k < s.targets.size(); ++k) frame.set(s.targets[k], v.list()[k]);
}

Value Evaluator::make_macro(const Stmt& s) {
  const Stmt* sp = &s;
  return Value::function(s.text, [this, sp](CallArgs& a) {
    DepthGuard g(this);
    Frame f;
    f.parent = root_;
    if (a.args.size() > sp->params.size())
      fail("macro '" + sp->text + "' takes not more than " + std::to_string(sp->params.size()) +
           " argument(s)");
    for (size_t k = 0; k < sp->params.size(); ++k) {
      const auto& [pname, def] = sp->params[k];
      if (k < a.args.size()) {
        f.set(pname, a.args[k]);
      } else if (const Value* kv = a.kwarg(pname)) {
        f.set(pname, *kv);
      } else if (def) {
        f.set(pname, eval(*def, f));
      } else {
        f.set(pname, Value());
      }
    }
    for (const auto& kv : a.kwargs) {
      bool known = false;
      for (const auto& p : sp->params) known = known || p.first == kv.first;
      if (!known && kv.first != "caller")
        fail("macro '" + sp->text + "' takes no keyword argument '" + kv.first + "'");
      if (kv.first == "caller") f.set("caller", kv.second);
    }
    std::string out;
    exec(sp->body, f, out);
    return Value(std::move(out));
  });
}

Value Evaluator::call(const Value& fn, CallArgs& args) {
  if (!fn.is_callable())
    fail(fn.is_undefined() ? "'undefined' is not callable"
                           : "'" + fn.type_name() + "' object is not callable");
  return check_size(fn.call(args));
}

CallArgs Evaluator::eval_args(const Expr& e, Frame& frame, size_t first) {
  CallArgs a;
  for (size_t k = first; k < e.args.size(); ++k) a.args.push_back(eval(*e.args[k], frame));
  for (const auto& [k, v] : e.kwargs) a.kwargs.emplace_back(k, eval(*v, frame));
  return a;
}

Value Evaluator::eval(const Expr& e, Frame& frame) {
  DepthGuard g(this);
  try {
    return eval_inner(e, frame);
  } catch (TemplateError& err) {
    if (err.line == 0) {
      err.line = e.line;
      err.column = e.column;
    }
    throw;
  }
}

static std::string undefined_name(const Expr& e) {
  if (e.kind == Expr::Kind::Name) return "'" + e.name + "' is undefined";
  if (e.kind == Expr::Kind::Attr) return "'" + e.name + "' is undefined";
  return "value is undefined";
}

Value Evaluator::eval_inner(const Expr& e, Frame& frame) {
  switch (e.kind) {
    case Expr::Kind::Literal:
      return e.literal;
    case Expr::Kind::Name: {
      const Value* v = frame.find(e.name);
      return v ? *v : Value();
    }
    case Expr::Kind::List: {
      List l;
      for (const auto& x : e.args) l.push_back(eval(*x, frame));
      return Value(std::move(l));
    }
    case Expr::Kind::Dict: {
      Dict d;
      for (size_t k = 0; k + 1 < e.args.size(); k += 2) {
        Value key = eval(*e.args[k], frame);
        if (key.is_list() || key.is_dict() || key.is_undefined())
          fail("unhashable dict key: '" + key.type_name() + "'");
        d.set_key(key, eval(*e.args[k + 1], frame));
      }
      return Value(std::move(d));
    }
    case Expr::Kind::Attr: {
      Value obj = eval(*e.args[0], frame);
      if (obj.is_undefined()) fail(undefined_name(*e.args[0]));
      return get_attr(obj, e.name);
    }
    case Expr::Kind::Item: {
      Value obj = eval(*e.args[0], frame);
      if (obj.is_undefined()) fail(undefined_name(*e.args[0]));
      return get_item(obj, eval(*e.args[1], frame));
    }
    case Expr::Kind::Slice: {
      Value obj = eval(*e.args[0], frame);
      Value parts[3];
      for (int k = 0; k < 3; ++k)
        if (e.args[static_cast<size_t>(k) + 1]) parts[k] = eval(*e.args[static_cast<size_t>(k) + 1], frame);
      CallArgs a;
      for (auto& p : parts) a.args.push_back(p.is_undefined() ? Value::none() : p);
      return call_method(obj, "__slice__", a);
    }
    case Expr::Kind::Call:
      return eval_call(e, frame);
    case Expr::Kind::Filter: {
      Value subject = eval(*e.args[0], frame);
      CallArgs a = eval_args(e, frame, 1);
      return check_size(apply_filter(e.name, subject, a));
    }
    case Expr::Kind::Test: {
      Value subject = eval(*e.args[0], frame);
      CallArgs a = eval_args(e, frame, 1);
      return Value(apply_test(e.name, subject, a) != e.negated);
    }
    case Expr::Kind::Unary: {
      Value v = eval(*e.args[0], frame);
      if (!v.is_number() && !v.is_bool())
        fail("bad operand type for unary " + e.name + ": '" + v.type_name() + "'");
      if (e.name == "+") return v.is_bool() ? Value(v.as_int()) : v;
      if (v.is_float()) return Value(-v.as_double());
      if (v.as_int() == INT64_MIN) fail("integer overflow");
      return Value(-v.as_int());
    }
    case Expr::Kind::Binary:
      return eval_binary(e, frame);
    case Expr::Kind::And: {
      Value a = eval(*e.args[0], frame);
      return a.truthy() ? eval(*e.args[1], frame) : a;
    }
    case Expr::Kind::Or: {
      Value a = eval(*e.args[0], frame);
      return a.truthy() ? a : eval(*e.args[1], frame);
    }
    case Expr::Kind::Not:
      return Value(!eval(*e.args[0], frame).truthy());
    case Expr::Kind::Cond:
      if (eval(*e.args[0], frame).truthy()) return eval(*e.args[1], frame);
      return e.args[2] ? eval(*e.args[2], frame) : Value();
  }
  return Value();
}

Value Evaluator::eval_call(const Expr& e, Frame& frame) {
  const Expr& callee = *e.args[0];
  if (callee.kind == Expr::Kind::Attr) {  // obj.method(...): methods win over items, as getattr does
    Value obj = eval(*callee.args[0], frame);
    if (obj.is_undefined()) fail(undefined_name(*callee.args[0]));
    if (has_method(obj, callee.name)) {
      CallArgs a = eval_args(e, frame, 1);
      return check_size(call_method(obj, callee.name, a));
    }
    Value fn = get_attr(obj, callee.name);
    CallArgs a = eval_args(e, frame, 1);
    if (fn.is_undefined()) fail("'" + obj.type_name() + "' object has no attribute '" + callee.name + "'");
    return call(fn, a);
  }
  Value fn = eval(callee, frame);
  CallArgs a = eval_args(e, frame, 1);
  if (fn.is_undefined()) fail(undefined_name(callee));
  return call(fn, a);
}

Value Evaluator::eval_binary(const Expr& e, Frame& frame) {
  Value a = eval(*e.args[0], frame);
  Value b = eval(*e.args[1], frame);
  const std::string& op = e.name;
  if (op == "==") return Value(values_equal(a, b));
  if (op == "!=") return Value(!values_equal(a, b));
  if (op == "<") return Value(compare_values(a, b) < 0);
  if (op == ">") return Value(compare_values(a, b) > 0);
  if (op == "<=") return Value(compare_values(a, b) <= 0);
  if (op == ">=") return Value(compare_values(a, b) >= 0);
  if (op == "in") {
    bool found = false;
    if (b.is_string()) {
      if (!a.is_string()) fail("'in <string>' requires string as left operand, not " + a.type_name());
      found = b.str().find(a.str()) != std::string::npos;
    } else if (b.is_list()) {
      for (const auto& x : b.list())
        if (values_equal(a, x)) found = true;
    } else if (b.is_dict()) {
      found = b.dict().find_key(a) != nullptr;
    } else if (b.is_undefined()) {
      found = false;  // Undefined iterates as empty
    } else {
      fail("argument of type '" + b.type_name() + "' is not iterable");
    }
    return Value(found != e.negated);
  }
  if (op == "*" && a.is_int() && (b.is_string() || b.is_list())) std::swap(a, b);  // 3 * 'ab' is 'ab' * 3
  if ((op == "+" || op == "*") && (a.is_string() || a.is_list()) &&
      (b.is_string() || b.is_list() || b.is_int())) {
    // Bound the size before building it.
    size_t n = 0;
    if (op == "+") {
      n = (a.is_string() ? a.str().size() : a.list().size()) + (b.is_string() ? b.str().size()
                                                                : b.is_list() ? b.list().size()
                                                                              : 0);
    } else if (b.is_int() && b.as_int() > 0) {
      size_t unit = a.is_string() ? a.str().size() : a.list().size();
      if (unit && static_cast<uint64_t>(b.as_int()) > limits_.max_string / unit)
        fail("result exceeds the size limit");
      n = unit * static_cast<size_t>(b.as_int());
    }
    if (n > limits_.max_string || (a.is_list() && n > limits_.max_list))
      fail("result exceeds the size limit");
  }
  if (op == "~" && a.to_str().size() + b.to_str().size() > limits_.max_string)
    fail("string exceeds the size limit");
  return check_size(binary_op(op, a, b));
}

static int64_t floordiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// Python's `str % args` for the conversions templates use: %s %r %d %i %f %x %% with an
// optional precision, `%(name)s` with a mapping.
static std::string percent_format(const std::string& fmt, const Value& args) {
  std::string out;
  size_t next = 0;
  auto take = [&](const std::string& key) -> Value {
    if (!key.empty()) {
      if (!args.is_dict()) fail("format requires a mapping");
      const Value* v = args.dict().find(key);
      if (!v) fail("format: missing key '" + key + "'");
      return *v;
    }
    if (args.is_list() && !args.is_generator()) {
      if (next >= args.list().size()) fail("not enough arguments for format string");
      return args.list()[next++];
    }
    if (next++ > 0) fail("not enough arguments for format string");
    return args;
  };
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    if (++i >= fmt.size()) fail("incomplete format");
    std::string key;
    if (fmt[i] == '(') {
      size_t e = fmt.find(')', i);
      if (e == std::string::npos) fail("incomplete format key");
      key = fmt.substr(i + 1, e - i - 1);
      i = e + 1;
    }
    std::string spec = "%";
    while (i < fmt.size() && (std::isdigit(static_cast<unsigned char>(fmt[i])) || fmt[i] == '.' ||
                              fmt[i] == '-' || fmt[i] == '+' || fmt[i] == ' ' || fmt[i] == '0'))
      spec += fmt[i++];
    if (i >= fmt.size()) fail("incomplete format");
    if (spec.size() > 8) fail("format spec too long");
    char conv = fmt[i];
    char buf[128];
    if (conv == '%') {
      out += '%';
    } else if (conv == 's' || conv == 'r') {
      Value v = take(key);
      out += conv == 's' ? v.to_str() : v.repr();
    } else if (conv == 'd' || conv == 'i' || conv == 'x' || conv == 'X') {
      Value v = take(key);
      if (!v.is_number() && !v.is_bool()) fail("%d format: a number is required");
      int64_t n = v.is_float() ? static_cast<int64_t>(v.as_double()) : v.as_int();
      std::snprintf(buf, sizeof buf, (spec + "ll" + (conv == 'i' ? 'd' : conv)).c_str(),
                    static_cast<long long>(n));
      out += buf;
    } else if (conv == 'f' || conv == 'e' || conv == 'g') {
      Value v = take(key);
      if (!v.is_number() && !v.is_bool()) fail("%f format: a number is required");
      if (spec.find('.') == std::string::npos && conv == 'f') spec += ".6";
      std::snprintf(buf, sizeof buf, (spec + conv).c_str(), v.as_double());
      out += buf;
    } else {
      fail(std::string("unsupported format character '") + conv + "'");
    }
  }
  if (args.is_list() && next < args.list().size())
    fail("not all arguments converted during string formatting");
  return out;
}

Value binary_op(const std::string& op, const Value& a, const Value& b) {
  if (op == "~") return Value(a.to_str() + b.to_str());
  if (op == "%" && a.is_string()) return Value(percent_format(a.str(), b));
  auto bad = [&]() -> Value {
    fail("unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" + b.type_name() + "'");
  };
  if (op == "+") {
    if (a.is_string() && b.is_string()) {
      if (!a.is_markup() && !b.is_markup()) return Value(a.str() + b.str());
      return Value::markup((a.is_markup() ? a.str() : html_escape(a.str())) +
                           (b.is_markup() ? b.str() : html_escape(b.str())));
    }
    if (a.is_list() && b.is_list()) {
      List l = a.list();
      l.insert(l.end(), b.list().begin(), b.list().end());
      return Value(std::move(l));
    }
  }
  if (op == "*" && a.is_int() && (b.is_string() || b.is_list())) return binary_op(op, b, a);
  if (op == "*" && (a.is_string() || a.is_list()) && b.is_int()) {
    int64_t n = b.as_int();
    if (a.is_string()) {
      std::string s;
      for (int64_t k = 0; k < n; ++k) s += a.str();
      return Value(std::move(s));
    }
    List l;
    for (int64_t k = 0; k < n; ++k) l.insert(l.end(), a.list().begin(), a.list().end());
    return Value(std::move(l));
  }
  bool an = a.is_number() || a.is_bool(), bn = b.is_number() || b.is_bool();
  if (!an || !bn) return bad();
  bool fl = a.is_float() || b.is_float();
  if (op == "/") {
    if (b.as_double() == 0) fail("division by zero");
    return Value(a.as_double() / b.as_double());
  }
  if (op == "**") {
    if (!fl && b.as_int() >= 0) {
      int64_t r = 1, base = a.as_int();
      for (int64_t k = 0; k < b.as_int(); ++k) {
        if (__builtin_mul_overflow(r, base, &r)) fail("integer overflow");
        if (r == 0 || r == 1) break;
      }
      return Value(r);
    }
    return Value(std::pow(a.as_double(), b.as_double()));
  }
  if (fl) {
    double x = a.as_double(), y = b.as_double();
    if (op == "+") return Value(x + y);
    if (op == "-") return Value(x - y);
    if (op == "*") return Value(x * y);
    if (y == 0) fail("float division by zero");
    if (op == "//") return Value(std::floor(x / y));
    if (op == "%") {
      double m = std::fmod(x, y);
      if (m != 0 && ((m < 0) != (y < 0))) m += y;
      return Value(m);
    }
    return bad();
  }
  int64_t x = a.as_int(), y = b.as_int(), r = 0;
  if (op == "+") {
    if (__builtin_add_overflow(x, y, &r)) fail("integer overflow");
    return Value(r);
  }
  if (op == "-") {
    if (__builtin_sub_overflow(x, y, &r)) fail("integer overflow");
    return Value(r);
  }
  if (op == "*") {
    if (__builtin_mul_overflow(x, y, &r)) fail("integer overflow");
    return Value(r);
  }
  if (y == 0) fail("integer division or modulo by zero");
  if (x == INT64_MIN && y == -1) fail("integer overflow");
  if (op == "//") return Value(floordiv(x, y));
  if (op == "%") return Value(x - floordiv(x, y) * y);
  return bad();
}

}  // namespace minnow::chat

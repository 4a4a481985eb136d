// Value semantics that follow Python: truthiness, equality, ordering, str()/repr(), and
// json.dumps formatting (Python's separators and float repr, not nlohmann's).
#include "chat/value.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace minnow::chat {

void fail(std::string message) {
  throw TemplateError{std::move(message), 0, 0};
}

const Value* Dict::find(std::string_view key) const {
  for (const auto& kv : items)
    if (kv.first == key) return &kv.second;
  return nullptr;
}

void Dict::set(const std::string& key, Value v) {
  for (auto& kv : items)
    if (kv.first == key) {
      kv.second = std::move(v);
      return;
    }
  items.emplace_back(key, std::move(v));
}

Value::Value(List l) : kind_(Kind::List), depth_(1) {
  for (const auto& c : l) note_child(c);
  l_ = std::make_shared<List>(std::move(l));
}

Value::Value(Dict d) : kind_(Kind::Dict), depth_(1) {
  for (const auto& kv : d.items) note_child(kv.second);
  m_ = std::make_shared<Dict>(std::move(d));
}

void Value::note_child(const Value& c) {
  depth_ = std::max(depth_, c.depth_ + 1);
  if (depth_ > kMaxNesting) fail("value nested too deeply");
  has_ns_ = has_ns_ || c.contains_namespace();
}

std::string encode_key(const Value& key) {
  if (key.is_string()) return key.str();
  return std::string(1, '\0') + key.type_name() + ":" + key.repr();
}

const Value* Dict::find_key(const Value& key) const {
  return find(encode_key(key));
}

void Dict::set_key(const Value& key, Value v) {
  std::string enc = encode_key(key);
  if (!key.is_string() && !find(enc)) {
    keys.resize(items.size());
    keys.push_back(key);
  }
  set(enc, std::move(v));
}

Value Dict::key_at(size_t i) const {
  if (i < keys.size() && !keys[i].is_undefined()) return keys[i];
  return Value(items[i].first);
}

Value Value::markup(std::string s) {
  Value v(std::move(s));
  v.markup_ = true;
  return v;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

Value Value::generator(List l) {
  Value v(std::move(l));
  v.generator_ = true;
  return v;
}

const Value* CallArgs::kwarg(std::string_view name) const {
  for (const auto& kv : kwargs)
    if (kv.first == name) return &kv.second;
  return nullptr;
}

Value Value::function(std::string name, Function f) {
  Value v;
  v.kind_ = Kind::Callable;
  v.s_ = std::make_shared<std::string>(std::move(name));
  v.f_ = std::make_shared<Function>(std::move(f));
  return v;
}

template <class Json>
static Value value_from_json(const Json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null:
      return Value::none();
    case nlohmann::json::value_t::boolean:
      return Value(j.template get<bool>());
    case nlohmann::json::value_t::number_integer:
      return Value(j.template get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      uint64_t u = j.template get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<double>(u));
      return Value(static_cast<int64_t>(u));
    }
    case nlohmann::json::value_t::number_float:
      return Value(j.template get<double>());
    case nlohmann::json::value_t::string:
      return Value(j.template get<std::string>());
    case nlohmann::json::value_t::array: {
      List l;
      l.reserve(j.size());
      for (const auto& e : j) l.push_back(value_from_json(e));
      return Value(std::move(l));
    }
    case nlohmann::json::value_t::object: {
      Dict d;
      for (auto it = j.begin(); it != j.end(); ++it)
        d.items.emplace_back(it.key(), value_from_json(it.value()));
      return Value(std::move(d));
    }
    default:
      return Value::none();
  }
}

Value Value::from_json(const nlohmann::json& j) {
  return value_from_json(j);
}
Value Value::from_json(const nlohmann::ordered_json& j) {
  return value_from_json(j);
}

bool Value::truthy() const {
  switch (kind_) {
    case Kind::Undefined:
    case Kind::None:
      return false;
    case Kind::Bool:
    case Kind::Int:
      return i_ != 0;
    case Kind::Float:
      return d_ != 0.0;
    case Kind::String:
      return !s_->empty();
    case Kind::List:
      return generator_ || !l_->empty();
    case Kind::Dict:
      return m_->is_namespace || !m_->items.empty();
    case Kind::Callable:
      return true;
  }
  return false;
}

std::string python_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[40];
  for (int prec = 1; prec <= 17; ++prec) {  // shortest digits that round-trip, like repr()
    std::snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  // buf is d.ddde[+-]XX; lay it out as Python does (positional for 1e-4 <= |d| < 1e16).
  std::string s(buf);
  size_t e = s.find('e');
  int exp = std::atoi(s.c_str() + e + 1);
  std::string mant = s.substr(0, e);
  bool neg = mant[0] == '-';
  if (neg) mant.erase(0, 1);
  std::string digits;
  for (char c : mant)
    if (c != '.') digits += c;
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string out;
  if (exp >= -5 && exp < 16) {
    if (exp < 0) {
      out = "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
    } else if (static_cast<int>(digits.size()) <= exp + 1) {
      out = digits + std::string(static_cast<size_t>(exp + 1) - digits.size(), '0') + ".0";
    } else {
      out =
          digits.substr(0, static_cast<size_t>(exp + 1)) + "." + digits.substr(static_cast<size_t>(exp + 1));
    }
  } else {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    out += eb;
  }
  return neg ? "-" + out : out;
}

std::string python_repr_string(const std::string& s) {
  char q = (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) ? '"' : '\'';
  std::string out(1, q);
  for (unsigned char c : s) {
    if (c == static_cast<unsigned char>(q) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += q;
  return out;
}

std::string Value::to_str() const {
  switch (kind_) {
    case Kind::Undefined:
      return "";
    case Kind::None:
      return "None";
    case Kind::Bool:
      return i_ ? "True" : "False";
    case Kind::Int:
      return std::to_string(i_);
    case Kind::Float:
      return python_float(d_);
    case Kind::String:
      return *s_;
    default:
      return repr();
  }
}

std::string Value::repr() const {
  switch (kind_) {
    case Kind::String:
      return python_repr_string(*s_);
    case Kind::List: {
      if (generator_) return "<generator object>";
      std::string out = "[";
      for (size_t i = 0; i < l_->size(); ++i) out += (i ? ", " : "") + (*l_)[i].repr();
      return out + "]";
    }
    case Kind::Dict: {
      if (m_->is_namespace) return "<Namespace>";
      std::string out = "{";
      bool first = true;
      for (size_t i = 0; i < m_->items.size(); ++i) {
        out += (first ? "" : ", ") + m_->key_at(i).repr() + ": " + m_->items[i].second.repr();
        first = false;
      }
      return out + "}";
    }
    case Kind::Callable:
      return "<function " + *s_ + ">";
    default:
      return to_str();
  }
}

std::string Value::type_name() const {
  switch (kind_) {
    case Kind::Undefined:
      return "undefined";
    case Kind::None:
      return "NoneType";
    case Kind::Bool:
      return "bool";
    case Kind::Int:
      return "int";
    case Kind::Float:
      return "float";
    case Kind::String:
      return "str";
    case Kind::List:
      return "list";
    case Kind::Dict:
      return m_->is_namespace ? "Namespace" : "dict";
    case Kind::Callable:
      return "function";
  }
  return "?";
}

static void json_string(std::string& out, const std::string& s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", c);
          out += b;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

std::string Value::to_json(int indent) const {
  std::string out;
  json_into(out, indent, 0);
  return out;
}

void Value::json_into(std::string& out, int indent, int depth) const {
  if (depth > 512) fail("tojson: nesting too deep");
  auto newline = [&](int d) {
    if (indent < 0) return;
    out += '\n';
    out.append(static_cast<size_t>(indent) * static_cast<size_t>(d), ' ');
  };
  const char* item_sep = indent < 0 ? ", " : ",";
  switch (kind_) {
    case Kind::Undefined:
      fail("tojson: value is undefined");
    case Kind::None:
      out += "null";
      return;
    case Kind::Bool:
      out += i_ ? "true" : "false";
      return;
    case Kind::Int:
      out += std::to_string(i_);
      return;
    case Kind::Float:
      if (std::isnan(d_))
        out += "NaN";
      else if (std::isinf(d_))
        out += d_ > 0 ? "Infinity" : "-Infinity";
      else
        out += python_float(d_);
      return;
    case Kind::String:
      json_string(out, *s_);
      return;
    case Kind::List:
      if (generator_) fail("Object of type generator is not JSON serializable");
      if (l_->empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < l_->size(); ++i) {
        if (i) out += item_sep;
        newline(depth + 1);
        (*l_)[i].json_into(out, indent, depth + 1);
      }
      newline(depth);
      out += ']';
      return;
    case Kind::Dict:
      if (m_->items.empty()) {
        out += "{}";
        return;
      }
      out += '{';
      for (size_t i = 0; i < m_->items.size(); ++i) {
        if (i) out += item_sep;
        newline(depth + 1);
        Value key = m_->key_at(i);
        json_string(out, key.is_string() ? key.str()
                         : key.is_none() ? "null"
                         : key.is_bool() ? (key.as_bool() ? "true" : "false")
                                         : key.to_str());
        out += ": ";
        m_->items[i].second.json_into(out, indent, depth + 1);
      }
      newline(depth);
      out += '}';
      return;
    case Kind::Callable:
      fail("tojson: object of type function is not JSON serializable");
  }
}

bool values_equal(const Value& a, const Value& b) {
  if (a.is_number() || a.is_bool()) {
    if (!(b.is_number() || b.is_bool())) return false;
    if (a.is_float() || b.is_float()) return a.as_double() == b.as_double();
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::Undefined:
    case Value::Kind::None:
      return true;
    case Value::Kind::String:
      return a.str() == b.str();
    case Value::Kind::List: {
      if (a.list().size() != b.list().size()) return false;
      for (size_t i = 0; i < a.list().size(); ++i)
        if (!values_equal(a.list()[i], b.list()[i])) return false;
      return true;
    }
    case Value::Kind::Dict: {
      if (&a.dict() == &b.dict()) return true;
      if (a.dict().items.size() != b.dict().items.size()) return false;
      for (const auto& kv : a.dict().items) {
        const Value* o = b.dict().find(kv.first);
        if (!o || !values_equal(kv.second, *o)) return false;
      }
      return true;
    }
    case Value::Kind::Callable:
      return a.fn_name() == b.fn_name();
    default:
      return false;
  }
}

int compare_values(const Value& a, const Value& b) {
  if ((a.is_number() || a.is_bool()) && (b.is_number() || b.is_bool())) {
    if (a.is_float() || b.is_float()) {
      double x = a.as_double(), y = b.as_double();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    return a.as_int() < b.as_int() ? -1 : (a.as_int() > b.as_int() ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) return a.str().compare(b.str()) < 0 ? -1 : (a.str() == b.str() ? 0 : 1);
  if (a.is_list() && b.is_list()) {
    size_t n = std::min(a.list().size(), b.list().size());
    for (size_t i = 0; i < n; ++i) {
      int c = compare_values(a.list()[i], b.list()[i]);
      if (c) return c;
    }
    return a.list().size() < b.list().size() ? -1 : (a.list().size() > b.list().size() ? 1 : 0);
  }
  fail("'<' not supported between instances of '" + a.type_name() + "' and '" + b.type_name() + "'");
}

std::vector<std::string> utf8_chars(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (i + n > s.size()) n = 1;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) n = 1;
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

}  // namespace minnow::chat

// Value: the dynamic type of the chat-template engine (Python-like: none/undefined, bool, int,
// float, string, list, insertion-ordered dict, callable). Lists and dicts are shared by reference
// like Python objects. Also Python-style str()/repr() and JSON conversion.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace minnow::chat {

class Value;
using List = std::vector<Value>;

// Keys are strings: chat contexts come from JSON, whose object keys are strings.
// Keys are stored as strings (chat contexts come from JSON); a template's own non-string keys
// (`{1024: 256}`) are stored under an encoded string with the original kept in `keys`.
struct Dict {
  std::vector<std::pair<std::string, Value>> items;
  std::vector<Value> keys;    // by index: the original non-string key, else undefined
  bool is_namespace = false;  // namespace() objects accept attribute assignment
  const Value* find(std::string_view key) const;
  const Value* find_key(const Value& key) const;
  void set(const std::string& key, Value v);
  void set_key(const Value& key, Value v);
  Value key_at(size_t i) const;
};
std::string encode_key(const Value& key);

struct CallArgs {
  std::vector<Value> args;
  std::vector<std::pair<std::string, Value>> kwargs;
  const Value* kwarg(std::string_view name) const;
};

// Errors inside the engine are thrown as TemplateError and turned into Result at the public
// boundary (template.cpp); nothing escapes render().
struct TemplateError {
  std::string message;
  int line = 0, column = 0;  // 0: not yet located; the innermost node that knows adds it
};
[[noreturn]] void fail(std::string message);

using Function = std::function<Value(CallArgs&)>;

class Value {
 public:
  enum class Kind { Undefined, None, Bool, Int, Float, String, List, Dict, Callable };

  Value() = default;  // undefined
  static Value none() {
    Value v;
    v.kind_ = Kind::None;
    return v;
  }
  Value(bool b) : kind_(Kind::Bool), i_(b) {}                                                     // NOLINT
  Value(int64_t i) : kind_(Kind::Int), i_(i) {}                                                   // NOLINT
  Value(int i) : kind_(Kind::Int), i_(i) {}                                                       // NOLINT
  Value(double d) : kind_(Kind::Float), d_(d) {}                                                  // NOLINT
  Value(std::string s) : kind_(Kind::String), s_(std::make_shared<std::string>(std::move(s))) {}  // NOLINT
  Value(const char* s) : Value(std::string(s)) {}                                                 // NOLINT
  Value(List l);  // NOLINT: implicit by design
  Value(Dict d);  // NOLINT
  static Value function(std::string name, Function f);
  // What Jinja2's map/select/... return: a lazy generator, which iterates like a list but is
  // always truthy, has no len() and cannot be serialized. We keep the list and remember.
  static Value generator(List l);
  bool is_generator() const { return generator_; }
  // A `|safe` string (markupsafe.Markup): `+` with a plain string HTML-escapes the plain one.
  static Value markup(std::string s);
  bool is_markup() const { return markup_; }
  static Value from_json(const nlohmann::json& j);

  // Nesting is bounded and namespaces never hold namespaces: values are reference-counted, so
  // this keeps them acyclic, and recursion over them (repr, ==, destruction) shallow.
  static constexpr uint32_t kMaxNesting = 256;
  uint32_t nesting() const { return depth_; }
  bool contains_namespace() const { return has_ns_ || (kind_ == Kind::Dict && m_->is_namespace); }
  void inherit_namespace_flag(const Value& captured) { has_ns_ = captured.contains_namespace(); }
  static Value from_json(const nlohmann::ordered_json& j);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  bool is_int() const { return kind_ == Kind::Int; }
  bool is_float() const { return kind_ == Kind::Float; }
  bool is_number() const { return kind_ == Kind::Int || kind_ == Kind::Float; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_list() const { return kind_ == Kind::List; }
  bool is_dict() const { return kind_ == Kind::Dict; }
  bool is_callable() const { return kind_ == Kind::Callable; }

  bool as_bool() const { return i_ != 0; }
  int64_t as_int() const { return i_; }
  double as_double() const { return kind_ == Kind::Float ? d_ : static_cast<double>(i_); }
  const std::string& str() const { return *s_; }
  List& list() const { return *l_; }
  Dict& dict() const { return *m_; }
  bool sole_owner() const { return (m_ && m_.use_count() == 1) || (l_ && l_.use_count() == 1); }
  const std::string& fn_name() const { return *s_; }
  Value call(CallArgs& a) const { return (*f_)(a); }

  bool truthy() const;
  std::string to_str() const;  // Python str(); undefined prints as ""
  std::string repr() const;    // Python repr()
  std::string type_name() const;
  // json.dumps(ensure_ascii=False, indent=indent) as Python writes it; indent < 0: none.
  std::string to_json(int indent) const;

 private:
  void json_into(std::string& out, int indent, int depth) const;
  Kind kind_ = Kind::Undefined;
  bool generator_ = false;
  bool markup_ = false;
  bool has_ns_ = false;
  uint32_t depth_ = 0;
  void note_child(const Value& c);
  int64_t i_ = 0;
  double d_ = 0;
  std::shared_ptr<std::string> s_;  // string, or a callable's name
  std::shared_ptr<List> l_;
  std::shared_ptr<Dict> m_;
  std::shared_ptr<Function> f_;
};

bool values_equal(const Value& a, const Value& b);
int compare_values(const Value& a, const Value& b);  // <0, 0, >0; fails on unorderable types
std::string python_float(double d);                  // Python repr(float)
std::string python_repr_string(const std::string& s);
std::string html_escape(const std::string& s);  // markupsafe.escape

// UTF-8 helpers: strings index and slice by code point, as in Python.
std::vector<std::string> utf8_chars(const std::string& s);

}  // namespace minnow::chat

// Attribute and item access, slicing, and the Python str/dict/list methods templates call
// (strip, split, startswith, format, get, items, ...). Mutating methods are refused, as in
// Jinja2's ImmutableSandboxedEnvironment that Hugging Face renders with.
#include <algorithm>
#include <cctype>

#include "chat/eval.h"

namespace minnow::chat {
namespace {

bool is_py_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string strip(const std::string& s, const Value* chars, bool left, bool right) {
  auto in_set = [&](char c) {
    if (!chars || chars->is_none() || chars->is_undefined()) return is_py_space(c);
    return chars->str().find(c) != std::string::npos;
  };
  size_t b = 0, e = s.size();
  if (left)
    while (b < e && in_set(s[b])) ++b;
  if (right)
    while (e > b && in_set(s[e - 1])) --e;
  return s.substr(b, e - b);
}

Value arg(const CallArgs& a, size_t i, const char* name) {
  if (i < a.args.size()) return a.args[i];
  if (const Value* v = a.kwarg(name)) return *v;
  return Value();
}

const std::string& need_string(const Value& v, const char* what) {
  if (!v.is_string()) fail(std::string(what) + " must be a string, not " + v.type_name());
  return v.str();
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}
std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Value split(Evaluator& ev, const std::string& s, const Value& sep, const Value& maxsplit_v) {
  int64_t maxsplit = maxsplit_v.is_int() ? maxsplit_v.as_int() : -1;
  List out;
  if (sep.is_undefined() || sep.is_none()) {  // split on runs of whitespace
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && is_py_space(s[i])) ++i;
      if (i >= s.size()) break;
      if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
        size_t e = s.size();
        while (e > i && is_py_space(s[e - 1])) --e;
        out.emplace_back(s.substr(i, e - i));
        break;
      }
      size_t j = i;
      while (j < s.size() && !is_py_space(s[j])) ++j;
      out.emplace_back(s.substr(i, j - i));
      ev.count_iterations(1);
      i = j;
    }
    return Value(std::move(out));
  }
  const std::string& d = need_string(sep, "split separator");
  if (d.empty()) fail("empty separator");
  size_t start = 0;
  while (true) {
    size_t p = s.find(d, start);
    if (p == std::string::npos || (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit)) break;
    out.emplace_back(s.substr(start, p - start));
    ev.count_iterations(1);
    start = p + d.size();
  }
  out.emplace_back(s.substr(start));
  return Value(std::move(out));
}

// str.format with positional `{}`/`{0}` and keyword `{name}` fields (no format specs).
std::string format(const std::string& fmt, const CallArgs& a) {
  std::string out;
  size_t auto_idx = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if (c == '{' && i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out += '{';
      ++i;
    } else if (c == '}' && i + 1 < fmt.size() && fmt[i + 1] == '}') {
      out += '}';
      ++i;
    } else if (c == '{') {
      size_t e = fmt.find('}', i);
      if (e == std::string::npos) fail("single '{' encountered in format string");
      std::string field = fmt.substr(i + 1, e - i - 1);
      if (field.find_first_of(":!") != std::string::npos) fail("format specs are not supported");
      Value v;
      if (field.empty()) {
        if (auto_idx >= a.args.size()) fail("format: not enough arguments");
        v = a.args[auto_idx++];
      } else if (std::isdigit(static_cast<unsigned char>(field[0]))) {
        size_t k = std::strtoul(field.c_str(), nullptr, 10);
        if (k >= a.args.size()) fail("format: index out of range");
        v = a.args[k];
      } else {
        const Value* kv = a.kwarg(field);
        if (!kv) fail("format: missing key '" + field + "'");
        v = *kv;
      }
      out += v.to_str();
      i = e;
    } else if (c == '}') {
      fail("single '}' encountered in format string");
    } else {
      out += c;
    }
  }
  return out;
}

// Python slice semantics on a length-n sequence: the indices it selects.
std::vector<size_t> slice_indices(int64_t n, const Value& start_v, const Value& stop_v, const Value& step_v) {
  int64_t step = step_v.is_int() ? step_v.as_int() : 1;
  if (!step_v.is_none() && !step_v.is_int()) fail("slice indices must be integers or None");
  if (step == 0) fail("slice step cannot be zero");
  auto norm = [&](const Value& v, int64_t def, int64_t lo, int64_t hi) {
    if (v.is_none()) return def;
    if (!v.is_int()) fail("slice indices must be integers or None");
    int64_t x = v.as_int();
    if (x < 0) x += n;
    return std::clamp(x, lo, hi);
  };
  std::vector<size_t> idx;
  if (step > 0) {
    int64_t b = norm(start_v, 0, 0, n), e = norm(stop_v, n, 0, n);
    for (int64_t i = b; i < e; i += step) idx.push_back(static_cast<size_t>(i));
  } else {
    int64_t b = norm(start_v, n - 1, -1, n - 1), e = norm(stop_v, -1, -1, n - 1);
    if (!stop_v.is_none() && stop_v.as_int() < -n) e = -1;
    for (int64_t i = b; i > e; i += step) idx.push_back(static_cast<size_t>(i));
  }
  return idx;
}

const char* const kStringMethods[] = {"strip",    "lstrip",  "rstrip",  "split",   "rsplit",     "startswith",
                                      "endswith", "upper",   "lower",   "title",   "capitalize", "replace",
                                      "find",     "rfind",   "count",   "format",  "join",       "splitlines",
                                      "isdigit",  "isalpha", "isspace", "isupper", "islower",    "index"};
const char* const kDictMethods[] = {"items", "get", "keys", "values"};
const char* const kListMethods[] = {"index", "count"};
const char* const kMutating[] = {"append", "pop",        "insert", "extend",  "remove", "clear",
                                 "update", "setdefault", "sort",   "reverse", "popitem"};

template <size_t N>
bool contains(const char* const (&arr)[N], const std::string& s) {
  for (const char* x : arr)
    if (s == x) return true;
  return false;
}

}  // namespace

bool Evaluator::has_method(const Value& obj, const std::string& name) const {
  if (obj.is_string()) return contains(kStringMethods, name);
  if (obj.is_dict() && !obj.dict().is_namespace)
    return contains(kDictMethods, name) || contains(kMutating, name);
  if (obj.is_list()) return contains(kListMethods, name) || contains(kMutating, name);
  return false;
}

Value Evaluator::get_attr(const Value& obj, const std::string& name) {
  if (obj.is_dict()) {
    if (const Value* v = obj.dict().find(name)) return *v;
  }
  if (has_method(obj, name)) {  // a bound method used as a value, e.g. passed to a filter
    Value self = obj;
    std::string n = name;
    Value fn = Value::function(name, [this, self, n](CallArgs& a) { return call_method(self, n, a); });
    fn.inherit_namespace_flag(self);
    return fn;
  }
  return Value();
}

Value Evaluator::get_item(const Value& obj, const Value& key) {
  if (obj.is_dict()) {
    if (key.is_string()) {
      if (const Value* v = obj.dict().find(key.str())) return *v;
      return Value();
    }
    if (const Value* v = obj.dict().find_key(key)) return *v;
    return Value();
  }
  if (obj.is_generator()) fail("'generator' object is not subscriptable");
  if (obj.is_list() || obj.is_string()) {
    if (!key.is_int()) {
      if (key.is_string()) return get_attr(obj, key.str());
      fail("indices must be integers, not " + key.type_name());
    }
    if (obj.is_list()) {
      int64_t n = static_cast<int64_t>(obj.list().size()), i = key.as_int();
      if (i < 0) i += n;
      if (i < 0 || i >= n) return Value();  // Jinja2 turns IndexError into undefined
      return obj.list()[static_cast<size_t>(i)];
    }
    auto chars = utf8_chars(obj.str());
    int64_t n = static_cast<int64_t>(chars.size()), i = key.as_int();
    if (i < 0) i += n;
    if (i < 0 || i >= n) return Value();
    return Value(chars[static_cast<size_t>(i)]);
  }
  if (obj.is_none()) fail("'NoneType' object is not subscriptable");
  return Value();
}

Value Evaluator::call_method(const Value& obj, const std::string& name, CallArgs& a) {
  if (contains(kMutating, name))
    fail("access to attribute '" + name + "' of '" + obj.type_name() + "' object is unsafe");
  if (name == "__slice__") {
    if (obj.is_list()) {
      auto idx = slice_indices(static_cast<int64_t>(obj.list().size()), a.args[0], a.args[1], a.args[2]);
      List out;
      for (size_t i : idx) out.push_back(obj.list()[i]);
      return Value(std::move(out));
    }
    if (obj.is_string()) {
      auto chars = utf8_chars(obj.str());
      auto idx = slice_indices(static_cast<int64_t>(chars.size()), a.args[0], a.args[1], a.args[2]);
      std::string out;
      for (size_t i : idx) out += chars[i];
      return Value(std::move(out));
    }
    if (obj.is_undefined()) fail("value is undefined");
    fail("'" + obj.type_name() + "' object is not subscriptable");
  }
  if (obj.is_dict()) {
    const Dict& d = obj.dict();
    if (name == "get") {
      Value k = arg(a, 0, "key");
      const Value* v = d.find_key(k);
      if (v) return *v;
      Value def = arg(a, 1, "default");
      return def.is_undefined() ? Value::none() : def;
    }
    List out;
    count_iterations(d.items.size());
    for (size_t i = 0; i < d.items.size(); ++i) {
      if (name == "items")
        out.emplace_back(List{d.key_at(i), d.items[i].second});
      else if (name == "keys")
        out.push_back(d.key_at(i));
      else
        out.push_back(d.items[i].second);
    }
    return Value(std::move(out));
  }
  if (obj.is_list()) {
    Value x = arg(a, 0, "value");
    int64_t count = 0;
    count_iterations(obj.list().size());
    for (size_t i = 0; i < obj.list().size(); ++i)
      if (values_equal(obj.list()[i], x)) {
        if (name == "index") return Value(static_cast<int64_t>(i));
        ++count;
      }
    if (name == "index") fail("value is not in list");
    return Value(count);
  }
  const std::string& s = obj.str();
  count_iterations(s.size() / 64 + 1);
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    Value chars = arg(a, 0, "chars");
    if (!chars.is_undefined() && !chars.is_none()) need_string(chars, "strip arg");
    return Value(strip(s, &chars, name != "rstrip", name != "lstrip"));
  }
  if (name == "split") return split(*this, s, arg(a, 0, "sep"), arg(a, 1, "maxsplit"));
  if (name == "rsplit") {
    Value maxsplit = arg(a, 1, "maxsplit");
    if (!maxsplit.is_int() || maxsplit.as_int() < 0) return split(*this, s, arg(a, 0, "sep"), Value());
    // rsplit with a limit: split fully, then re-join the leading pieces.
    const std::string& d = need_string(arg(a, 0, "sep"), "rsplit separator");
    Value all = split(*this, s, arg(a, 0, "sep"), Value());
    List& parts = all.list();
    size_t keep = static_cast<size_t>(maxsplit.as_int());
    if (parts.size() <= keep + 1) return all;
    std::string head;
    size_t n_head = parts.size() - keep;
    for (size_t i = 0; i < n_head; ++i) head += (i ? d : "") + parts[i].str();
    List out{Value(head)};
    out.insert(out.end(), parts.begin() + static_cast<std::ptrdiff_t>(n_head), parts.end());
    return Value(std::move(out));
  }
  if (name == "startswith" || name == "endswith") {
    Value p = arg(a, 0, "prefix");
    List cands = p.is_list() ? p.list() : List{p};
    for (const auto& c : cands) {
      const std::string& x = need_string(c, name.c_str());
      if (x.size() <= s.size() && (name == "startswith" ? s.compare(0, x.size(), x) == 0
                                                        : s.compare(s.size() - x.size(), x.size(), x) == 0))
        return Value(true);
    }
    return Value(false);
  }
  if (name == "upper") return Value(upper(s));
  if (name == "lower") return Value(lower(s));
  if (name == "capitalize") {
    std::string r = lower(s);
    if (!r.empty()) r[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(r[0])));
    return Value(r);
  }
  if (name == "title") {
    std::string r = s;
    bool prev_alpha = false;
    for (auto& c : r) {
      unsigned char u = static_cast<unsigned char>(c);
      c = static_cast<char>(prev_alpha ? std::tolower(u) : std::toupper(u));
      prev_alpha = std::isalpha(u) != 0;
    }
    return Value(r);
  }
  if (name == "replace") {
    const std::string& from = need_string(arg(a, 0, "old"), "replace arg");
    const std::string& to = need_string(arg(a, 1, "new"), "replace arg");
    Value cnt = arg(a, 2, "count");
    int64_t limit = cnt.is_int() ? cnt.as_int() : -1;
    std::string out;
    size_t pos = 0;
    int64_t done = 0;
    if (from.empty()) {  // Python inserts `to` between every character
      auto chars = utf8_chars(s);
      for (size_t i = 0; i <= chars.size(); ++i) {
        if (limit < 0 || done < limit) {
          out += to;
          ++done;
        }
        if (i < chars.size()) out += chars[i];
        if (out.size() > limits_.max_string) fail("string exceeds the size limit");
      }
      return Value(std::move(out));
    }
    while (limit < 0 || done < limit) {
      size_t p = s.find(from, pos);
      if (p == std::string::npos) break;
      out.append(s, pos, p - pos);
      out += to;
      if (out.size() > limits_.max_string) fail("string exceeds the size limit");
      pos = p + from.size();
      ++done;
    }
    out.append(s, pos, std::string::npos);
    return Value(std::move(out));
  }
  if (name == "find" || name == "rfind" || name == "index") {
    const std::string& x = need_string(arg(a, 0, "sub"), name.c_str());
    size_t p = name == "rfind" ? s.rfind(x) : s.find(x);
    if (p == std::string::npos) {
      if (name == "index") fail("substring not found");
      return Value(-1);
    }
    return Value(static_cast<int64_t>(utf8_chars(s.substr(0, p)).size()));
  }
  if (name == "count") {
    const std::string& x = need_string(arg(a, 0, "sub"), "count");
    if (x.empty()) return Value(static_cast<int64_t>(utf8_chars(s).size() + 1));
    int64_t n = 0;
    for (size_t p = s.find(x); p != std::string::npos; p = s.find(x, p + x.size())) ++n;
    return Value(n);
  }
  if (name == "format") return Value(format(s, a));
  if (name == "join") {
    Value items = arg(a, 0, "iterable");
    if (!items.is_list()) fail("join expects a list");
    std::string out;
    for (size_t i = 0; i < items.list().size(); ++i) {
      out += (i ? s : "") + need_string(items.list()[i], "join item");
      if (out.size() > limits_.max_string) fail("string exceeds the size limit");
    }
    return Value(std::move(out));
  }
  if (name == "splitlines") {
    List out;
    size_t start = 0;
    for (size_t i = 0; i < s.size(); ++i)
      if (s[i] == '\n' || s[i] == '\r') {
        out.emplace_back(s.substr(start, i - start));
        if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
        start = i + 1;
      }
    if (start < s.size()) out.emplace_back(s.substr(start));
    return Value(std::move(out));
  }
  auto all_of = [&](int (*pred)(int)) {
    if (s.empty()) return false;
    for (char c : s)
      if (!pred(static_cast<unsigned char>(c))) return false;
    return true;
  };
  if (name == "isdigit") return Value(all_of(std::isdigit));
  if (name == "isalpha") return Value(all_of(std::isalpha));
  if (name == "isspace") return Value(all_of(std::isspace));
  if (name == "isupper") return Value(s != lower(s) && s == upper(s));
  if (name == "islower") return Value(s != upper(s) && s == lower(s));
  fail("'" + obj.type_name() + "' object has no attribute '" + name + "'");
}

}  // namespace minnow::chat

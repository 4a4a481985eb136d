// JSON Schema -> GBNF (see json_schema.h). Each schema node becomes a rule named after its path;
// shared pieces (strings, numbers, whitespace) are emitted once. Whitespace between tokens is
// bounded (a space, or a newline and up to 20 blanks) and numbers have at most 16 digits per
// part, so that a sampler cannot wander forever inside them.
#include "grammar/json_schema.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <vector>

namespace minnow::grammar {
namespace {

using json = nlohmann::ordered_json;  // properties keep the order the schema gives

// Keywords that only describe: they never constrain the text.
const std::set<std::string> kAnnotations = {"$schema", "$id",      "$comment", "$anchor",   "title",
                                            "description", "default", "examples", "deprecated", "readOnly",
                                            "writeOnly", "$defs", "definitions", "contentMediaType",
                                            "contentEncoding"};

// A GBNF string literal for bytes (UTF-8 kept as it is).
std::string literal(const std::string& bytes) {
  std::string out = "\"";
  for (unsigned char c : bytes) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string rule_safe(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-') ? c : '-';
  return out.empty() ? "x" : out;
}

// The primitive rules, by name.
const std::map<std::string, std::string>& primitives() {
  static const std::map<std::string, std::string> p = {
      {"ws", R"(| " " | "\n" [ \t]{0,20})"},
      {"char", R"([^"\\\x00-\x1F\x7F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4}))"},
      {"string", R"("\"" char* "\"")"},
      {"integer", R"("-"? ("0" | [1-9] [0-9]{0,15}))"},
      {"number", R"("-"? ("0" | [1-9] [0-9]{0,15}) ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,2})?)"},
      {"boolean", R"("true" | "false")"},
      {"null", R"("null")"},
      {"value", R"(object | array | string | number | boolean | null)"},
      {"object", R"("{" ws ( string ws ":" ws value ws ( "," ws string ws ":" ws value ws )* )? "}")"},
      {"array", R"("[" ws ( value ws ( "," ws value ws )* )? "]")"},
      {"hex", R"([0-9a-fA-F])"},
      {"date", R"([0-9]{4} "-" ( "0" [1-9] | "1" [0-2] ) "-" ( "0" [1-9] | [1-2] [0-9] | "3" [0-1] ))"},
      {"time", R"(( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] ":" [0-5] [0-9] ( "." [0-9]{1,6} )? ( "Z" | [+-] ( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] ))"},
      {"date-time", R"(date "T" time)"},
      {"uuid", R"(hex{8} "-" hex{4} "-" hex{4} "-" hex{4} "-" hex{12})"},
      {"email-part", R"([A-Za-z0-9_+-]{1,32})"},
      {"label", R"([A-Za-z0-9] ( [A-Za-z0-9-]{0,20} [A-Za-z0-9] )?)"},
      {"email", R"(email-part ( "." email-part ){0,3} "@" label ( "." label ){1,3})"},
      {"uri", R"([a-z] [a-z0-9+.-]{0,10} "://" label ( "." label ){0,4} ( "/" [A-Za-z0-9._~-]{0,20} ){0,8})"},
  };
  return p;
}

// What each primitive uses.
const std::map<std::string, std::vector<std::string>>& primitive_deps() {
  static const std::map<std::string, std::vector<std::string>> d = {
      {"string", {"char"}},
      {"value", {"object", "array", "string", "number", "boolean", "null"}},
      {"object", {"ws", "string", "value"}},
      {"array", {"ws", "value"}},
      {"date-time", {"date", "time"}},
      {"uuid", {"hex"}},
      {"email", {"email-part", "label"}},
      {"uri", {"label"}},
  };
  return d;
}

// Same-length decimal strings lo <= hi: the GBNF of the numbers between them (digit by digit).
std::string digits_between(const std::string& lo, const std::string& hi) {
  if (lo.empty()) return "";
  if (lo == hi) return literal(lo);
  const char a = lo[0], b = hi[0];
  const std::string rest_lo = lo.substr(1), rest_hi = hi.substr(1);
  const size_t n = rest_lo.size();
  auto any = [n](void) { return n == 0 ? std::string() : strfmt(" [0-9]{%zu}", n); };
  auto cls = [](char x, char y) { return x == y ? literal(std::string(1, x)) : strfmt("[%c-%c]", x, y); };
  if (a == b) return literal(std::string(1, a)) + " (" + digits_between(rest_lo, rest_hi) + ")";
  std::vector<std::string> alts;
  const bool lo_full = rest_lo.find_first_not_of('0') == std::string::npos;
  const bool hi_full = rest_hi.find_first_not_of('9') == std::string::npos;
  const char first_full = lo_full ? a : static_cast<char>(a + 1), last_full = hi_full ? b : static_cast<char>(b - 1);
  if (!lo_full) alts.push_back(literal(std::string(1, a)) + " (" + digits_between(rest_lo, std::string(n, '9')) + ")");
  if (first_full <= last_full) alts.push_back(cls(first_full, last_full) + any());
  if (!hi_full) alts.push_back(literal(std::string(1, b)) + " (" + digits_between(std::string(n, '0'), rest_hi) + ")");
  std::string out;
  for (const std::string& s : alts) out += (out.empty() ? "" : " | ") + s;
  return out;
}

constexpr int64_t kMaxDigits = 16;  // as the integer primitive

// Non-negative integers in [lo, hi] (hi < 0: no upper bound), without leading zeros.
std::string naturals(int64_t lo, int64_t hi) {
  std::vector<std::string> alts;
  int64_t pow = 1;  // 10^(digits-1)
  for (int digits = 1; digits <= kMaxDigits; ++digits, pow *= 10) {
    const int64_t first = digits == 1 ? 0 : pow, last = digits == kMaxDigits ? INT64_MAX : pow * 10 - 1;
    const int64_t a = std::max(lo, first), b = hi < 0 ? last : std::min(hi, last);
    if (a > b) {
      if (hi >= 0 && first > hi) break;
      continue;
    }
    if (hi < 0 && a == first && digits < kMaxDigits) {  // this length and every longer one
      alts.push_back(digits == 1 ? "\"0\" | [1-9] [0-9]{0," + std::to_string(kMaxDigits - 1) + "}"
                                 : "[1-9] [0-9]{" + std::to_string(digits - 1) + "," + std::to_string(kMaxDigits - 1) + "}");
      break;
    }
    if (b == INT64_MAX) {
      alts.push_back(digits_between(std::to_string(a), std::string(static_cast<size_t>(digits), '9')));
      break;
    }
    alts.push_back(digits_between(std::to_string(a), std::to_string(b)));
  }
  std::string out;
  for (const std::string& s : alts) out += (out.empty() ? "" : " | ") + ("(" + s + ")");
  return out;
}

class Converter {
 public:
  Converter(const json& root, std::string root_name) : root_(root), root_name_(std::move(root_name)) {}

  Result<std::string> run() {
    const std::string top = visit(root_, root_name_, "");
    if (!error_.empty()) return Error{error_};
    std::string out;
    if (top != root_name_) out += root_name_ + " ::= " + top + "\n";
    for (const auto& [name, body] : rules_) out += name + " ::= " + body + "\n";
    std::vector<std::string> todo(used_.begin(), used_.end());
    std::set<std::string> done;
    while (!todo.empty()) {
      const std::string p = todo.back();
      todo.pop_back();
      if (!done.insert(p).second) continue;
      out += p + " ::= " + primitives().at(p) + "\n";
      auto d = primitive_deps().find(p);
      if (d != primitive_deps().end()) todo.insert(todo.end(), d->second.begin(), d->second.end());
    }
    return out;
  }

 private:
  void fail(const std::string& path, const std::string& what) {
    if (error_.empty()) error_ = "schema at " + (path.empty() ? std::string("/") : path) + ": " + what;
  }
  std::string use(const std::string& primitive) {
    used_.insert(primitive);
    return primitive;
  }
  // A new rule named after hint (made unique), with the body given; its name.
  std::string add(const std::string& hint, const std::string& body) {
    std::string name = rule_safe(hint);
    for (int i = 2; rules_.count(name) || primitives().count(name); ++i) name = rule_safe(hint) + "-" + std::to_string(i);
    rules_[name] = body;
    return name;
  }

  // Checks that every key of s is one this node handles or an annotation.
  bool only(const json& s, const std::string& path, std::initializer_list<const char*> allowed) {
    for (auto it = s.begin(); it != s.end(); ++it) {
      if (kAnnotations.count(it.key())) continue;
      if (std::none_of(allowed.begin(), allowed.end(), [&](const char* k) { return it.key() == k; })) {
        fail(path, "'" + it.key() + "' is not supported" +
                       (s.contains("type") && s["type"].is_string() ? " for type " + s["type"].get<std::string>() : ""));
        return false;
      }
    }
    return true;
  }

  // The rule for schema s (a rule name).
  std::string visit(const json& s, const std::string& hint, const std::string& path) {
    if (!error_.empty()) return "x";
    if (++depth_ > kMaxDepth) {
      fail(path, strfmt("schemas nested more than %d deep", kMaxDepth));
      return "x";
    }
    const std::string rule = visit_node(s, hint, path);
    --depth_;
    return rule;
  }

  std::string visit_node(const json& s, const std::string& hint, const std::string& path) {
    if (s.is_boolean()) {
      if (!s.get<bool>()) fail(path, "the schema false allows nothing");
      return use("value");
    }
    if (!s.is_object()) {
      fail(path, "a schema must be an object or a boolean");
      return "x";
    }
    if (s.contains("$ref")) return ref(s, path);
    if (s.contains("const")) {
      if (!only(s, path, {"const", "type", "enum"})) return "x";
      return add(hint, literal(s["const"].dump()));
    }
    if (s.contains("enum")) {
      if (!only(s, path, {"enum", "type"})) return "x";
      if (!s["enum"].is_array() || s["enum"].empty()) {
        fail(path + "/enum", "must be a non-empty array");
        return "x";
      }
      std::string body;
      for (const json& v : s["enum"]) body += (body.empty() ? "" : " | ") + literal(v.dump());
      return add(hint, body);
    }
    for (const char* k : {"anyOf", "oneOf"}) {
      if (!s.contains(k)) continue;
      if (!only(s, path, {k})) return "x";
      if (!s[k].is_array() || s[k].empty()) {
        fail(path + "/" + k, "must be a non-empty array");
        return "x";
      }
      const std::string name = add(hint, "");
      std::string body;
      for (size_t i = 0; i < s[k].size(); ++i)
        body += (i ? " | " : "") + visit(s[k][i], hint + "-" + std::to_string(i), path + "/" + k + "/" + std::to_string(i));
      rules_[name] = body;
      return name;
    }
    if (s.contains("allOf")) return all_of(s, hint, path);
    if (!s.contains("type")) {
      if (s.contains("properties") || s.contains("required") || s.contains("additionalProperties")) return object(s, hint, path);
      if (s.contains("items") || s.contains("prefixItems")) return array(s, hint, path);
      if (!only(s, path, {})) return "x";
      return use("value");
    }
    const json& t = s["type"];
    if (t.is_array()) {
      if (t.empty()) {
        fail(path + "/type", "must not be empty");
        return "x";
      }
      const std::string name = add(hint, "");
      std::string body;
      for (size_t i = 0; i < t.size(); ++i) {
        json one = s;
        one["type"] = t[i];
        body += (i ? " | " : "") + visit(one, hint + "-" + (t[i].is_string() ? t[i].get<std::string>() : "t"), path);
      }
      rules_[name] = body;
      return name;
    }
    if (!t.is_string()) {
      fail(path + "/type", "must be a string or an array of strings");
      return "x";
    }
    const std::string type = t.get<std::string>();
    if (type == "object") return object(s, hint, path);
    if (type == "array") return array(s, hint, path);
    if (type == "string") return string(s, hint, path);
    if (type == "integer") return integer(s, hint, path);
    if (type == "number") {
      if (!only(s, path, {"type", "minimum"})) return "x";
      if (s.contains("minimum")) {
        if (!s["minimum"].is_number() || s["minimum"].get<double>() != 0) {
          fail(path, "'minimum' on a number is supported only as 0 (use type integer for other bounds)");
          return "x";
        }
        return add(hint, R"(("0" | [1-9] [0-9]{0,15}) ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,2})?)");
      }
      return use("number");
    }
    if (type == "boolean" || type == "null") {
      if (!only(s, path, {"type"})) return "x";
      return use(type);
    }
    fail(path + "/type", "unknown type '" + type + "'");
    return "x";
  }

  std::string ref(const json& s, const std::string& path) {
    if (!only(s, path, {"$ref"})) return "x";
    if (!s["$ref"].is_string()) {
      fail(path + "/$ref", "must be a string");
      return "x";
    }
    const std::string r = s["$ref"].get<std::string>();
    auto it = refs_.find(r);
    if (it != refs_.end()) return it->second;
    if (r == "#") return root_name_;
    if (r.rfind("#/", 0) != 0) {
      fail(path + "/$ref", "'" + r + "': only references into this schema (#/$defs/...) are supported");
      return "x";
    }
    json::json_pointer ptr;
    try {
      ptr = json::json_pointer(r.substr(1));
    } catch (const json::exception&) {
      fail(path + "/$ref", "'" + r + "' is not a JSON pointer");
      return "x";
    }
    if (!root_.contains(ptr)) {
      fail(path + "/$ref", "'" + r + "' points to nothing");
      return "x";
    }
    const std::string name = add("ref-" + r.substr(r.rfind('/') + 1), "");
    refs_[r] = name;  // before visiting: a recursive schema refers to itself
    const std::string body = visit(root_.at(ptr), name + "-v", r.substr(1));
    rules_[name] = body;
    return name;
  }

  std::string all_of(const json& s, const std::string& hint, const std::string& path) {
    if (!only(s, path, {"allOf"}) || !s["allOf"].is_array() || s["allOf"].empty()) {
      if (error_.empty()) fail(path + "/allOf", "must be a non-empty array");
      return "x";
    }
    if (s["allOf"].size() == 1) return visit(s["allOf"][0], hint, path + "/allOf/0");
    json merged = {{"type", "object"}, {"properties", json::object()}, {"required", json::array()}};
    for (size_t i = 0; i < s["allOf"].size(); ++i) {
      json part = s["allOf"][i];
      const std::string p = path + "/allOf/" + std::to_string(i);
      for (int depth = 0; part.is_object() && part.contains("$ref") && depth < 32; ++depth) {
        const std::string r = part["$ref"].is_string() ? part["$ref"].get<std::string>() : "";
        if (r.rfind("#/", 0) != 0 || !root_.contains(json::json_pointer(r.substr(1)))) break;
        part = root_.at(json::json_pointer(r.substr(1)));
      }
      const bool is_object = part.is_object() && (part.value("type", json("object")) == "object") &&
                             !part.contains("anyOf") && !part.contains("oneOf") && !part.contains("allOf") &&
                             !part.contains("$ref");
      if (!is_object) {
        fail(p, "allOf is supported for object schemas only");
        return "x";
      }
      if (!only(part, p, {"type", "properties", "required", "additionalProperties"})) return "x";
      if (part.contains("properties")) merged["properties"].update(part["properties"]);
      if (part.contains("required")) merged["required"].insert(merged["required"].end(), part["required"].begin(), part["required"].end());
      if (part.contains("additionalProperties")) merged["additionalProperties"] = part["additionalProperties"];
    }
    return object(merged, hint, path);
  }

  std::string object(const json& s, const std::string& hint, const std::string& path) {
    if (!only(s, path, {"type", "properties", "required", "additionalProperties"})) return "x";
    const json props = s.value("properties", json::object());
    if (!props.is_object()) {
      fail(path + "/properties", "must be an object");
      return "x";
    }
    std::set<std::string> required;
    if (s.contains("required")) {
      if (!s["required"].is_array()) {
        fail(path + "/required", "must be an array of names");
        return "x";
      }
      for (const json& r : s["required"]) {
        if (!r.is_string()) {
          fail(path + "/required", "must be an array of names");
          return "x";
        }
        required.insert(r.get<std::string>());
      }
    }
    const json extra = s.value("additionalProperties", json(false));
    for (const std::string& r : required) {
      if (!props.contains(r) && extra == json(false)) {
        fail(path + "/required", "'" + r + "' is required but not among the properties, and no other property is allowed");
        return "x";
      }
    }
    const std::string name = add(hint, "");
    // kv[i]: "key" ws ":" ws value; rest rules give every in-order subset holding the required.
    std::vector<std::string> kv;
    std::vector<bool> optional;
    for (auto it = props.begin(); it != props.end(); ++it) {
      const std::string v = visit(it.value(), name + "-" + it.key(), path + "/properties/" + it.key());
      kv.push_back(literal(json(it.key()).dump()) + " ws \":\" ws " + v);
      optional.push_back(!required.count(it.key()));
    }
    for (const std::string& r : required) {
      if (!props.contains(r)) {  // allowed through additionalProperties: a required extra key
        kv.push_back(literal(json(r).dump()) + " ws \":\" ws " + use("value"));
        optional.push_back(false);
      }
    }
    use("ws");
    // first[i]: the properties from i on when none came before; after[i]: the same after one
    // came (each led by a comma); extra keys (additionalProperties) may follow the declared ones.
    const size_t n = kv.size();
    std::vector<std::string> first(n + 1), after(n + 1);
    if (extra != json(false)) {
      const std::string v = extra == json(true) ? use("value") : visit(extra, name + "-extra", path + "/additionalProperties");
      const std::string pair = use("string") + " ws \":\" ws " + v + " ws";
      after[n] = add(name + "-more", "( \",\" ws " + pair + " )*");
      first[n] = add(name + "-extra-first", "( " + pair + " " + after[n] + " )?");
    }
    for (size_t i = n; i-- > 0;) {
      const std::string a = after[i + 1].empty() ? "" : " " + after[i + 1];
      if (i > 0)  // after[0] is never used
        after[i] = add(name + "-a" + std::to_string(i), "\",\" ws " + kv[i] + " ws" + a + (optional[i] ? (after[i + 1].empty() ? " |" : " | " + after[i + 1]) : ""));
      const std::string f = first[i + 1].empty() ? "" : first[i + 1];
      first[i] = add(name + "-f" + std::to_string(i), kv[i] + " ws" + a + (optional[i] ? (f.empty() ? " |" : " | " + f) : ""));
    }
    rules_[name] = "\"{\" ws " + (first[0].empty() ? std::string() : first[0] + " ") + "\"}\"";
    return name;
  }

  std::string array(const json& s, const std::string& hint, const std::string& path) {
    if (!only(s, path, {"type", "items", "prefixItems", "minItems", "maxItems", "uniqueItems"})) return "x";
    if (s.contains("uniqueItems") && s["uniqueItems"] != json(false)) {
      fail(path, "'uniqueItems' is not supported");
      return "x";
    }
    int64_t lo = 0, hi = -1;
    if (!count(s, "minItems", path, &lo) || !count(s, "maxItems", path, &hi)) return "x";
    if (hi >= 0 && hi < lo) {
      fail(path, strfmt("maxItems %lld is below minItems %lld: nothing satisfies it", static_cast<long long>(hi),
                        static_cast<long long>(lo)));
      return "x";
    }
    const std::string name = add(hint, "");
    use("ws");
    std::vector<std::string> items;  // the leading fixed items (prefixItems)
    if (s.contains("prefixItems")) {
      if (!s["prefixItems"].is_array()) {
        fail(path + "/prefixItems", "must be an array of schemas");
        return "x";
      }
      for (size_t i = 0; i < s["prefixItems"].size(); ++i)
        items.push_back(visit(s["prefixItems"][i], name + "-" + std::to_string(i), path + "/prefixItems/" + std::to_string(i)));
    }
    const json item_schema = s.value("items", json(true));
    const bool more = item_schema != json(false);
    const std::string item = more ? visit(item_schema, name + "-item", path + "/items") : "";
    const auto n_fixed = static_cast<int64_t>(items.size());
    if (hi >= 0 && n_fixed > hi) {
      fail(path, "prefixItems has more schemas than maxItems allows");
      return "x";
    }
    if (!more && lo > n_fixed) {
      fail(path, "minItems is more than the prefixItems, and items is false");
      return "x";
    }
    // The first max(lo, n_fixed) items are required, the rest optional up to hi.
    std::string body = "\"[\" ws";
    const int64_t required = std::max(lo, n_fixed);
    int64_t total_hi = more ? hi : n_fixed;
    if (total_hi >= 0) total_hi = std::max(total_hi, required);
    auto nth = [&](int64_t i) { return i < n_fixed ? items[static_cast<size_t>(i)] : item; };
    std::string tail;  // optional items, nested from the last
    if (total_hi < 0) {
      tail = add(name + "-rest", "( \",\" ws " + item + " ws )*");
    } else {
      for (int64_t i = total_hi - 1; i >= required; --i) {
        const std::string lead = i == 0 ? "" : "\",\" ws ";
        tail = add(name + "-o" + std::to_string(i), lead + nth(i) + " ws" + (tail.empty() ? "" : " " + tail) + " |");
      }
    }
    for (int64_t i = 0; i < required; ++i) body += std::string(i ? " \",\" ws " : " ") + nth(i) + " ws";
    if (required == 0 && total_hi < 0) {
      body += " ( " + item + " ws " + tail + " )?";
    } else if (!tail.empty()) {
      body += " " + tail;
    }
    rules_[name] = body + " \"]\"";
    return name;
  }

  bool count(const json& s, const char* key, const std::string& path, int64_t* out) {
    if (!s.contains(key)) return true;
    const json& v = s[key];
    if (!v.is_number_integer() && !(v.is_number_float() && v.get<double>() == static_cast<double>(static_cast<int64_t>(v.get<double>())))) {
      fail(path + "/" + key, "must be a whole number");
      return false;
    }
    const auto n = static_cast<int64_t>(v.get<double>());
    if (n < 0 || n > 4096) {
      fail(path + "/" + key, "must be between 0 and 4096");
      return false;
    }
    *out = n;
    return true;
  }

  std::string string(const json& s, const std::string& hint, const std::string& path) {
    if (!only(s, path, {"type", "minLength", "maxLength", "format", "pattern"})) return "x";
    if (s.contains("format")) {
      if (!only(s, path, {"type", "format"})) return "x";
      const std::string f = s["format"].is_string() ? s["format"].get<std::string>() : "";
      if (f != "date" && f != "time" && f != "date-time" && f != "uuid" && f != "email" && f != "uri") {
        fail(path + "/format", "'" + f + "' is not supported (date, time, date-time, uuid, email, uri are)");
        return "x";
      }
      return add(hint, "\"\\\"\" " + use(f) + " \"\\\"\"");
    }
    if (s.contains("pattern")) {
      if (!only(s, path, {"type", "pattern"})) return "x";
      if (!s["pattern"].is_string()) {
        fail(path + "/pattern", "must be a string");
        return "x";
      }
      return pattern(s["pattern"].get<std::string>(), hint, path + "/pattern");
    }
    int64_t lo = 0, hi = -1;
    if (!count(s, "minLength", path, &lo) || !count(s, "maxLength", path, &hi)) return "x";
    if (hi >= 0 && hi < lo) {
      fail(path, strfmt("maxLength %lld is below minLength %lld: nothing satisfies it", static_cast<long long>(hi),
                        static_cast<long long>(lo)));
      return "x";
    }
    if (lo == 0 && hi < 0) return use("string");
    use("char");
    return add(hint, "\"\\\"\" char{" + std::to_string(lo) + "," + (hi < 0 ? "" : std::to_string(hi)) + "} \"\\\"\"");
  }

  std::string integer(const json& s, const std::string& hint, const std::string& path) {
    if (!only(s, path, {"type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})) return "x";
    constexpr int64_t kLimit = 999999999999999;  // 15 digits: inside the primitive's 16
    int64_t lo = -kLimit, hi = kLimit;
    bool bounded = false;
    for (const char* k : {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}) {
      if (!s.contains(k)) continue;
      if (!s[k].is_number()) {
        fail(path + "/" + k, "must be a number");
        return "x";
      }
      const double v = s[k].get<double>();
      if (v < -1e15 || v > 1e15) {
        fail(path + "/" + k, "is beyond the supported range (+-1e15)");
        return "x";
      }
      bounded = true;
      const std::string key = k;
      if (key == "minimum") lo = std::max(lo, static_cast<int64_t>(std::ceil(v)));
      if (key == "exclusiveMinimum") lo = std::max(lo, static_cast<int64_t>(std::floor(v)) + 1);
      if (key == "maximum") hi = std::min(hi, static_cast<int64_t>(std::floor(v)));
      if (key == "exclusiveMaximum") hi = std::min(hi, static_cast<int64_t>(std::ceil(v)) - 1);
    }
    if (!bounded) return use("integer");
    if (lo > hi) {
      fail(path, "no integer lies between the minimum and the maximum");
      return "x";
    }
    // Unbounded ends (the limits) stay open: naturals' hi < 0.
    std::vector<std::string> alts;
    if (lo < 0) {  // -max(1, -hi) .. -lo: "-" and the naturals between
      const int64_t a = std::max<int64_t>(1, -std::min<int64_t>(hi, -1)), b = lo == -kLimit ? -1 : -lo;
      alts.push_back("\"-\" (" + naturals(a, b) + ")");
    }
    if (hi >= 0) alts.push_back("(" + naturals(std::max<int64_t>(lo, 0), hi == kLimit ? -1 : hi) + ")");
    std::string body;
    for (const std::string& a : alts) body += (body.empty() ? "" : " | ") + a;
    return add(hint, body);
  }

  // A regular expression (anchored either way: matching the whole string is one way of
  // containing a match) as the JSON string's contents.
  std::string pattern(const std::string& re, const std::string& hint, const std::string& path) {
    size_t pos = 0;
    std::string r = re;
    if (!r.empty() && r[0] == '^') r.erase(0, 1);
    if (!r.empty() && r.back() == '$' && (r.size() < 2 || r[r.size() - 2] != '\\')) r.pop_back();
    std::string err;
    const std::string body = regex_alternatives(r, &pos, 0, &err);
    if (err.empty() && pos != r.size()) err = "unexpected ')'";
    if (!err.empty()) {
      fail(path, "'" + re + "': " + err);
      return "x";
    }
    return add(hint, "\"\\\"\" (" + body + ") \"\\\"\"");
  }

  // A code point of the string as it appears inside a JSON string literal.
  static std::string json_char(uint32_t c) {
    if (c == '"') return "\"\\\\\\\"\"";  // \"
    if (c == '\\') return "\"\\\\\\\\\"";  // \\ (two backslashes)
    if (c < 0x20) return strfmt("\"\\\\u%04X\"", c);
    std::string utf8;
    if (c < 0x80) utf8 += static_cast<char>(c);
    else if (c < 0x800) utf8 += static_cast<char>(0xC0 | c >> 6), utf8 += static_cast<char>(0x80 | (c & 0x3F));
    else if (c < 0x10000)
      utf8 += static_cast<char>(0xE0 | c >> 12), utf8 += static_cast<char>(0x80 | (c >> 6 & 0x3F)),
          utf8 += static_cast<char>(0x80 | (c & 0x3F));
    else
      utf8 += static_cast<char>(0xF0 | c >> 18), utf8 += static_cast<char>(0x80 | (c >> 12 & 0x3F)),
          utf8 += static_cast<char>(0x80 | (c >> 6 & 0x3F)), utf8 += static_cast<char>(0x80 | (c & 0x3F));
    return literal(utf8);
  }

  // A class body for GBNF [...] from ranges, leaving out what a JSON string must escape.
  static std::string class_of(const std::vector<std::pair<uint32_t, uint32_t>>& ranges, bool negated) {
    std::string out = negated ? "[^\"\\\\\\x00-\\x1F" : "[";
    for (auto [a, b] : ranges) {
      auto esc = [](uint32_t c) {
        if (c == ']' || c == '[' || c == '\\' || c == '-' || c == '^' || c == '"') return std::string("\\") + static_cast<char>(c);
        if (c < 0x20 || c >= 0x7F) return strfmt("\\U%08X", c);
        return std::string(1, static_cast<char>(c));
      };
      if (!negated) {  // positive classes lose '"', '\' and controls: never raw in JSON
        if (a <= 0x1F) a = 0x20;
        if (a > b) continue;
        if ((a <= '"' && '"' <= b) || (a <= '\\' && '\\' <= b)) {
          // split around the two characters
          std::vector<std::pair<uint32_t, uint32_t>> parts;
          uint32_t start = a;
          for (uint32_t x : {uint32_t{'"'}, uint32_t{'\\'}}) {
            if (x >= start && x <= b) {
              if (x > start) parts.push_back({start, x - 1});
              start = x + 1;
            }
          }
          if (start <= b) parts.push_back({start, b});
          for (auto [p, q] : parts) out += esc(p) + (p == q ? "" : "-" + esc(q));
          continue;
        }
      }
      out += esc(a) + (a == b ? "" : "-" + esc(b));
    }
    return out + "]";
  }

  std::string regex_alternatives(const std::string& r, size_t* pos, int depth, std::string* err) {
    if (depth > 50) {
      *err = "groups nested too deeply";
      return "";
    }
    std::string out = regex_sequence(r, pos, depth, err);
    while (err->empty() && *pos < r.size() && r[*pos] == '|') {
      ++*pos;
      out += " | " + regex_sequence(r, pos, depth, err);
    }
    return out;
  }

  std::string regex_sequence(const std::string& r, size_t* pos, int depth, std::string* err) {
    std::string out;
    while (err->empty() && *pos < r.size() && r[*pos] != '|' && r[*pos] != ')') {
      std::string atom = regex_atom(r, pos, depth, err);
      if (!err->empty()) return "";
      // Quantifiers (a lazy or possessive mark after one changes nothing here).
      while (*pos < r.size() && (r[*pos] == '*' || r[*pos] == '+' || r[*pos] == '?' || r[*pos] == '{')) {
        const char q = r[*pos];
        if (q == '{') {
          const size_t close = r.find('}', *pos);
          if (close == std::string::npos) {
            *err = "unterminated {";
            return "";
          }
          std::string inner = r.substr(*pos + 1, close - *pos - 1);
          if (inner.empty() || inner.find_first_not_of("0123456789,") != std::string::npos) {
            *err = "bad repetition {" + inner + "}";
            return "";
          }
          atom = "(" + atom + "){" + inner + "}";
          *pos = close + 1;
        } else {
          atom = "(" + atom + ")" + std::string(1, q);
          ++*pos;
        }
        if (*pos < r.size() && (r[*pos] == '?' || r[*pos] == '+')) ++*pos;
      }
      out += (out.empty() ? "" : " ") + atom;
    }
    return out.empty() ? "\"\"" : out;
  }

  static bool decode_utf8(const std::string& r, size_t* pos, uint32_t* c) {
    const auto b = static_cast<unsigned char>(r[*pos]);
    const int len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (len == 0 || *pos + len > r.size()) return false;
    *c = len == 1 ? b : b & (0x7F >> len);
    for (int i = 1; i < len; ++i) *c = *c << 6 | (static_cast<unsigned char>(r[*pos + i]) & 0x3F);
    *pos += len;
    return true;
  }

  // \d \w \s and their negations as ranges (ASCII, as JSON Schema's ECMA-262 regexes mostly mean).
  static bool shorthand(char e, std::vector<std::pair<uint32_t, uint32_t>>* ranges, bool* negated) {
    *negated = e == 'D' || e == 'W' || e == 'S';
    switch (e) {
      case 'd': case 'D': *ranges = {{'0', '9'}}; return true;
      case 'w': case 'W': *ranges = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}}; return true;
      case 's': case 'S': *ranges = {{' ', ' '}, {'\t', '\r'}}; return true;
      default: return false;
    }
  }

  static uint32_t escaped_char(char e) {
    switch (e) {
      case 'n': return '\n';
      case 't': return '\t';
      case 'r': return '\r';
      case 'f': return '\f';
      case 'v': return '\v';
      default: return static_cast<unsigned char>(e);
    }
  }

  std::string regex_atom(const std::string& r, size_t* pos, int depth, std::string* err) {
    const char c = r[*pos];
    if (c == '(') {
      ++*pos;
      if (r.compare(*pos, 2, "?:") == 0) *pos += 2;
      else if (*pos < r.size() && r[*pos] == '?') {
        *err = "lookarounds and named groups are not supported";
        return "";
      }
      std::string inner = regex_alternatives(r, pos, depth + 1, err);
      if (err->empty() && (*pos >= r.size() || r[*pos] != ')')) *err = "missing )";
      ++*pos;
      return "(" + inner + ")";
    }
    if (c == '.') {
      ++*pos;
      use("char");
      return "char";  // any character, escaped as JSON needs
    }
    if (c == '[') {
      ++*pos;
      bool negated = false;
      if (*pos < r.size() && r[*pos] == '^') negated = true, ++*pos;
      std::vector<std::pair<uint32_t, uint32_t>> ranges;
      bool first = true;
      while (*pos < r.size() && (r[*pos] != ']' || first)) {
        first = false;
        uint32_t a = 0;
        if (r[*pos] == '\\' && *pos + 1 < r.size()) {
          std::vector<std::pair<uint32_t, uint32_t>> sh;
          bool sh_neg = false;
          if (shorthand(r[*pos + 1], &sh, &sh_neg)) {
            if (sh_neg) {
              *err = "negated shorthands inside a class are not supported";
              return "";
            }
            ranges.insert(ranges.end(), sh.begin(), sh.end());
            *pos += 2;
            continue;
          }
          a = escaped_char(r[*pos + 1]);
          *pos += 2;
        } else if (!decode_utf8(r, pos, &a)) {
          *err = "invalid UTF-8";
          return "";
        }
        uint32_t b = a;
        if (*pos + 1 < r.size() && r[*pos] == '-' && r[*pos + 1] != ']') {
          ++*pos;
          if (r[*pos] == '\\' && *pos + 1 < r.size()) {
            b = escaped_char(r[*pos + 1]);
            *pos += 2;
          } else if (!decode_utf8(r, pos, &b)) {
            *err = "invalid UTF-8";
            return "";
          }
          if (b < a) {
            *err = "a class range is backwards";
            return "";
          }
        }
        ranges.push_back({a, b});
      }
      if (*pos >= r.size()) {
        *err = "unterminated [";
        return "";
      }
      ++*pos;
      return class_of(ranges, negated);
    }
    if (c == '\\') {
      if (*pos + 1 >= r.size()) {
        *err = "a trailing backslash";
        return "";
      }
      const char e = r[*pos + 1];
      *pos += 2;
      std::vector<std::pair<uint32_t, uint32_t>> sh;
      bool neg = false;
      if (shorthand(e, &sh, &neg)) return class_of(sh, neg);
      if (e == 'u' && *pos + 4 <= r.size() &&
          r.substr(*pos, 4).find_first_not_of("0123456789abcdefABCDEF") == std::string::npos) {
        const uint32_t cp = static_cast<uint32_t>(std::stoul(r.substr(*pos, 4), nullptr, 16));
        *pos += 4;
        return json_char(cp);
      }
      if (std::isalnum(static_cast<unsigned char>(e)) && std::string("ntrfv").find(e) == std::string::npos) {
        *err = std::string("the escape \\") + e + " is not supported";
        return "";
      }
      return json_char(escaped_char(e));
    }
    if (c == '^' || c == '$') {
      *err = "anchors are supported only at the start and end";
      return "";
    }
    if (c == '*' || c == '+' || c == '?' || c == '{') {
      *err = std::string("nothing to repeat before '") + c + "'";
      return "";
    }
    uint32_t cp = 0;
    if (!decode_utf8(r, pos, &cp)) {
      *err = "invalid UTF-8";
      return "";
    }
    return json_char(cp);
  }

  static constexpr int kMaxDepth = 64;
  const json& root_;
  const std::string root_name_;
  int depth_ = 0;
  std::string error_;
  std::map<std::string, std::string> rules_;
  std::map<std::string, std::string> refs_;
  std::set<std::string> used_;
};

}  // namespace

Result<std::string> schema_to_gbnf(const nlohmann::ordered_json& schema, const std::string& root_name) {
  return Converter(schema, root_name).run();
}

std::string json_gbnf(bool object_only) {
  std::string out = object_only ? "root ::= object\n" : "root ::= value\n";
  for (const char* p : {"value", "object", "array", "string", "char", "number", "boolean", "null", "ws"})
    out += std::string(p) + " ::= " + primitives().at(p) + "\n";
  return out;
}

}  // namespace minnow::grammar

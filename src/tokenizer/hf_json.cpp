// See hf_json.h.
#include "tokenizer/hf_json.h"

#include <limits>

namespace minnow::tok {
namespace {

Status check_depth(std::string_view text, const char* what) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return make_error("%s: nested deeper than %d levels", what, kMaxJsonDepth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return {};
}

}  // namespace

Result<Json> parse_json(std::string_view text, const char* what) {
  MINNOW_CHECK_OK(check_depth(text, what));
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::exception& e) {
    // "[json.exception.parse_error.101] parse error at line 1, ..." -> from "parse error".
    std::string_view msg = e.what();
    if (size_t p = msg.find("] "); p != std::string_view::npos) msg.remove_prefix(p + 2);
    return make_error("%s: %s", what, std::string(msg).c_str());
  }
}

const Json* member(const Json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

const std::string* string_member(const Json& obj, const char* key) {
  const Json* v = member(obj, key);
  return v && v->is_string() ? &v->get_ref<const std::string&>() : nullptr;
}

bool bool_member(const Json& obj, const char* key, bool def) {
  const Json* v = member(obj, key);
  return v && v->is_boolean() ? v->get<bool>() : def;
}

std::optional<int64_t> as_int(const Json& v) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    return u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ? -1 : static_cast<int64_t>(u);
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  return std::nullopt;
}

std::string clip(std::string_view s) {
  if (s.size() <= 80) return std::string(s);
  size_t n = 80;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n)) + "...";
}

}  // namespace minnow::tok

// UTF-8 scanning and Utf8Stream, the piece streamer that never emits a partial or invalid
// sequence. Invalid input is replaced per maximal subpart, as WHATWG and Python do.
#include "tokenizer/utf8.h"

#include <cstdint>

#include "tokenizer/tokenizer.h"

namespace minnow::utf8 {

ScanResult scan(std::string_view s) {
  const auto b0 = static_cast<uint8_t>(s[0]);
  if (b0 < 0x80) return {Scan::kValid, 1};
  size_t need = 0;
  uint8_t lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3;
    if (b0 == 0xE0) lo = 0xA0;  // below: overlong
    if (b0 == 0xED) hi = 0x9F;  // above: surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4;
    if (b0 == 0xF0) lo = 0x90;  // below: overlong
    if (b0 == 0xF4) hi = 0x8F;  // above: beyond U+10FFFF
  } else {
    return {Scan::kInvalid, 1};  // a continuation byte, C0/C1 (overlong) or F5..FF
  }
  for (size_t i = 1; i < need; ++i) {
    if (i >= s.size()) return {Scan::kIncomplete, s.size()};
    const auto b = static_cast<uint8_t>(s[i]);
    const uint8_t l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
    if (b < l || b > h) return {Scan::kInvalid, i};
  }
  return {Scan::kValid, need};
}

}  // namespace minnow::utf8

namespace minnow {

std::string Utf8Stream::push(std::string_view bytes) {
  pending_.append(bytes);
  std::string out;
  size_t pos = 0;
  while (pos < pending_.size()) {
    const auto r = utf8::scan(std::string_view(pending_).substr(pos));
    if (r.status == utf8::Scan::kIncomplete) break;  // at most 3 bytes wait for the rest
    if (r.status == utf8::Scan::kValid) {
      out.append(pending_, pos, r.len);
    } else {
      out += utf8::kReplacement;
    }
    pos += r.len;
  }
  pending_.erase(0, pos);
  return out;
}

std::string Utf8Stream::flush() {
  std::string out = push({});
  if (!pending_.empty()) out += utf8::kReplacement;  // a truncated sequence is one maximal subpart
  pending_.clear();
  return out;
}

}  // namespace minnow

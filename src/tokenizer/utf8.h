// UTF-8 classification shared by the tokenizers and Utf8Stream: where a sequence ends, whether
// it is well formed (Unicode Table 3-7: no overlongs, no surrogates, nothing above U+10FFFF).
#pragma once

#include <cstddef>
#include <string_view>

namespace minnow::utf8 {

enum class Scan { kValid, kInvalid, kIncomplete };

struct ScanResult {
  Scan status;
  // kValid: the sequence's length (1..4). kInvalid: the maximal ill-formed subpart (1..3), the
  // bytes one U+FFFD replaces. kIncomplete: all of s (a well-formed prefix that ran out).
  size_t len;
};

// Classifies the sequence that starts at s[0]; s must not be empty.
ScanResult scan(std::string_view s);

inline constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace minnow::utf8

// The Unicode properties BERT's normalizer and pre-tokenizer ask about, from generated tables
// (wpm_unicode.cpp, made by scripts/gen_wpm_unicode.py). Only what WordPiece needs: not a
// general Unicode library, no full normalization forms.
#pragma once

#include <cstddef>
#include <cstdint>

namespace minnow::tok::wpm_unicode {

enum class CharClass : uint8_t {
  kOther = 0,
  kControl = 1,         // Cc, Cf, Co except \t \n \r: BERT's clean_text drops them
  kPunctuation = 2,     // P*: split off as words of their own
  kNonspacingMark = 3,  // Mn: the accents strip_accents removes
};

CharClass char_class(char32_t c);

// Unicode's White_Space property (Rust's char::is_whitespace, which Hugging Face uses).
inline bool is_whitespace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

// The CJK ideograph blocks BERT surrounds with spaces (its tokenization.py _is_chinese_char).
inline bool is_cjk_ideograph(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// The canonical decomposition (NFD) of c with nonspacing marks removed, written to out; returns
// how many code points that is (0 for a mark itself, 1 = c for most).
inline constexpr size_t kMaxStripped = 3;
size_t strip_accents(char32_t c, char32_t out[kMaxStripped]);

// Simple (one code point) lowercase mapping; c itself when it has none.
char32_t to_lower(char32_t c);

}  // namespace minnow::tok::wpm_unicode

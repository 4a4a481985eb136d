// WordPiece after Hugging Face tokenizers' BertNormalizer + BertPreTokenizer + WordPiece model
// (and llama.cpp's WPM tokenizer, which follows the same steps). Text the Tokenizer hands over
// never contains special tokens; invalid UTF-8 is dropped like the U+FFFD it would decode to.
#include "tokenizer/wpm.h"

#include <algorithm>

#include "tokenizer/utf8.h"
#include "tokenizer/wpm_unicode.h"

namespace minnow::tok {
namespace {

namespace wu = wpm_unicode;

constexpr std::string_view kWordStart = "\xE2\x96\x81";  // U+2581, llama.cpp's "not ##" marker
// Hugging Face's WordPiece max_input_chars_per_word default: longer words become [UNK] whole.
constexpr size_t kMaxInputCharsPerWord = 100;

char32_t decode_utf8(std::string_view s) {  // s is one well-formed sequence
  const auto b = [&](size_t i) { return static_cast<char32_t>(static_cast<unsigned char>(s[i])); };
  switch (s.size()) {
    case 1:
      return b(0);
    case 2:
      return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
    case 3:
      return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
    default:
      return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
  }
}

void append_utf8(char32_t c, std::string& out) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

// Rust's char::is_ascii_punctuation, which BERT splits on besides Unicode's P* ("$", "+", "<",
// "=", ">", "^", "`", "|", "~" are symbols to Unicode).
bool is_ascii_punctuation(char32_t c) {
  return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
         (c >= 0x7B && c <= 0x7E);
}

// BertNormalizer, in its order: clean_text (drop NUL, U+FFFD and controls; whitespace becomes
// a space), handle_chinese_chars (spaces around CJK ideographs), then, for uncased vocabularies,
// strip_accents (NFD, drop nonspacing marks) and lowercase.
void normalize(char32_t c, bool uncased, std::vector<char32_t>& out) {
  if (c == 0 || c == 0xFFFD) return;
  // \t \n \r are not kControl; the other C0/C1 controls are dropped even where they count as
  // White_Space (\v, \f, U+0085), as Hugging Face tests control first.
  if (wu::char_class(c) == wu::CharClass::kControl) return;
  if (wu::is_whitespace(c)) {
    out.push_back(' ');
    return;
  }
  const bool cjk = wu::is_cjk_ideograph(c);
  if (cjk) out.push_back(' ');
  if (uncased) {
    char32_t parts[wu::kMaxStripped];
    const size_t n = wu::strip_accents(c, parts);
    for (size_t i = 0; i < n; ++i) out.push_back(wu::to_lower(parts[i]));
  } else {
    out.push_back(c);
  }
  if (cjk) out.push_back(' ');
}

}  // namespace

void apply_wpm_defaults(VocabSpec& spec) {
  auto find = [&](std::string_view text) -> int64_t {
    auto it = std::find(spec.tokens.begin(), spec.tokens.end(), text);
    return it == spec.tokens.end() ? -1 : it - spec.tokens.begin();
  };
  if (!spec.bos_id) spec.bos_id = find("[CLS]");
  if (!spec.eos_id) spec.eos_id = find("[SEP]");
  if (!spec.unk_id) spec.unk_id = find("[UNK]");
  if (!spec.pad_id) spec.pad_id = find("[PAD]");
  if (!spec.add_bos) spec.add_bos = true;
  if (!spec.add_eos) spec.add_eos = true;
}

WpmModel::WpmModel(const Vocab& vocab) : vocab_(vocab) {
  for (const auto& [text, id] : vocab_.piece_to_id) {
    const bool prefixed = text.substr(0, kWordStart.size()) == kWordStart;
    max_piece_ = std::max(max_piece_, text.size() - (prefixed ? kWordStart.size() : 0));
    // Bracketed names ([CLS], [unused0]) are upper case in uncased vocabularies too.
    if (vocab_.type(id) != TokenType::kNormal ||
        (text.size() >= 2 && text.front() == '[' && text.back() == ']'))
      continue;
    if (std::any_of(text.begin(), text.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) uncased_ = false;
  }
}

void WpmModel::encode(std::string_view text, bool /*at_start*/, std::vector<int32_t>& out) const {
  std::vector<char32_t> norm;
  norm.reserve(text.size() + 2);
  for (size_t i = 0; i < text.size();) {
    const utf8::ScanResult r = utf8::scan(text.substr(i));
    if (r.status == utf8::Scan::kValid) normalize(decode_utf8(text.substr(i, r.len)), uncased_, norm);
    i += r.len;
  }

  // BertPreTokenizer: split at whitespace (removed) and around punctuation (kept, one word each).
  std::string word, key;
  size_t n_chars = 0;
  auto flush = [&] {
    if (!word.empty()) encode_word(word, n_chars, key, out);
    word.clear();
    n_chars = 0;
  };
  for (char32_t c : norm) {
    if (wu::is_whitespace(c)) {
      flush();
    } else if (is_ascii_punctuation(c) || wu::char_class(c) == wu::CharClass::kPunctuation) {
      flush();
      append_utf8(c, word);
      n_chars = 1;
      flush();
    } else {
      append_utf8(c, word);
      ++n_chars;
    }
  }
  flush();
}

void WpmModel::encode_word(std::string_view word, size_t n_chars, std::string& key,
                           std::vector<int32_t>& out) const {
  const size_t first = out.size();
  if (n_chars <= kMaxInputCharsPerWord) {
    for (size_t start = 0; start < word.size();) {
      // Longest piece first; ends only at character boundaries.
      int32_t id = -1;
      size_t end = std::min(word.size(), start + max_piece_);
      for (; end > start; --end) {
        if (end < word.size() && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80) continue;
        key.assign(start == 0 ? kWordStart : std::string_view());
        key.append(word.substr(start, end - start));
        if (auto it = vocab_.piece_to_id.find(key); it != vocab_.piece_to_id.end()) {
          id = it->second;
          break;
        }
      }
      if (id < 0) break;
      out.push_back(id);
      start = end;
      if (start == word.size()) return;
    }
  }
  out.resize(first);  // some part matched nothing: the whole word is unknown
  if (vocab_.unk >= 0) out.push_back(vocab_.unk);
}

void WpmModel::append_piece(int32_t id, std::string& out) const {
  std::string_view text = vocab_.tokens[static_cast<size_t>(id)];
  if (text.substr(0, kWordStart.size()) == kWordStart) {
    out += ' ';
    text.remove_prefix(kWordStart.size());
  }
  out += text;
}

}  // namespace minnow::tok

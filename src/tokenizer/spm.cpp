// SPM encoding: a doubly linked list of symbols over the escaped text and a max-heap of
// candidate merges, O(n log n) in the length of a word (or of the text, see split_words_). Mirrors
// llama.cpp's llm_tokenizer_spm so that ids match it (and SentencePiece) exactly.
#include "tokenizer/spm.h"

#include <algorithm>

#include "tokenizer/utf8.h"

namespace minnow::tok {
namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's visible space

struct Symbol {
  size_t off = 0;  // into the chunk
  size_t len = 0;  // 0 once merged into its left neighbour
  int64_t prev = -1, next = -1;
};

struct Bigram {
  float score;
  int64_t left, right;
  size_t len;  // of the merged text; a mismatch later means a side has merged since
};

// Highest score first; among equal scores the leftmost pair, as SentencePiece does.
bool lower_priority(const Bigram& a, const Bigram& b) {
  return a.score < b.score || (a.score == b.score && a.left > b.left);
}

// Whether a "▁" starts at pos and follows some other character: a word boundary.
bool starts_word(std::string_view text, size_t pos) {
  return pos > 0 && text.substr(pos, kSpace.size()) == kSpace &&
         !(pos >= kSpace.size() && text.substr(pos - kSpace.size(), kSpace.size()) == kSpace);
}

}  // namespace

struct SpmModel::Scratch {
  std::vector<Symbol> symbols;
  std::vector<Bigram> heap;  // a max-heap under lower_priority
};

SpmModel::SpmModel(const Vocab& vocab) : vocab_(vocab) {
  split_words_ = true;
  for (const auto& [piece, id] : vocab_.piece_to_id) {
    for (size_t pos = 1; pos < piece.size() && split_words_; ++pos) split_words_ = !starts_word(piece, pos);
  }
}

void SpmModel::encode(std::string_view fragment, bool at_start, std::vector<int32_t>& out) const {
  std::string text;
  text.reserve(fragment.size() + kSpace.size());
  if (at_start && vocab_.add_space_prefix) text += kSpace;
  for (char c : fragment) {
    if (c == ' ') {
      text += kSpace;
    } else {
      text += c;
    }
  }
  Scratch scratch;
  if (!split_words_) {
    encode_chunk(text, scratch, out);
    return;
  }
  size_t begin = 0;
  for (size_t pos = 1; pos <= text.size(); ++pos) {
    if (pos == text.size() || starts_word(text, pos)) {
      encode_chunk(std::string_view(text).substr(begin, pos - begin), scratch, out);
      begin = pos;
    }
  }
}

void SpmModel::encode_chunk(std::string_view text, Scratch& s, std::vector<int32_t>& out) const {
  // One symbol per UTF-8 character. An invalid byte is a symbol of its own: no piece contains
  // it, so it falls back to its byte token, and the valid text around it is unaffected.
  std::vector<Symbol>& symbols = s.symbols;
  symbols.clear();
  for (size_t pos = 0; pos < text.size();) {
    const auto r = utf8::scan(text.substr(pos));
    const size_t len = r.status == utf8::Scan::kValid ? r.len : 1;
    const auto i = static_cast<int64_t>(symbols.size());
    symbols.push_back({pos, len, i - 1, pos + len < text.size() ? i + 1 : -1});
    pos += len;
  }
  if (symbols.empty()) return;

  std::vector<Bigram>& heap = s.heap;
  heap.clear();
  auto try_add = [&](int64_t left, int64_t right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols[static_cast<size_t>(left)];
    const Symbol& r = symbols[static_cast<size_t>(right)];
    // Adjacent symbols cover adjacent ranges, so their union is one substring.
    const std::string_view merged = text.substr(l.off, l.len + r.len);
    auto it = vocab_.piece_to_id.find(merged);
    if (it == vocab_.piece_to_id.end()) return;
    heap.push_back({vocab_.scores[static_cast<size_t>(it->second)], left, right, merged.size()});
    std::push_heap(heap.begin(), heap.end(), lower_priority);
  };
  for (size_t i = 1; i < symbols.size(); ++i) {
    try_add(static_cast<int64_t>(i) - 1, static_cast<int64_t>(i));
  }

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), lower_priority);
    const Bigram b = heap.back();
    heap.pop_back();
    Symbol& l = symbols[static_cast<size_t>(b.left)];
    Symbol& r = symbols[static_cast<size_t>(b.right)];
    // Lengths only grow, so unchanged lengths mean neither side merged since the push.
    if (l.len == 0 || r.len == 0 || l.len + r.len != b.len) continue;
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) symbols[static_cast<size_t>(r.next)].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }

  for (int64_t i = 0; i >= 0; i = symbols[static_cast<size_t>(i)].next) {
    const Symbol& sym = symbols[static_cast<size_t>(i)];
    const std::string_view piece = text.substr(sym.off, sym.len);
    auto it = vocab_.piece_to_id.find(piece);
    if (it != vocab_.piece_to_id.end()) {
      out.push_back(it->second);
      continue;
    }
    bool unk_sent = false;  // a vocabulary without byte tokens gets one unk per symbol
    for (char c : piece) {
      const int32_t id = vocab_.byte_to_id[static_cast<unsigned char>(c)];
      if (id >= 0) {
        out.push_back(id);
      } else if (!unk_sent && vocab_.unk >= 0) {  // no unk either: nothing can stand for it
        out.push_back(vocab_.unk);
        unk_sent = true;
      }
    }
  }
}

void SpmModel::append_piece(int32_t id, std::string& out) const {
  const auto i = static_cast<size_t>(id);
  if (vocab_.types[i] == TokenType::kByte && vocab_.token_byte[i] >= 0) {
    out += static_cast<char>(vocab_.token_byte[i]);
    return;
  }
  const std::string_view text = vocab_.tokens[i];
  for (size_t pos = 0; pos < text.size();) {
    if (text.substr(pos, kSpace.size()) == kSpace) {
      out += ' ';
      pos += kSpace.size();
    } else {
      out += text[pos++];
    }
  }
}

}  // namespace minnow::tok

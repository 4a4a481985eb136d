// Fuzzes encode/decode/streaming: any bytes, with and without special-token parsing, on small
// in-process vocabularies of each tokenizer model (SentencePiece; byte-level BPE). The first
// input byte picks the vocabulary and the flags. Must never crash, hang or leak.
#include <array>
#include <cstddef>
#include <cstdio>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace {

using minnow::Tokenizer;
using minnow::VocabSpec;

std::string byte_token(int b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "<0x%02X>", b);
  return buf;
}

VocabSpec spm_spec() {
  VocabSpec s;
  s.model = "llama";
  s.tokens = {"<unk>", "<s>", "</s>", "<|im_start|>", "<|user|>"};
  s.token_types = std::vector<int32_t>{2, 3, 3, 3, 4};
  for (int b = 0; b < 256; ++b) {
    s.tokens.push_back(byte_token(b));
    s.token_types->push_back(6);
  }
  for (const char* p : {"\xe2\x96\x81", "\xe2\x96\x81t", "he", "\xe2\x96\x81the", "in", "er", "\xc3\xa9", "a", "b"}) {
    s.tokens.push_back(p);
    s.token_types->push_back(1);
  }
  s.scores = std::vector<float>(s.tokens.size());
  for (size_t i = 0; i < s.tokens.size(); ++i) (*s.scores)[i] = -static_cast<float>(i);
  return s;
}

// GPT-2's byte-to-unicode table: printable bytes stand for themselves, the rest map to 256+.
std::string gpt2_char(int b) {
  static const std::array<int, 256> table = [] {
    std::array<int, 256> t{};
    int n = 0;
    for (int c = 0; c < 256; ++c) {
      const bool printable = (c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255);
      t[c] = printable ? c : 256 + n++;
    }
    return t;
  }();
  const int cp = table[b];
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
  return out;
}

VocabSpec bpe_spec() {
  VocabSpec s;
  s.model = "gpt2";
  s.pre = "llama-bpe";
  for (int b = 0; b < 256; ++b) s.tokens.push_back(gpt2_char(b));
  s.token_types = std::vector<int32_t>(256, 1);
  s.merges = std::vector<std::string>{"h e", "l l", "he ll", "hell o", gpt2_char(' ') + " t", "t h"};
  for (const char* t : {"he", "ll", "hell", "hello"}) s.tokens.push_back(t), s.token_types->push_back(1);
  s.tokens.push_back(gpt2_char(' ') + "t");
  s.tokens.push_back("th");
  s.token_types->push_back(1);
  s.token_types->push_back(1);
  s.tokens.push_back("<|begin_of_text|>");
  s.token_types->push_back(3);
  s.bos_id = static_cast<int64_t>(s.tokens.size()) - 1;
  return s;
}

std::vector<std::unique_ptr<Tokenizer>> make_vocabs() {
  std::vector<std::unique_ptr<Tokenizer>> out;
  for (VocabSpec spec : {spm_spec(), bpe_spec()}) {
    auto t = Tokenizer::from_spec(std::move(spec));
    if (t) out.push_back(std::make_unique<Tokenizer>(std::move(*t)));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<std::unique_ptr<Tokenizer>> vocabs = make_vocabs();
  if (size == 0 || vocabs.empty()) return 0;
  const uint8_t sel = data[0];
  const Tokenizer& tok = *vocabs[sel % vocabs.size()];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::vector<int32_t> ids = tok.encode(text, sel & 0x10, sel & 0x20);
  for (int32_t id : ids) {
    if (id < 0 || id >= tok.n_vocab()) __builtin_trap();  // encode must only emit valid ids
  }
  const std::string back = tok.decode(ids);
  minnow::Utf8Stream stream;
  std::string streamed;
  for (int32_t id : ids) streamed += stream.push(tok.token_to_piece(id, sel & 0x40));
  streamed += stream.flush();
  (void)back;
  return 0;
}

// Tokenizer speed: encodes 1 MB of mixed text (English prose, code, numbers, accented Latin,
// CJK, emoji) on one core with each vocabulary named on the command line, and prints the
// median MB/s of 5 runs. Usage: tokenize_bench VOCAB.gguf [VOCAB.gguf ...]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "minnow/vocab.h"

namespace {

// Deterministic 1 MB of text mixing what prompts contain.
std::string mixed_text(size_t bytes) {
  const char* pieces[] = {
      "The quick brown fox jumps over the lazy dog. ",
      "She said, \"I'll be there at 10:30 on 2024-05-17,\" and left. ",
      "for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }\n",
      "def tokenize(text: str) -> list[int]:\n    return [ord(c) for c in text]\n",
      "Invoice #48213: 3 x 19.99 EUR = 59.97 EUR (VAT 21%).\n",
      "Café crème brûlée, naïve façade, Ångström. ",
      "東京は日本の首都です。 ",
      "Emoji: 😀 🚀 👍🏽 ok. ",
      "   Indented line\twith\ttabs\n\n",
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"id\": 12345, \"ok\": true}\n",
  };
  std::mt19937 rng(42);
  std::uniform_int_distribution<size_t> pick(0, std::size(pieces) - 1);
  std::string s;
  while (s.size() < bytes) s += pieces[pick(rng)];
  // Cut at a character boundary so the text stays valid UTF-8.
  size_t cut = bytes;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xc0) == 0x80) --cut;
  s.resize(cut);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s VOCAB.gguf [VOCAB.gguf ...]\n", argv[0]);
    return 2;
  }
  const std::string text = mixed_text(1 << 20);
  for (int a = 1; a < argc; ++a) {
    auto vocab = minnow::Vocab::load(argv[a]);
    if (!vocab) {
      std::fprintf(stderr, "%s\n", vocab.error().message.c_str());
      return 1;
    }
    std::vector<double> rates;
    size_t n_tokens = 0;
    for (int r = 0; r < 6; ++r) {  // the first run warms caches
      const auto t0 = std::chrono::steady_clock::now();
      n_tokens = (*vocab)->encode(text, false, false).size();
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (r > 0) rates.push_back(text.size() / 1e6 / s);
    }
    std::sort(rates.begin(), rates.end());
    std::printf("%-60s %-6s %8zu tokens  %6.2f MB/s (median of 5; %.2f..%.2f)\n", argv[a], (*vocab)->model().c_str(),
                n_tokens, rates[2], rates.front(), rates.back());
  }
  return 0;
}

// Fuzzes GBNF grammars as a request would bring them: the input's first line is text to match,
// the rest a grammar. Parsing, matching byte by byte and filtering a small vocabulary must never
// crash, hang or grow without bound; errors are fine.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/matcher.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16 * 1024) return 0;  // long inputs only slow the search down
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nl = in.find('\n');
  const std::string_view text = nl == std::string_view::npos ? std::string_view() : in.substr(0, nl);
  auto g = minnow::grammar::Grammar::parse(nl == std::string_view::npos ? in : in.substr(nl + 1));
  if (!g.ok()) return 0;
  auto grammar = std::make_shared<const minnow::grammar::Grammar>(std::move(*g));
  minnow::grammar::Matcher m(grammar);
  static const std::vector<std::string> pieces = {"a", "b", "ab", " ", "{", "}", "\"", "\xc3", "\xa9", "0", "12", "\n"};
  static const auto trie =
      std::make_shared<const minnow::grammar::VocabTrie>(pieces, std::vector<bool>(pieces.size(), true));
  minnow::grammar::TokenFilter filter(trie);
  (void)filter.allowed(m);
  for (char c : text) {
    if (!m.accept(std::string_view(&c, 1))) break;
    (void)filter.allowed(m);
  }
  (void)m.complete();
  return 0;
}

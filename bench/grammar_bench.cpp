// Grammar-constrained decoding cost on a real vocabulary: the time to compute the allowed-token
// mask of a JSON grammar at states met while generating JSON (a fresh state, not yet cached;
// and the same state again, cached), and the time to check one sampled token.
// Usage: grammar_bench VOCAB.gguf (e.g. ../shared/tokenizer-tests/ggml-vocab-smollm2.gguf)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "grammar/grammar.h"
#include "grammar/matcher.h"
#include "tokenizer/tokenizer.h"

namespace {

const char* kJson = R"(
root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null")
object ::= "{" ws ( string ws ":" ws value ws ("," ws string ws ":" ws value ws)* )? "}"
array  ::= "[" ws ( value ws ("," ws value ws)* )? "]"
string ::= "\"" ( [^"\\\x00-\x1f] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4}) )* "\""
number ::= "-"? ("0" | [1-9] [0-9]*) ("." [0-9]+)? ([eE] [-+]? [0-9]+)?
ws     ::= [ \t\n]*
)";

double now_us() {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace minnow;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s VOCAB.gguf\n", argv[0]);
    return 2;
  }
  auto file = gguf::File::open(argv[1]);
  if (!file) return std::fprintf(stderr, "%s\n", file.error().message.c_str()), 1;
  auto tok = Tokenizer::from_gguf(*file);
  if (!tok) return std::fprintf(stderr, "%s\n", tok.error().message.c_str()), 1;
  std::vector<std::string> pieces(static_cast<size_t>(tok->n_vocab()));
  std::vector<bool> text(pieces.size());
  for (int32_t id = 0; id < tok->n_vocab(); ++id) {
    pieces[id] = tok->token_to_piece(id);
    text[id] = tok->token_type(id) != TokenType::kControl && !tok->is_eog(id);
  }
  double t0 = now_us();
  auto trie = std::make_shared<const grammar::VocabTrie>(pieces, text);
  std::printf("vocabulary: %zu tokens; trie built in %.1f ms\n", pieces.size(), (now_us() - t0) / 1000);
  auto g = grammar::Grammar::parse(kJson);
  if (!g) return std::fprintf(stderr, "%s\n", g.error().message.c_str()), 1;
  auto grammar = std::make_shared<const grammar::Grammar>(std::move(*g));
  // States along a JSON document, as generation meets them.
  const char* prefixes[] = {"", "{", "{\"", "{\"name", "{\"name\": ", "{\"name\": \"Al", "{\"name\": \"Alice\", \"age\": 3",
                            "{\"name\": \"Alice\", \"tags\": [", "{\"name\": \"Alice\", \"tags\": [\"x\"]"};
  std::printf("%-40s %10s %10s %10s %8s %8s\n", "state after", "fresh us", "cached us", "check us", "allowed",
              "checked");
  for (const char* p : prefixes) {
    grammar::Matcher m(grammar);
    if (!m.accept(p)) return std::fprintf(stderr, "prefix rejected: %s\n", p), 1;
    grammar::TokenFilter filter(trie);
    t0 = now_us();
    const std::vector<uint8_t> mask = filter.allowed(m);
    const double fresh = now_us() - t0;
    t0 = now_us();
    for (int i = 0; i < 100; ++i) (void)filter.allowed(m);
    const double cached = (now_us() - t0) / 100;
    t0 = now_us();
    int allowed = 0;
    for (size_t id = 0; id < 2000; ++id) allowed += grammar::TokenFilter::allows(m, pieces[id * 7 % pieces.size()]);
    const double check = (now_us() - t0) / 2000;
    const long n_allowed = std::count(mask.begin(), mask.end(), 1);
    std::printf("%-40s %10.0f %10.2f %10.3f %8ld %8d\n", (std::string("'") + p + "'").c_str(), fresh, cached, check,
                n_allowed, allowed);
  }
  return 0;
}

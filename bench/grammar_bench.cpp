// Grammar-constrained decoding cost on a real vocabulary: the time to compute the allowed-token
// mask of a JSON grammar at states met while generating JSON (a fresh state, not yet cached;
// and the same state again, cached), and the time to check one sampled token.
// Usage: grammar_bench VOCAB.gguf (e.g. ../shared/tokenizer-tests/ggml-vocab-smollm2.gguf)
//        grammar_bench --model MODEL.gguf [--threads N] [--tokens N] [--runs R]
// The second form measures the whole cost per generated token: sampled generation (temperature
// 0.8) of up to N tokens without a grammar, with any JSON object, and with an extraction schema,
// R runs each (seeds 1..R, interleaved), reporting median ms per token and the grammar's
// overhead: the median over rounds of its time per token against free generation's in the same
// round (paired, so that a shared host's drift between rounds cancels). With a random-weight model (synth_gguf.py
// --vocab-from a real vocabulary) the model's own token is rarely allowed, so nearly every step
// takes the masked path: the worst case.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "grammar/grammar.h"
#include "grammar/matcher.h"
#include "minnow/engine.h"
#include "minnow/structured.h"
#include "tokenizer/tokenizer.h"

namespace {

double now_us() {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

int generation_cost(int argc, char** argv) {
  using namespace minnow;
  std::string model_path;
  int threads = 2, tokens = 128, runs = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--model") model_path = argv[i + 1];
    else if (k == "--threads") threads = std::stoi(argv[i + 1]);
    else if (k == "--tokens") tokens = std::stoi(argv[i + 1]);
    else if (k == "--runs") runs = std::stoi(argv[i + 1]);
  }
  auto model = Model::load(model_path, LoadOptions{.n_threads = threads, .isa = "", .chat_template = "", .repack = true});
  if (!model) return std::fprintf(stderr, "%s\n", model.error().message.c_str()), 1;
  auto schema = grammar_for_json_schema(R"({"type": "object", "properties": {
      "name": {"type": "string"}, "age": {"type": "integer"}, "email": {"type": "string", "format": "email"},
      "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 8},
      "sentiment": {"enum": ["positive", "neutral", "negative"]}},
      "required": ["name", "age", "sentiment"]})");
  if (!schema) return std::fprintf(stderr, "%s\n", schema.error().message.c_str()), 1;
  const std::pair<const char*, std::string> cases[] = {
      {"none", ""}, {"json object", grammar_for_json(true)}, {"schema", *schema}};
  std::vector<double> ms[3], ratio[3];
  std::vector<int> n_tokens[3];
  for (int r = 1; r <= runs + 1; ++r) {  // the first round warms up
    for (int c = 0; c < 3; ++c) {
      auto session = (*model)->new_session(SessionOptions{.n_ctx = tokens + 64});
      if (!session) return std::fprintf(stderr, "%s\n", session.error().message.c_str()), 1;
      GenerateOptions o;
      o.grammar = cases[c].second;
      o.num_predict = tokens;
      o.sampling.temperature = 0.8f;
      o.sampling.seed = static_cast<uint64_t>(r);
      auto st = (*session)->generate("Extract the person: Alice, 31, alice@example.com, loves hiking.", o,
                                     [](std::string_view) { return true; });
      if (!st) return std::fprintf(stderr, "%s\n", st.error().message.c_str()), 1;
      if (r == 1) continue;
      ms[c].push_back(1000 * st->generate_seconds / std::max(1, st->generated_tokens));
      n_tokens[c].push_back(st->generated_tokens);
      ratio[c].push_back(ms[c].back() / ms[0].back());
    }
  }
  const ModelInfo& info = (*model)->info();
  std::printf("model: %s (%s, vocabulary %lld), threads %d, up to %d tokens, %d runs (medians)\n",
              model_path.c_str(), info.quantization.c_str(), static_cast<long long>(info.n_vocab), threads, tokens,
              runs);
  std::printf("%-12s %10s %10s %10s %10s\n", "grammar", "ms/token", "tokens/s", "tokens", "overhead");
  for (int c = 0; c < 3; ++c) {
    const double m = median(ms[c]);
    std::vector<double> nt(n_tokens[c].begin(), n_tokens[c].end());
    std::printf("%-12s %10.2f %10.1f %10.0f %9.1f%%\n", cases[c].first, m, 1000 / m, median(nt),
                100 * (median(ratio[c]) - 1));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace minnow;
  if (argc > 2 && std::string(argv[1]) == "--model") return generation_cost(argc, argv);
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
  auto g = grammar::Grammar::parse(grammar_for_json(true));  // the grammar format "json" uses
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

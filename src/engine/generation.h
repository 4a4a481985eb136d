// One sequence's generation once its prompt is in the context: its own sampler (seeded, with the
// prompt in its penalty window), UTF-8 assembly, stop strings, log-probabilities, and the end
// (end of generation, num_predict, a full context, a stop string, the caller). Session::generate
// and BatchGenerator both drive it, one row of logits at a time, so their outputs cannot differ.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/stop_filter.h"
#include "grammar/matcher.h"
#include "kv/kv_cache.h"
#include "minnow/engine.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace minnow {

// The checks both generators make before any work: a prompt that is not empty, fits n_ctx and
// has only ids of the vocabulary, top_logprobs in range, and a grammar that parses.
Status check_generation(std::span<const int32_t> prompt, const GenerateOptions& options, int n_ctx, int n_vocab);

// Fills t's logprob (and its top_n likeliest alternatives) from the logits of the context before
// it: log-softmax at temperature 1, the measure GenerateOptions.logprobs reports.
void fill_logprobs(std::span<const float> logits, int top_n, const Tokenizer& tok, GeneratedToken& t);

// How much of prompt a context holding `held` (its cache) can keep: their common prefix, less at
// least one token (the prompt's last one is evaluated for the first sampled token's logits), or
// nothing when a sliding-window layer has already dropped keys the prompt's next token needs.
int reusable_prefix(std::span<const int32_t> held, std::span<const int32_t> prompt, const KvCache& cache);

// The vocabulary's text tokens as a trie, for grammar filters (built once per model).
std::shared_ptr<const grammar::VocabTrie> build_vocab_trie(const Tokenizer& tok);

class Generation {
 public:
  // Receives text and tokens as they become final; `last` marks the piece sent once the end is
  // decided (its answer is not used). Returns false to stop.
  using Emit = std::function<bool(const GeneratedPiece& piece, bool last)>;

  // Starts timing; the prompt is evaluated. num_predict == 0 ends it at once. trie: the
  // model's vocabulary trie when options.grammar is set (check_generation passed).
  Generation(const Tokenizer& tok, const GenerateOptions& options, int n_vocab, std::span<const int32_t> prompt,
             std::shared_ptr<const grammar::VocabTrie> trie, Emit emit);

  bool done() const { return done_; }
  // Samples from the logits of the context's last token and hands on what it completes.
  // context_left: positions the context still has room for. Returns the token to evaluate
  // next, or nothing when generation has ended (then done()).
  std::optional<int32_t> step(std::span<const float> logits, int context_left);
  // Ends generation without another piece (done_reason "stop"), as when emit returns false.
  void cancel();
  // generated_tokens, generate_seconds and done_reason; final once done().
  const GenerateStats& stats() const { return stats_; }

 private:
  void finish(bool stopped);
  // masked_ = the logits with the tokens the grammar forbids at -inf (end of generation only
  // when the sentence is complete). false when no token is allowed.
  bool constrain(std::span<const float> logits);
  // Whether token id is allowed and leaves a sentence that budget - 1 more tokens can finish
  // (its distance to the end then in *dist_after).
  bool feasible(int32_t id, int64_t budget, uint32_t* dist_after) const;
  // Narrows masked_ to the likeliest tokens that are feasible.
  void keep_feasible(int64_t budget);

  const Tokenizer& tok_;
  const GenerateOptions& options_;
  Emit emit_;
  Sampler sampler_;
  Utf8Stream utf8_;
  StopFilter stop_;
  std::vector<GeneratedToken> out_tokens_;  // tokens of the text not yet handed on
  GenerateStats stats_;
  std::chrono::steady_clock::time_point t0_;
  bool done_ = false;
  // With a grammar: where the text is in it, and the allowed tokens per state.
  std::optional<grammar::Matcher> matcher_;
  std::optional<grammar::TokenFilter> filter_;
  std::vector<float> masked_;  // [n_vocab] the constrained logits
};

}  // namespace minnow

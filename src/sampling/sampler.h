// Picks the next token from a row of logits: penalties, then greedy (temperature <= 0) or
// temperature + top-k + top-p + min-p + seeded random draw. Same seed, same logits, same tokens.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "minnow/sampling_options.h"

namespace minnow {

using SamplerParams = SamplingOptions;

class Sampler {
 public:
  Sampler(const SamplerParams& params, int32_t n_vocab);

  // logits: [n_vocab]; not modified. NaN logits are never chosen; +inf counts as the largest
  // finite value. If nothing is finite, returns the lowest id that is not NaN (0 if none).
  int32_t sample(const float* logits);
  // Records a token (prompt or generated) for the penalties; out-of-range ids are ignored.
  void accept(int32_t token);
  void reset();  // forgets history and re-seeds

  const SamplerParams& params() const { return params_; }

 private:
  struct Candidate {
    int32_t id;
    float logit;
  };
  SamplerParams params_;  // sanitized: NaN or out-of-domain values mean "off"
  int32_t n_vocab_;
  std::mt19937_64 rng_;
  // The penalty window: a ring of the last repeat_last_n accepted tokens (unused when the
  // window is everything or nothing), and how often each token occurs in it.
  std::vector<int32_t> history_;
  size_t history_head_ = 0;      // the oldest entry once the ring is full
  std::vector<int32_t> counts_;  // [n_vocab]
  std::vector<Candidate> cand_;  // [n_vocab] scratch, reserved once
};

}  // namespace minnow

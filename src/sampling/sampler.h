// Picks the next token from a row of logits: penalties, then greedy (temperature <= 0) or
// temperature + top-k + top-p + min-p + seeded random draw. Same seed, same logits, same tokens.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace minnow {

struct SamplerParams {
  float temperature = 0.8f;  // <= 0: greedy
  int32_t top_k = 40;        // <= 0: off
  float top_p = 0.9f;        // >= 1: off
  float min_p = 0.0f;        // <= 0: off
  float repeat_penalty = 1.0f;  // 1: off; divides positive logits / multiplies negative ones
  int32_t repeat_last_n = 64;   // window of recent tokens the penalties look at; 0 off, -1 all
  float frequency_penalty = 0.0f;  // minus count * this
  float presence_penalty = 0.0f;   // minus this once present
  uint64_t seed = 0;
};

class Sampler {
 public:
  Sampler(const SamplerParams& params, int32_t n_vocab);

  // logits: [n_vocab]; not modified.
  int32_t sample(const float* logits);
  // Records a token (prompt or generated) for the penalties.
  void accept(int32_t token);
  void reset();  // forgets history and re-seeds

  const SamplerParams& params() const { return params_; }

 private:
  struct Candidate {
    int32_t id;
    float logit;
  };
  SamplerParams params_;
  int32_t n_vocab_;
  std::mt19937_64 rng_;
  std::vector<int32_t> history_;
  std::vector<Candidate> cand_;  // scratch
};

}  // namespace minnow

// How the next token is picked: part of the public API, and what the sampler is built from.
#pragma once

#include <cstdint>

namespace minnow {

struct SamplingOptions {
  float temperature = 0.8f;        // <= 0: greedy
  int32_t top_k = 40;              // <= 0: off
  float top_p = 0.9f;              // >= 1: off
  float min_p = 0.0f;              // <= 0: off
  float repeat_penalty = 1.0f;     // 1: off; divides positive logits / multiplies negative ones
  int32_t repeat_last_n = 64;      // window of recent tokens the penalties look at; 0 off, -1 all
  float frequency_penalty = 0.0f;  // minus count * this
  float presence_penalty = 0.0f;   // minus this once present
  uint64_t seed = 0;               // the same seed, the same choices
};

}  // namespace minnow

// The invariants every architecture's forward pass keeps (finite, deterministic, batching and
// thread count do not matter, SIMD == scalar, F16 cache close to F32), over a fixed token
// sequence, on top of forward_harness.h.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/forward_harness.h"
#include "simd_isas.h"

namespace minnow::test {

inline const std::vector<int32_t> kTestTokens = {1,  260, 45, 270, 101, 3,  280, 7, 290,
                                                 33, 120, 64, 265, 2,   77, 200, 18};

// Logits of every token of kTestTokens ([n_tokens][n_vocab]) with the kernels kt.
inline std::vector<float> run_tokens(const models::Model& m, const kernels::KernelTable& kt, RunOptions o) {
  o.kt = &kt;
  return run_logits(m, kTestTokens, o);
}

// The invariants every architecture's forward pass keeps, as the llama model tests state them.

inline void expect_finite_and_deterministic(const models::Model& m) {
  const auto a = run_tokens(m, kernels::active(), {});
  const auto b = run_tokens(m, kernels::active(), {});
  for (float v : a) ASSERT_TRUE(std::isfinite(v));
  EXPECT_EQ(a, b);
}

inline void expect_batched_prefill_equals_token_by_token(const models::Model& m) {
  const auto one = run_tokens(m, kernels::active(), {.batch = 1});
  for (int batch : {3, 8, 17}) {
    EXPECT_LE(max_rel_diff(run_tokens(m, kernels::active(), {.batch = batch}), one), 1e-5)
        << "batch " << batch;
  }
}

inline void expect_identical_across_thread_counts(const models::Model& m) {
  const auto ref = run_tokens(m, kernels::active(), {.threads = 1, .batch = 5});
  for (int threads : {2, 3, 4}) {
    EXPECT_EQ(run_tokens(m, kernels::active(), {.threads = threads, .batch = 5}), ref)
        << threads << " threads";
  }
}

// Float weights and the 32-element quants: the same products summed in another f32 order at
// most (the q4_0/q8_0 dots are bit-identical to scalar), a few ulps grown through 2 layers; 1e-4
// of the logit range leaves ample margin (as for llama). The k-quant AVX2 dots convert each
// super-block's integer sum in another order than the scalar reference, and an ulp difference
// can round a downstream q8_K activation the other way, each such flip moving a random tiny
// model's logits by ~1% (0.97% seen with a qwen2 model whose q bias was dropped): 3e-2. A broken
// SIMD path gives errors of order 1 either way.
inline void expect_simd_matches_scalar(const models::Model& m, DType wtype) {
  const auto scalar = run_tokens(m, kernels::table(kernels::Isa::kScalar), {});
  for (kernels::Isa isa : simd_isas()) {
    const auto simd = run_tokens(m, kernels::table(isa), {});
    EXPECT_LE(max_rel_diff(simd, scalar), dtype_info(wtype).block_size == 256 ? 3e-2 : 1e-4)
        << kernels::isa_name(isa);
  }
}

// F16 keys and values carry 11 significant bits; the bounds and their reasons are the llama
// test's: 1e-2 of the logit range with float weights, 5e-2 where quantized activations can
// cross rounding boundaries. A broken f16 path gives errors of order 1.
inline void expect_f16_cache_close_to_f32(const models::Model& m, bool quantized_weights) {
  const auto f32 = run_tokens(m, kernels::active(), {.kv = DType::F32});
  const auto f16 = run_tokens(m, kernels::active(), {.kv = DType::F16});
  EXPECT_LE(max_rel_diff(f16, f32), quantized_weights ? 5e-2 : 1e-2);
}

}  // namespace minnow::test

// The blocks a transformer forward pass is built from: linear layers, RMSNorm, RoPE, SwiGLU,
// causal attention over a KV cache. Each works on a batch of token rows.
#pragma once

#include <cstdint>

#include "kv/kv_cache.h"
#include "nn/compute.h"

namespace minnow::nn {

// y[t] = W x[t].  x: [n_tokens][w.n_in], y: [n_tokens][w.n_out]
void linear(const Compute& c, const Weight& w, const float* x, int64_t n_tokens, float* y);

// out[t] = x[t] / sqrt(mean(x[t]^2) + eps) * weight.  x, out: [n_tokens][n]; may alias.
void rms_norm(const float* x, const float* weight, int64_t n, int64_t n_tokens, float eps, float* out);

// x[i] += y[i]
void add_inplace(float* x, const float* y, int64_t n);

// gate[i] = silu(gate[i]) * up[i]   (SwiGLU; silu(v) = v / (1 + e^-v))
void swiglu_inplace(float* gate, const float* up, int64_t n);

enum class RopeType {
  kNorm,  // rotates adjacent pairs (x[2i], x[2i+1]): llama-family GGUF files (q/k permuted at conversion)
  kNeox,  // rotates (x[i], x[i + n_rot/2]): qwen2, phi3, gemma3
};

struct RopeParams {
  RopeType type = RopeType::kNorm;
  int n_rot = 0;            // leading dims of each head that rotate (<= head_dim, even)
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;  // linear position scaling: 1 / rope.scaling.factor
  const float* freq_factors = nullptr;  // [n_rot/2] frequency divisors (rope_freqs, LongRoPE), or null
  // Multiplies the rotated dims (cos and sin, as ggml's mscale does): LongRoPE's attention factor
  // sqrt(1 + ln(n_ctx_train / n_ctx_orig) / ln(n_ctx_orig)), which sharpens q.k at long contexts.
  float attn_factor = 1.0f;
};

// Rotates each head of each token in place.  x: [n_tokens][n_heads][head_dim]
void rope(const RopeParams& p, float* x, int64_t n_tokens, int n_heads, int head_dim, const int32_t* positions);

// Writes the batch's keys and values into the cache at their positions.
//   k, v: [n_tokens][n_kv_dim] f32
void kv_store(const Compute& c, KvCache& cache, int layer, const float* k, const float* v, int64_t n_tokens,
              const int32_t* positions);

struct AttentionParams {
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim = 0;
  float scale = 1.0f;  // applied to q.k, usually 1/sqrt(head_dim)
};

// Causal attention of each query token over cache positions [0, its position].
//   q: [n_tokens][n_head][head_dim], out: [n_tokens][n_head][head_dim]
// Heads share KV heads in groups of n_head / n_head_kv (GQA).
void attention(const Compute& c, const AttentionParams& p, const KvCache& cache, int layer, const float* q,
               int64_t n_tokens, const int32_t* positions, float* out);

// x[t][i] += bias[i]: a linear layer's bias on every token row.  x: [n_tokens][n]
void add_bias(float* x, const float* bias, int64_t n, int64_t n_tokens);

}  // namespace minnow::nn

// The blocks a transformer forward pass is built from: linear layers, RMSNorm, RoPE, SwiGLU and
// GeGLU, causal attention over a KV cache (GQA, sliding window, soft-capping). Each works on a
// batch of token rows.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "kv/kv_cache.h"
#include "nn/compute.h"

namespace minnow::nn {

// y[t] = W x[t].  x: [n_tokens][w.n_in], y: [n_tokens][w.n_out]
void linear(const Compute& c, const Weight& w, const float* x, int64_t n_tokens, float* y);

// ys[i][t] = ws[i] x[t] for matrices with the same input (q, k and v; gate and up). When their
// types agree, the input is quantized once and one parallel loop covers all their rows (half
// the pool round trips of decoding a token); the results are linear()'s, bit for bit.
void linear(const Compute& c, std::span<const Weight* const> ws, const float* x, int64_t n_tokens,
            std::span<float* const> ys);

// out[t] = x[t] / sqrt(mean(x[t]^2) + eps) * weight.  x, out: [n_tokens][n]; may alias.
void rms_norm(const float* x, const float* weight, int64_t n, int64_t n_tokens, float eps, float* out);
// The same with a prompt's tokens split across the pool (each token's result is the one above;
// the sum of squares is a serial chain in double, ~70 us for 64 tokens of 576).
void rms_norm(const Compute& c, const float* x, const float* weight, int64_t n, int64_t n_tokens, float eps,
              float* out);

// x[i] += y[i]
void add_inplace(float* x, const float* y, int64_t n);

// gate[i] = silu(gate[i]) * up[i]   (SwiGLU; silu(v) = v / (1 + e^-v))
void swiglu_inplace(float* gate, const float* up, int64_t n);
// The same with the kernel table's vector version where it has one (its exp is within a few
// ulps of std::exp's).
void swiglu_inplace(const Compute& c, float* gate, const float* up, int64_t n);

// gate[i] = gelu(gate[i]) * up[i]   (GeGLU with the tanh approximation of GELU, as Gemma's
// gelu_pytorch_tanh: gelu(v) = v/2 * (1 + tanh(sqrt(2/pi) * (v + 0.044715 v^3))))
void geglu_inplace(float* gate, const float* up, int64_t n);

// x[i] = cap * tanh(x[i] / cap): Gemma 2's soft-capping of logits.  cap > 0.
void softcap_inplace(float* x, int64_t n, float cap);

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

// The rotation angles of a batch (cos and sin of each token's position times each frequency),
// computed once per forward pass for the q and k of every layer instead of twice per layer.
class RopeAngles {
 public:
  RopeAngles(const RopeParams& p, const int32_t* positions, int64_t n_tokens);
  // rope(p, x, n_tokens, n_heads, head_dim, positions) with these angles: the same result.
  void rotate(float* x, int n_heads, int head_dim) const;

 private:
  RopeType type_;
  int half_;
  int64_t n_tokens_;
  std::vector<float> cos_, sin_;  // [n_tokens][n_rot/2]
};

// Writes the batch's keys and values into the cache at their positions. A windowed layer takes
// at most cache.max_chunk(layer) tokens before attention reads them (see self_attention).
//   k, v: [n_tokens][n_kv_dim] f32
void kv_store(const Compute& c, KvCache& cache, int layer, const float* k, const float* v, int64_t n_tokens,
              const int32_t* positions);

struct AttentionParams {
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim = 0;
  float scale = 1.0f;  // applied to q.k, usually 1/sqrt(head_dim)
  int window = 0;      // > 0: a query at position p sees only (p - window, p] (sliding window)
  float softcap = 0;   // > 0: scores become softcap * tanh(score / softcap) before the softmax
};

// Causal attention of each query token over cache positions [0, its position], or its window.
//   q: [n_tokens][n_head][head_dim], out: [n_tokens][n_head][head_dim]
// Heads share KV heads in groups of n_head / n_head_kv (GQA). The cache must still hold every
// key the queries see: for a windowed layer, the batch is at most cache.max_chunk(layer) tokens.
void attention(const Compute& c, const AttentionParams& p, const KvCache& cache, int layer, const float* q,
               int64_t n_tokens, const int32_t* positions, float* out);

// x[t][i] += bias[i]: a linear layer's bias on every token row.  x: [n_tokens][n]
void add_bias(float* x, const float* bias, int64_t n, int64_t n_tokens);

// kv_store then attention for a batch of consecutive positions of any length: in chunks of
// cache.max_chunk(layer) tokens, so a sliding-window layer's ring never loses a key a query of
// the batch needs, and the result equals feeding the tokens one at a time.
//   k, v: [n_tokens][n_kv_dim], q and out: [n_tokens][n_head][head_dim]
void self_attention(const Compute& c, const AttentionParams& p, KvCache& cache, int layer, const float* k,
                    const float* v, const float* q, int64_t n_tokens, const int32_t* positions, float* out);

// One sequence's rows of a batch that holds several, each sequence in its own cache.
struct SeqAttention {
  KvCache* cache = nullptr;
  int64_t n_tokens = 0;
  const int32_t* positions = nullptr;  // [n_tokens], consecutive
  const float* k = nullptr;            // [n_tokens][n_kv_dim]
  const float* v = nullptr;            // [n_tokens][n_kv_dim]
  const float* q = nullptr;            // [n_tokens][n_head][head_dim]
  float* out = nullptr;                // [n_tokens][n_head][head_dim]
};
// self_attention of each sequence over its own cache, with one pass over the pool for all of
// them (per chunk; one for decoding tokens): each row's result is that of its sequence alone.
void self_attention(const Compute& c, const AttentionParams& p, int layer, std::span<const SeqAttention> seqs);

}  // namespace minnow::nn

#include "nn/encoder_ops.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <vector>

namespace minnow::nn {

void layer_norm(const float* x, const float* weight, const float* bias, int64_t n, int64_t n_tokens,
                float eps, float* out) {
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* xr = x + t * n;
    float* o = out + t * n;
    // Two passes in double: the variance as a mean of squares minus a squared mean would cancel
    // catastrophically for rows far from zero mean (BERT's residual stream has large offsets).
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += xr[i];
    const double mean = sum / static_cast<double>(n);
    double sq = 0;
    for (int64_t i = 0; i < n; ++i) sq += (xr[i] - mean) * (xr[i] - mean);
    // Centred in double too: the mean rounded to f32 would be off by up to half an ulp of the
    // offset, which the division by a small deviation magnifies.
    const double inv = 1.0 / std::sqrt(sq / static_cast<double>(n) + eps);
    for (int64_t i = 0; i < n; ++i) o[i] = static_cast<float>((xr[i] - mean) * inv) * weight[i] + bias[i];
  }
}

void gelu_inplace(float* x, int64_t n) {
  constexpr float kInvSqrt2 = 0.70710678118654752f;
  for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * kInvSqrt2));
}

namespace {

// n raw scores -> softmax(scale * score) in place, as ops.cpp's attention does without soft-capping.
void softmax_scaled(const kernels::KernelTable& kt, float scale, float* scores, int64_t n) {
  if (kt.softmax_scaled != nullptr) {
    kt.softmax_scaled(scores, n, scale);
    return;
  }
  float mx = -INFINITY;
  for (int64_t j = 0; j < n; ++j) {
    scores[j] *= scale;
    mx = std::max(mx, scores[j]);
  }
  double sum = 0;
  for (int64_t j = 0; j < n; ++j) {
    scores[j] = std::exp(scores[j] - mx);
    sum += scores[j];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t j = 0; j < n; ++j) scores[j] *= inv;
}

// One task per (token, head) with the table's f32 dot and axpy: keys in order, so a row's
// result does not depend on where its span lies.
void spans_per_head(const Compute& c, const AttentionParams& p, const float* k, const float* v,
                    const float* q, int64_t n_tokens, const int32_t* first, const int32_t* last, float* out) {
  const int hd = p.head_dim;
  const int group = p.n_head / p.n_head_kv;
  const int64_t kv_dim = static_cast<int64_t>(p.n_head_kv) * hd;
  const kernels::KernelTable& kt = c.kt;
  c.pool.parallel_for(n_tokens * p.n_head, 4, [&](int64_t begin, int64_t end) {
    std::vector<float> scores;  // [n_keys] of the current task
    for (int64_t task = begin; task < end; ++task) {
      const int64_t t = task / p.n_head;
      const int h = static_cast<int>(task % p.n_head);
      const int64_t kv_off = static_cast<int64_t>(h / group) * hd;
      const int64_t n_keys = last[t] - first[t] + 1;
      const float* qh = q + (t * p.n_head + h) * hd;
      float* oh = out + (t * p.n_head + h) * hd;
      scores.resize(static_cast<size_t>(n_keys));
      for (int64_t j = 0; j < n_keys; ++j)
        scores[j] = kt.dot_f32(hd, k + (first[t] + j) * kv_dim + kv_off, qh);
      softmax_scaled(kt, p.scale, scores.data(), n_keys);
      std::fill(oh, oh + hd, 0.0f);
      for (int64_t j = 0; j < n_keys; ++j)
        kt.axpy_f32(hd, scores[j], v + (first[t] + j) * kv_dim + kv_off, oh);
    }
  });
}

// With the table's flash-attention tiles (ops.cpp's attention_tiled over a cache, here over
// spans): a tile is a run of up to 32 consecutive tokens that share their first key (one input)
// x the heads of one GQA group, so that no tile walks the keys of two inputs; short batches take
// fewer tokens per tile so that the pool has two tasks per thread.
void spans_tiled(const Compute& c, const AttentionParams& p, const float* k, const float* v, int64_t n_rows,
                 const float* q, int64_t n_tokens, const int32_t* first, const int32_t* last, float* out) {
  constexpr int64_t kTileTokens = 32;
  const int hd = p.head_dim;
  const int group = p.n_head / p.n_head_kv;
  const int heads = group <= kernels::kAttnTileRows ? group : 1;
  const int head_tiles = p.n_head / heads;
  int64_t tokens = std::min<int64_t>(kTileTokens, kernels::kAttnTileRows / heads);
  while (tokens > 1 &&
         (n_tokens + tokens - 1) / tokens * head_tiles < 2 * static_cast<int64_t>(c.pool.size()))
    tokens = (tokens + 1) / 2;
  std::vector<int64_t> tile_start;  // [n_tiles + 1] first token of each tile, then n_tokens
  for (int64_t t = 0; t < n_tokens; ++t) {
    if (tile_start.empty() || t - tile_start.back() == tokens || first[t] != first[tile_start.back()])
      tile_start.push_back(t);
  }
  const int64_t n_tiles = static_cast<int64_t>(tile_start.size());
  tile_start.push_back(n_tokens);
  const int64_t q_stride = static_cast<int64_t>(p.n_head) * hd;
  const int64_t kv_dim = static_cast<int64_t>(p.n_head_kv) * hd;
  c.pool.parallel_for(n_tiles * head_tiles, 1, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> work;  // the kernel's scratch, kept across calls
    work.resize(static_cast<size_t>(kernels::attn_tile_work_floats(hd, static_cast<int>(tokens) * heads)));
    for (int64_t task = begin; task < end; ++task) {
      const int64_t tile = task / head_tiles;
      const int64_t t0 = tile_start[tile];
      const int h0 = static_cast<int>(task % head_tiles) * heads;
      kernels::AttnTile<float> a{};
      a.head_dim = hd;
      a.n_tokens = static_cast<int>(tile_start[tile + 1] - t0);
      a.n_heads = heads;
      a.first = first + t0;
      a.last = last + t0;
      a.q = q + t0 * q_stride + static_cast<int64_t>(h0) * hd;
      a.out = out + t0 * q_stride + static_cast<int64_t>(h0) * hd;
      a.q_stride = q_stride;
      a.k = k + static_cast<int64_t>(h0 / group) * hd;
      a.v = v + static_cast<int64_t>(h0 / group) * hd;
      a.kv_stride = kv_dim;
      a.ring = static_cast<int>(n_rows);  // every row is its own position
      a.scale = p.scale;
      c.kt.attn_tile_f32(a, work.data());
    }
  });
}

}  // namespace

void attention_spans(const Compute& c, const AttentionParams& p, const float* k, const float* v,
                     int64_t n_rows, const float* q, int64_t n_tokens, const int32_t* first,
                     const int32_t* last, float* out) {
  assert(p.window == 0 && p.softcap == 0);
  for (int64_t t = 0; t < n_tokens; ++t) assert(0 <= first[t] && first[t] <= last[t] && last[t] < n_rows);
  if (n_tokens == 0) return;
  if (c.kt.attn_tile_f32 != nullptr && p.head_dim <= kernels::kAttnMaxHeadDim) {
    spans_tiled(c, p, k, v, n_rows, q, n_tokens, first, last, out);
  } else {
    spans_per_head(c, p, k, v, q, n_tokens, first, last, out);
  }
}

}  // namespace minnow::nn

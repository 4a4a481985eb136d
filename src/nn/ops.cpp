#include "nn/ops.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <span>
#include <utility>
#include <vector>

namespace minnow::nn {

void linear(const Compute& c, const Weight& w, const float* x, int64_t n_tokens, float* y) {
  kernels::matmul(c.kt, c.pool, w.type, w.data, w.n_out, w.n_in, x, n_tokens, y, w.packed);
}

void linear(const Compute& c, std::span<const Weight* const> ws, const float* x, int64_t n_tokens,
            std::span<float* const> ys) {
  assert(ws.size() == ys.size() && !ws.empty());
  constexpr size_t kMaxParts = 4;
  bool same = ws.size() <= kMaxParts;
  for (const Weight* w : ws) same = same && w->type == ws[0]->type && w->n_in == ws[0]->n_in;
  if (!same) {
    for (size_t i = 0; i < ws.size(); ++i) linear(c, *ws[i], x, n_tokens, ys[i]);
    return;
  }
  kernels::MatmulOut parts[kMaxParts];
  for (size_t i = 0; i < ws.size(); ++i) parts[i] = {ws[i]->data, ws[i]->n_out, ys[i], ws[i]->packed};
  kernels::matmul(c.kt, c.pool, ws[0]->type, std::span<const kernels::MatmulOut>(parts, ws.size()),
                  ws[0]->n_in, x, n_tokens);
}

void rms_norm(const float* x, const float* weight, int64_t n, int64_t n_tokens, float eps, float* out) {
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* xr = x + t * n;
    float* o = out + t * n;
    double sum = 0;  // double: the mean of squares of thousands of values loses digits in f32
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(xr[i]) * xr[i];
    const float inv = 1.0f / std::sqrt(static_cast<float>(sum / static_cast<double>(n)) + eps);
    for (int64_t i = 0; i < n; ++i) o[i] = xr[i] * inv * weight[i];
  }
}

void rms_norm(const Compute& c, const float* x, const float* weight, int64_t n, int64_t n_tokens, float eps,
              float* out) {
  constexpr int64_t kParallelMinTokens = 8;
  if (n_tokens < kParallelMinTokens) return rms_norm(x, weight, n, n_tokens, eps, out);
  c.pool.parallel_for(n_tokens, 4, [&](int64_t t0, int64_t t1) {
    rms_norm(x + t0 * n, weight, n, t1 - t0, eps, out + t0 * n);
  });
}

void add_inplace(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

void swiglu_inplace(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    gate[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void swiglu_inplace(const Compute& c, float* gate, const float* up, int64_t n) {
  auto run = [&](int64_t i0, int64_t i1) {
    if (c.kt.swiglu != nullptr) {
      c.kt.swiglu(gate + i0, up + i0, i1 - i0);
    } else {
      swiglu_inplace(gate + i0, up + i0, i1 - i0);
    }
  };
  // A prompt's activations (64 tokens x 1536: ~100K exponentials) across the pool, in pieces
  // that start on multiples of 64 elements, so each element goes through the kernel's same path
  // (vector body or tail) as in one call.
  constexpr int64_t kPiece = 64, kParallelMin = int64_t{1} << 15;
  if (n < kParallelMin) return run(0, n);
  const int64_t pieces = (n + kPiece - 1) / kPiece;
  c.pool.parallel_for(pieces, 64, [&](int64_t p0, int64_t p1) { run(p0 * kPiece, std::min(p1 * kPiece, n)); });
}

void geglu_inplace(float* gate, const float* up, int64_t n) {
  constexpr float kSqrt2OverPi = 0.7978845608f;
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    gate[i] = 0.5f * g * (1.0f + std::tanh(kSqrt2OverPi * g * (1.0f + 0.044715f * g * g))) * up[i];
  }
}

void softcap_inplace(float* x, int64_t n, float cap) {
  for (int64_t i = 0; i < n; ++i) x[i] = cap * std::tanh(x[i] / cap);
}

RopeAngles::RopeAngles(const RopeParams& p, const int32_t* positions, int64_t n_tokens)
    : type_(p.type), half_(p.n_rot / 2), n_tokens_(n_tokens) {
  cos_.resize(static_cast<size_t>(n_tokens * half_));
  sin_.resize(static_cast<size_t>(n_tokens * half_));
  for (int64_t t = 0; t < n_tokens; ++t) {
    // Angles in double: position * base^(-2i/n_rot) reaches 1e5 radians at long contexts, where
    // f32 keeps too few fractional digits.
    const double pos = static_cast<double>(positions[t]) * p.freq_scale;
    for (int i = 0; i < half_; ++i) {
      double theta = pos * std::pow(static_cast<double>(p.freq_base), -2.0 * i / p.n_rot);
      if (p.freq_factors) theta /= p.freq_factors[i];
      cos_[t * half_ + i] = static_cast<float>(std::cos(theta)) * p.attn_factor;
      sin_[t * half_ + i] = static_cast<float>(std::sin(theta)) * p.attn_factor;
    }
  }
}

void RopeAngles::rotate(float* x, int n_heads, int head_dim) const {
  for (int64_t t = 0; t < n_tokens_; ++t) {
    const float* cos_t = cos_.data() + t * half_;
    const float* sin_t = sin_.data() + t * half_;
    for (int h = 0; h < n_heads; ++h) {
      float* v = x + (t * n_heads + h) * static_cast<int64_t>(head_dim);
      for (int i = 0; i < half_; ++i) {
        const int a = type_ == RopeType::kNorm ? 2 * i : i;
        const int b = type_ == RopeType::kNorm ? 2 * i + 1 : i + half_;
        const float x0 = v[a], x1 = v[b];
        v[a] = x0 * cos_t[i] - x1 * sin_t[i];
        v[b] = x0 * sin_t[i] + x1 * cos_t[i];
      }
    }
  }
}

void rope(const RopeParams& p, float* x, int64_t n_tokens, int n_heads, int head_dim,
          const int32_t* positions) {
  RopeAngles(p, positions, n_tokens).rotate(x, n_heads, head_dim);
}

void kv_store(const Compute& c, KvCache& cache, int layer, const float* k, const float* v, int64_t n_tokens,
              const int32_t* positions) {
  const int64_t d = cache.n_kv_dim();
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* kr = k + t * d;
    const float* vr = v + t * d;
    if (cache.type() == DType::F16) {
      c.kt.f32_to_f16(kr, reinterpret_cast<uint16_t*>(cache.k_row(layer, positions[t])), d);
      c.kt.f32_to_f16(vr, reinterpret_cast<uint16_t*>(cache.v_row(layer, positions[t])), d);
    } else {
      std::copy(kr, kr + d, reinterpret_cast<float*>(cache.k_row(layer, positions[t])));
      std::copy(vr, vr + d, reinterpret_cast<float*>(cache.v_row(layer, positions[t])));
    }
  }
}

namespace {

// Scale (and soft-cap) n raw scores, then softmax them in place: probabilities that sum to 1.
void softmax_scores(const kernels::KernelTable& kt, const AttentionParams& p, float* scores, int n) {
  if (p.softcap <= 0 && kt.softmax_scaled != nullptr) {
    kt.softmax_scaled(scores, n, p.scale);
    return;
  }
  float mx = -INFINITY;
  for (int j = 0; j < n; ++j) {
    const float s = scores[j];
    scores[j] = p.softcap > 0 ? p.softcap * std::tanh(s * p.scale / p.softcap) : s * p.scale;
    mx = std::max(mx, scores[j]);
  }
  double sum = 0;
  for (int j = 0; j < n; ++j) {
    scores[j] = std::exp(scores[j] - mx);
    sum += scores[j];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int j = 0; j < n; ++j) scores[j] *= inv;
}

// Keys (pos - window, pos]: the reference masks key p0 of query p1 when p1 - p0 >= window.
int first_key(const AttentionParams& p, int pos) {
  return p.window > 0 ? std::max(0, pos - p.window + 1) : 0;
}

// The query rows of one sequence in an attention pass over several (attend below).
struct Rows {
  const KvCache* cache;
  const float* q;  // [n_tokens][n_head][head_dim]
  float* out;      // [n_tokens][n_head][head_dim]
  const int32_t* positions;
  int64_t n_tokens;
};

// Head by head with the f32 helpers of the kernel table.
void attention_per_head(const Compute& c, const AttentionParams& p, int layer, std::span<const Rows> seqs) {
  const int hd = p.head_dim;
  const int group = p.n_head / p.n_head_kv;
  const kernels::KernelTable& kt = c.kt;
  // [n_tokens of all] each token's sequence and row there. Kept from call to call (decoding
  // allocates nothing); the pool's threads read the calling thread's copy through the reference.
  thread_local std::vector<std::pair<int32_t, int64_t>> token_buf;
  std::vector<std::pair<int32_t, int64_t>>& token = token_buf;
  token.clear();
  for (size_t i = 0; i < seqs.size(); ++i)
    for (int64_t t = 0; t < seqs[i].n_tokens; ++t) token.emplace_back(static_cast<int32_t>(i), t);
  // One task per (token, head): independent, so results do not depend on the thread count.
  c.pool.parallel_for(static_cast<int64_t>(token.size()) * p.n_head, 4, [&](int64_t begin, int64_t end) {
    std::vector<float> scores;  // [n_keys] for the current task
    for (int64_t task = begin; task < end; ++task) {
      const auto [seq, t] = token[static_cast<size_t>(task / p.n_head)];
      const Rows& r = seqs[static_cast<size_t>(seq)];
      const KvCache& cache = *r.cache;
      const bool f16 = cache.type() == DType::F16;
      const int h = static_cast<int>(task % p.n_head);
      const int kvh = h / group;
      const int first = first_key(p, r.positions[t]);
      const int n_keys = r.positions[t] + 1 - first;
      const float* qh = r.q + (t * p.n_head + h) * hd;
      float* oh = r.out + (t * p.n_head + h) * hd;
      scores.resize(n_keys);
      for (int j = 0; j < n_keys; ++j) {
        const uint8_t* kr = cache.k_row(layer, first + j);
        scores[j] = f16 ? kt.dot_f16_f32(hd, reinterpret_cast<const uint16_t*>(kr) + kvh * hd, qh)
                        : kt.dot_f32(hd, reinterpret_cast<const float*>(kr) + kvh * hd, qh);
      }
      softmax_scores(kt, p, scores.data(), n_keys);
      std::fill(oh, oh + hd, 0.0f);
      for (int j = 0; j < n_keys; ++j) {
        const uint8_t* vr = cache.v_row(layer, first + j);
        if (f16) {
          kt.axpy_f16(hd, scores[j], reinterpret_cast<const uint16_t*>(vr) + kvh * hd, oh);
        } else {
          kt.axpy_f32(hd, scores[j], reinterpret_cast<const float*>(vr) + kvh * hd, oh);
        }
      }
    }
  });
}

// With the table's flash-attention tiles. A task is a tile: up to kTileTokens consecutive
// tokens of one sequence x the heads of one GQA group. 32 tokens fill whole vectors of rows
// (32 x group) and make half the passes over K and V that 16 do (pp2048 of SmolLM2-135M on 2
// threads ~1.3x faster, pp512 the same); a short batch takes fewer tokens per tile so that the
// pool still has two tasks per thread. Each sequence's tiles of the latest tokens, which see
// the most keys, are handed out first. A row's result does not depend on its tile
// (AttnTileFn), so none of this changes results.
template <class E>
void attention_tiled(const Compute& c, const AttentionParams& p, int layer, std::span<const Rows> seqs,
                     kernels::AttnTileFn<E> tile_fn) {
  constexpr int64_t kTileTokens = 32;
  const int hd = p.head_dim;
  const int group = p.n_head / p.n_head_kv;
  const int heads = group <= kernels::kAttnTileRows ? group : 1;
  const int head_tiles = p.n_head / heads;
  int64_t tokens = std::min<int64_t>(kTileTokens, kernels::kAttnTileRows / heads);
  auto token_tiles = [&] {
    int64_t n = 0;
    for (const Rows& r : seqs) n += (r.n_tokens + tokens - 1) / tokens;
    return n;
  };
  while (tokens > 1 && token_tiles() * head_tiles < 2 * static_cast<int64_t>(c.pool.size()))
    tokens = (tokens + 1) / 2;
  // [token tiles] the sequence and first row of each; kept as token_buf above is.
  thread_local std::vector<std::pair<int32_t, int64_t>> tiles_buf;
  std::vector<std::pair<int32_t, int64_t>>& tiles = tiles_buf;
  tiles.clear();
  for (size_t i = 0; i < seqs.size(); ++i)
    for (int64_t k = (seqs[i].n_tokens + tokens - 1) / tokens - 1; k >= 0; --k)
      tiles.emplace_back(static_cast<int32_t>(i), k * tokens);
  const int64_t q_stride = static_cast<int64_t>(p.n_head) * hd;
  // With enough token tiles (a batch of decoding sequences), a thread takes all the KV heads of
  // a tile in turn: a cache row holds every KV head, and the lines one head's reads pull in
  // (with the hardware prefetcher's neighbours) are then still in that core's cache for the next.
  const int64_t grain = static_cast<int64_t>(tiles.size()) >= 2 * static_cast<int64_t>(c.pool.size()) ? head_tiles : 1;
  c.pool.parallel_for(static_cast<int64_t>(tiles.size()) * head_tiles, grain, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> work;  // the kernel's scratch, kept across calls
    work.resize(static_cast<size_t>(kernels::attn_tile_work_floats(hd, static_cast<int>(tokens) * heads)));
    int32_t first[kernels::kAttnTileRows], last[kernels::kAttnTileRows];
    for (int64_t task = begin; task < end; ++task) {
      const auto [seq, t0] = tiles[static_cast<size_t>(task / head_tiles)];
      const Rows& r = seqs[static_cast<size_t>(seq)];
      const int h0 = static_cast<int>(task % head_tiles) * heads;
      const int kvh = h0 / group;
      kernels::AttnTile<E> a{};
      a.head_dim = hd;
      a.n_tokens = static_cast<int>(std::min(tokens, r.n_tokens - t0));
      a.n_heads = heads;
      for (int t = 0; t < a.n_tokens; ++t) {
        last[t] = r.positions[t0 + t];
        first[t] = first_key(p, last[t]);
      }
      a.first = first;
      a.last = last;
      a.q = r.q + t0 * q_stride + static_cast<int64_t>(h0) * hd;
      a.out = r.out + t0 * q_stride + static_cast<int64_t>(h0) * hd;
      a.q_stride = q_stride;
      a.k = reinterpret_cast<const E*>(r.cache->k_row(layer, 0)) + static_cast<int64_t>(kvh) * hd;
      a.v = reinterpret_cast<const E*>(r.cache->v_row(layer, 0)) + static_cast<int64_t>(kvh) * hd;
      a.kv_stride = r.cache->n_kv_dim();
      a.ring = r.cache->capacity(layer);
      a.scale = p.scale;
      a.softcap = p.softcap;
      tile_fn(a, work.data());
    }
  });
}

// Attention of the rows of several sequences, each over its own cache, in one pass over the
// pool: each row's result is that of attention() of its sequence alone.
void attend(const Compute& c, const AttentionParams& p, int layer, std::span<const Rows> seqs) {
  for (const Rows& r : seqs) {
    // A ring layer holds only its window: a global query or too long a batch would read rows
    // that other positions have overwritten.
    assert(r.cache->capacity(layer) == r.cache->n_ctx() || (p.window > 0 && p.window <= r.cache->window(layer)));
    assert(r.n_tokens <= r.cache->max_chunk(layer));
    if (r.cache->type() != seqs[0].cache->type()) {  // one kernel per pass: each on its own
      for (const Rows& one : seqs) attend(c, p, layer, std::span<const Rows>(&one, 1));
      return;
    }
  }
  const kernels::KernelTable& kt = c.kt;
  const DType type = seqs[0].cache->type();
  const bool fits = p.head_dim <= kernels::kAttnMaxHeadDim;
  if (type == DType::F16 && fits && kt.attn_tile_f16) {
    attention_tiled<uint16_t>(c, p, layer, seqs, kt.attn_tile_f16);
  } else if (type == DType::F32 && fits && kt.attn_tile_f32) {
    attention_tiled<float>(c, p, layer, seqs, kt.attn_tile_f32);
  } else {
    attention_per_head(c, p, layer, seqs);
  }
}

}  // namespace

void attention(const Compute& c, const AttentionParams& p, const KvCache& cache, int layer, const float* q,
               int64_t n_tokens, const int32_t* positions, float* out) {
  const Rows rows{&cache, q, out, positions, n_tokens};
  attend(c, p, layer, std::span<const Rows>(&rows, 1));
}

void add_bias(float* x, const float* bias, int64_t n, int64_t n_tokens) {
  for (int64_t t = 0; t < n_tokens; ++t) add_inplace(x + t * n, bias, n);
}

void self_attention(const Compute& c, const AttentionParams& p, KvCache& cache, int layer, const float* k,
                    const float* v, const float* q, int64_t n_tokens, const int32_t* positions, float* out) {
  const SeqAttention seq{&cache, n_tokens, positions, k, v, q, out};
  self_attention(c, p, layer, std::span<const SeqAttention>(&seq, 1));
}

void self_attention(const Compute& c, const AttentionParams& p, int layer, std::span<const SeqAttention> seqs) {
  const int64_t q_dim = static_cast<int64_t>(p.n_head) * p.head_dim;
  thread_local std::vector<Rows> rows;
  // Round r stores each sequence's r-th chunk, then attends with all of them.
  for (int64_t round = 0;; ++round) {
    rows.clear();
    for (const SeqAttention& s : seqs) {
      const int64_t chunk = s.cache->max_chunk(layer), t = round * chunk;
      if (t >= s.n_tokens) continue;
      const int64_t n = std::min(chunk, s.n_tokens - t), kv_dim = s.cache->n_kv_dim();
      kv_store(c, *s.cache, layer, s.k + t * kv_dim, s.v + t * kv_dim, n, s.positions + t);
      rows.push_back({s.cache, s.q + t * q_dim, s.out + t * q_dim, s.positions + t, n});
    }
    if (rows.empty()) return;
    attend(c, p, layer, rows);
  }
}

}  // namespace minnow::nn

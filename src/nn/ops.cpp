#include "nn/ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace minnow::nn {

void linear(const Compute& c, const Weight& w, const float* x, int64_t n_tokens, float* y) {
  kernels::matmul(c.kt, c.pool, w.type, w.data, w.n_out, w.n_in, x, n_tokens, y);
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

void add_inplace(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

void swiglu_inplace(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    gate[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void rope(const RopeParams& p, float* x, int64_t n_tokens, int n_heads, int head_dim, const int32_t* positions) {
  const int half = p.n_rot / 2;
  std::vector<float> cos_t(half), sin_t(half);  // [n_rot/2] for the current token
  for (int64_t t = 0; t < n_tokens; ++t) {
    // Angles in double: position * base^(-2i/n_rot) reaches 1e5 radians at long contexts, where
    // f32 keeps too few fractional digits.
    const double pos = static_cast<double>(positions[t]) * p.freq_scale;
    for (int i = 0; i < half; ++i) {
      double theta = pos * std::pow(static_cast<double>(p.freq_base), -2.0 * i / p.n_rot);
      if (p.freq_factors) theta /= p.freq_factors[i];
      cos_t[i] = static_cast<float>(std::cos(theta)) * p.attn_factor;
      sin_t[i] = static_cast<float>(std::sin(theta)) * p.attn_factor;
    }
    for (int h = 0; h < n_heads; ++h) {
      float* v = x + (t * n_heads + h) * static_cast<int64_t>(head_dim);
      for (int i = 0; i < half; ++i) {
        const int a = p.type == RopeType::kNorm ? 2 * i : i;
        const int b = p.type == RopeType::kNorm ? 2 * i + 1 : i + half;
        const float x0 = v[a], x1 = v[b];
        v[a] = x0 * cos_t[i] - x1 * sin_t[i];
        v[b] = x0 * sin_t[i] + x1 * cos_t[i];
      }
    }
  }
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

void attention(const Compute& c, const AttentionParams& p, const KvCache& cache, int layer, const float* q,
               int64_t n_tokens, const int32_t* positions, float* out) {
  const int hd = p.head_dim;
  const int group = p.n_head / p.n_head_kv;
  const bool f16 = cache.type() == DType::F16;
  const kernels::KernelTable& kt = c.kt;
  // One task per (token, head): independent, so results do not depend on the thread count.
  c.pool.parallel_for(n_tokens * p.n_head, 4, [&](int64_t begin, int64_t end) {
    std::vector<float> scores;  // [n_keys] for the current task
    for (int64_t task = begin; task < end; ++task) {
      const int64_t t = task / p.n_head;
      const int h = static_cast<int>(task % p.n_head);
      const int kvh = h / group;
      const int n_keys = positions[t] + 1;
      const float* qh = q + (t * p.n_head + h) * hd;
      float* oh = out + (t * p.n_head + h) * hd;
      scores.resize(n_keys);
      float mx = -INFINITY;
      for (int j = 0; j < n_keys; ++j) {
        const uint8_t* kr = cache.k_row(layer, j);
        const float s = f16 ? kt.dot_f16_f32(hd, reinterpret_cast<const uint16_t*>(kr) + kvh * hd, qh)
                            : kt.dot_f32(hd, reinterpret_cast<const float*>(kr) + kvh * hd, qh);
        scores[j] = s * p.scale;
        mx = std::max(mx, scores[j]);
      }
      double sum = 0;
      for (int j = 0; j < n_keys; ++j) {
        scores[j] = std::exp(scores[j] - mx);
        sum += scores[j];
      }
      const float inv = static_cast<float>(1.0 / sum);
      std::fill(oh, oh + hd, 0.0f);
      for (int j = 0; j < n_keys; ++j) {
        const uint8_t* vr = cache.v_row(layer, j);
        if (f16) {
          kt.axpy_f16(hd, scores[j] * inv, reinterpret_cast<const uint16_t*>(vr) + kvh * hd, oh);
        } else {
          kt.axpy_f32(hd, scores[j] * inv, reinterpret_cast<const float*>(vr) + kvh * hd, oh);
        }
      }
    }
  });
}

void add_bias(float* x, const float* bias, int64_t n, int64_t n_tokens) {
  for (int64_t t = 0; t < n_tokens; ++t) add_inplace(x + t * n, bias, n);
}

}  // namespace minnow::nn

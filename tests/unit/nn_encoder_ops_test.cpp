// The encoder blocks against direct double-precision computations on odd sizes: layer norm with
// a bias, the erf GELU, and span attention with every kernel table this CPU has (each query over
// its own key span, GQA, head sizes off the vector width), plus the property the batched
// encoder relies on: an input's rows come out bit-identical alone or packed with others.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/kernel_table.h"
#include "nn/encoder_ops.h"
#include "simd_isas.h"

namespace minnow::nn {
namespace {

std::vector<float> random_values(size_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

std::vector<kernels::Isa> every_isa() {
  std::vector<kernels::Isa> out = {kernels::Isa::kScalar};
  for (kernels::Isa isa : test::simd_isas()) out.push_back(isa);
  return out;
}

TEST(LayerNorm, MatchesDoubleReference) {
  for (int64_t n : {1, 7, 64, 129}) {
    const int64_t n_tokens = 3;
    // Rows with a large common offset: a one-pass variance would lose most of its digits.
    std::vector<float> x = random_values(n * n_tokens, 1, 100.0f, 102.0f);
    const std::vector<float> w = random_values(n, 2, 0.5f, 1.5f), b = random_values(n, 3);
    const float eps = 1e-12f;
    std::vector<float> out(x.size());
    layer_norm(x.data(), w.data(), b.data(), n, n_tokens, eps, out.data());
    for (int64_t t = 0; t < n_tokens; ++t) {
      double mean = 0, var = 0;
      for (int64_t i = 0; i < n; ++i) mean += x[t * n + i];
      mean /= n;
      for (int64_t i = 0; i < n; ++i) var += (x[t * n + i] - mean) * (x[t * n + i] - mean);
      var /= n;
      for (int64_t i = 0; i < n; ++i) {
        // n == 1: every normalized value is 0 and the output is the bias.
        const double want = n == 1 ? b[i] : (x[t * n + i] - mean) / std::sqrt(var + eps) * w[i] + b[i];
        // Outputs are O(1) (|value| < 4): centred and scaled in double, then three f32 roundings
        // (normalized value, times weight, plus bias) of ~2.4e-7 each. Centring on an f32 mean
        // instead errs by up to 1.3e-5 here (half an ulp of 100, over a deviation of 0.58).
        EXPECT_NEAR(out[t * n + i], want, 1.5e-6) << "n " << n << " row " << t << " i " << i;
      }
    }
    // In place gives the same.
    layer_norm(x.data(), w.data(), b.data(), n, n_tokens, eps, x.data());
    EXPECT_EQ(x, out);
  }
}

TEST(Gelu, IsTheErfForm) {
  std::vector<float> x = {-6.0f, -3.0f, -1.0f, -0.5f, 0.0f, 0.25f, 1.0f, 2.5f, 8.0f};
  const std::vector<float> in = x;
  gelu_inplace(x.data(), static_cast<int64_t>(x.size()));
  for (size_t i = 0; i < x.size(); ++i) {
    const double v = in[i];
    const double want = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
    EXPECT_NEAR(x[i], want, 1e-6 * std::max(1.0, std::fabs(want))) << in[i];
  }
  // The tanh approximation differs by ~2e-4 at -1 (0.15880801 vs 0.15865525): this is the exact one.
  EXPECT_NEAR(x[2], -0.15865525, 1e-7);
}

struct SpanCase {
  int n_head, n_head_kv, head_dim;
};

// Two inputs packed as an encoder packs them: the first at rows [0, 5), the second at
// [64, 64 + 37), each token seeing its own input's keys (causal or not).
void span_layout(bool causal, std::vector<int32_t>& first, std::vector<int32_t>& last, int64_t& n_rows) {
  const int lens[2] = {5, 37}, bases[2] = {0, 64};
  first.clear();
  last.clear();
  for (int s = 0; s < 2; ++s) {
    for (int i = 0; i < lens[s]; ++i) {
      first.push_back(bases[s]);
      last.push_back(causal ? bases[s] + i : bases[s] + lens[s] - 1);
    }
  }
  n_rows = 64 + 37;
}

TEST(AttentionSpans, MatchesDoubleReferenceOnEveryIsa) {
  for (const SpanCase sc : {SpanCase{4, 2, 24}, SpanCase{3, 3, 7}, SpanCase{8, 1, 64}}) {
    for (bool causal : {false, true}) {
      std::vector<int32_t> first, last;
      int64_t n_rows = 0;
      span_layout(causal, first, last, n_rows);
      const int64_t n_tokens = static_cast<int64_t>(first.size());
      const int64_t q_dim = int64_t{sc.n_head} * sc.head_dim, kv_dim = int64_t{sc.n_head_kv} * sc.head_dim;
      const std::vector<float> q = random_values(n_tokens * q_dim, 11, -2.0f, 2.0f);
      const std::vector<float> k = random_values(n_rows * kv_dim, 12, -2.0f, 2.0f);
      const std::vector<float> v = random_values(n_rows * kv_dim, 13);
      const AttentionParams p{sc.n_head, sc.n_head_kv, sc.head_dim,
                              1.0f / std::sqrt(static_cast<float>(sc.head_dim))};
      // The reference: softmax(scale q.k) . v over the span, in double.
      std::vector<double> want(n_tokens * q_dim);
      for (int64_t t = 0; t < n_tokens; ++t) {
        for (int h = 0; h < sc.n_head; ++h) {
          const int kvh = h / (sc.n_head / sc.n_head_kv);
          std::vector<double> s;
          double mx = -INFINITY;
          for (int32_t j = first[t]; j <= last[t]; ++j) {
            double dot = 0;
            for (int d = 0; d < sc.head_dim; ++d)
              dot += static_cast<double>(q[(t * sc.n_head + h) * sc.head_dim + d]) *
                     k[j * kv_dim + kvh * sc.head_dim + d];
            s.push_back(dot * p.scale);
            mx = std::max(mx, s.back());
          }
          double z = 0;
          for (double& x : s) z += (x = std::exp(x - mx));
          for (int d = 0; d < sc.head_dim; ++d) {
            double o = 0;
            for (int32_t j = first[t]; j <= last[t]; ++j)
              o += s[j - first[t]] * v[j * kv_dim + kvh * sc.head_dim + d];
            want[(t * sc.n_head + h) * sc.head_dim + d] = o / z;
          }
        }
      }
      for (kernels::Isa isa : every_isa()) {
        ThreadPool pool(3);
        const Compute c{kernels::table(isa), pool};
        std::vector<float> out(n_tokens * q_dim, NAN);
        attention_spans(c, p, k.data(), v.data(), n_rows, q.data(), n_tokens, first.data(), last.data(),
                        out.data());
        // Outputs are convex combinations of values in [-1, 1]. Scores (|x| <= 4 * head_dim * scale,
        // < 32) carry f32 dot-product errors of ~head_dim ulps of 32 (< 1e-5 absolute), and the
        // softmax's exp a few ulps more: the weights move by ~1e-5 relative, the outputs by less.
        // 2e-5 holds that with margin; a wrong span or head mapping errs by ~0.1.
        double worst = 0;
        for (size_t i = 0; i < out.size(); ++i) worst = std::max(worst, std::fabs(out[i] - want[i]));
        EXPECT_LE(worst, 2e-5) << kernels::isa_name(isa) << " heads " << sc.n_head << "/" << sc.n_head_kv
                               << " dim " << sc.head_dim << (causal ? " causal" : " bidirectional");
      }
    }
  }
}

TEST(AttentionSpans, AnInputComputesTheSameBitsAloneOrPacked) {
  const int n_head = 4, n_head_kv = 2, hd = 32;
  const int64_t kv_dim = n_head_kv * hd, q_dim = n_head * hd;
  std::vector<int32_t> first, last;
  int64_t n_rows = 0;
  span_layout(false, first, last, n_rows);
  const int64_t n_tokens = static_cast<int64_t>(first.size());
  const std::vector<float> q = random_values(n_tokens * q_dim, 21, -2.0f, 2.0f);
  const std::vector<float> k = random_values(n_rows * kv_dim, 22, -2.0f, 2.0f);
  const std::vector<float> v = random_values(n_rows * kv_dim, 23);
  const AttentionParams p{n_head, n_head_kv, hd, 1.0f / std::sqrt(static_cast<float>(hd))};
  for (kernels::Isa isa : every_isa()) {
    for (int threads : {1, 4}) {
      ThreadPool pool(threads);
      const Compute c{kernels::table(isa), pool};
      std::vector<float> packed(n_tokens * q_dim);
      attention_spans(c, p, k.data(), v.data(), n_rows, q.data(), n_tokens, first.data(), last.data(),
                      packed.data());
      // The second input alone: its tokens' queries and its keys at rows [0, 37).
      const int64_t t0 = 5, n = 37;
      std::vector<int32_t> f(n, 0), l(n, static_cast<int32_t>(n - 1));
      std::vector<float> alone(n * q_dim);
      attention_spans(c, p, k.data() + 64 * kv_dim, v.data() + 64 * kv_dim, n, q.data() + t0 * q_dim, n,
                      f.data(), l.data(), alone.data());
      EXPECT_TRUE(std::equal(alone.begin(), alone.end(), packed.begin() + t0 * q_dim))
          << kernels::isa_name(isa) << " with " << threads << " threads";
    }
  }
}

}  // namespace
}  // namespace minnow::nn

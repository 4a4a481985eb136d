// nn blocks against direct computations: RoPE in both pair conventions, with Llama 3 frequency
// factors, linear position scaling and LongRoPE's attention factor; RMSNorm; SwiGLU; bias add.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "nn/ops.h"

namespace minnow::nn {
namespace {

// Rotation of dims (a, b) of one head by pos * freq_scale * base^(-2i/n_rot) / factor_i.
void expect_rotated(const RopeParams& p, int head_dim, int pos, const std::vector<float>& in,
                    const std::vector<float>& out) {
  const int half = p.n_rot / 2;
  for (int i = 0; i < half; ++i) {
    const int a = p.type == RopeType::kNorm ? 2 * i : i;
    const int b = p.type == RopeType::kNorm ? 2 * i + 1 : i + half;
    double theta = pos * static_cast<double>(p.freq_scale) * std::pow(static_cast<double>(p.freq_base), -2.0 * i / p.n_rot);
    if (p.freq_factors) theta /= p.freq_factors[i];
    const double ea = in[a] * std::cos(theta) - in[b] * std::sin(theta);
    const double eb = in[a] * std::sin(theta) + in[b] * std::cos(theta);
    EXPECT_NEAR(out[a], ea, 1e-5) << "pair " << i;
    EXPECT_NEAR(out[b], eb, 1e-5) << "pair " << i;
  }
  for (int d = p.n_rot; d < head_dim; ++d) EXPECT_EQ(out[d], in[d]) << "dim " << d << " must not rotate";
}

std::vector<float> ramp(int n) {
  std::vector<float> v(n);
  for (int i = 0; i < n; ++i) v[i] = std::sin(0.7f * i + 0.3f);
  return v;
}

TEST(Rope, BothConventionsFactorsAndScaling) {
  const int head_dim = 16;
  const std::vector<float> factors = {1.0f, 2.0f, 4.0f, 8.0f, 1.0f, 3.0f};
  for (RopeType type : {RopeType::kNorm, RopeType::kNeox}) {
    for (int variant = 0; variant < 3; ++variant) {
      RopeParams p;
      p.type = type;
      p.n_rot = 12;  // fewer than head_dim: the last 4 dims pass through
      p.freq_base = 500000.0f;
      if (variant == 1) p.freq_factors = factors.data();
      if (variant == 2) p.freq_scale = 0.25f;
      for (int pos : {0, 1, 7, 4000}) {
        const std::vector<float> in = ramp(head_dim);
        std::vector<float> x = in;
        const int32_t positions[1] = {pos};
        rope(p, x.data(), 1, 1, head_dim, positions);
        SCOPED_TRACE(testing::Message() << "type " << static_cast<int>(type) << " variant " << variant << " pos " << pos);
        expect_rotated(p, head_dim, pos, in, x);
      }
    }
  }
}

TEST(Rope, LinearScalingIsScaledPositions) {
  RopeParams scaled, plain;
  scaled.n_rot = plain.n_rot = 8;
  scaled.freq_scale = 0.5f;
  std::vector<float> a = ramp(8), b = ramp(8);
  const int32_t p10[1] = {10}, p5[1] = {5};
  rope(scaled, a.data(), 1, 1, 8, p10);
  rope(plain, b.data(), 1, 1, 8, p5);
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(a[i], b[i], 1e-6);
}

TEST(RmsNorm, MatchesDefinition) {
  const std::vector<float> x = {1.0f, -2.0f, 3.0f, 0.5f, 4.0f, -1.0f};  // two rows of 3
  const std::vector<float> w = {1.0f, 0.5f, 2.0f};
  std::vector<float> out(6);
  rms_norm(x.data(), w.data(), 3, 2, 1e-5f, out.data());
  for (int t = 0; t < 2; ++t) {
    double ms = 0;
    for (int i = 0; i < 3; ++i) ms += x[t * 3 + i] * x[t * 3 + i] / 3.0;
    for (int i = 0; i < 3; ++i) EXPECT_NEAR(out[t * 3 + i], x[t * 3 + i] / std::sqrt(ms + 1e-5) * w[i], 1e-6);
  }
}

TEST(SwiGlu, MatchesDefinition) {
  std::vector<float> g = {-3.0f, -0.5f, 0.0f, 0.5f, 3.0f};
  const std::vector<float> u = {1.0f, 2.0f, 3.0f, -1.0f, 0.5f};
  const std::vector<float> g0 = g;
  swiglu_inplace(g.data(), u.data(), 5);
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(g[i], g0[i] / (1.0 + std::exp(-g0[i])) * u[i], 1e-6);
}

TEST(Rope, AttnFactorScalesOnlyRotatedDims) {
  for (RopeType type : {RopeType::kNorm, RopeType::kNeox}) {
    RopeParams plain, scaled;
    plain.type = scaled.type = type;
    plain.n_rot = scaled.n_rot = 12;  // of 16: the last 4 dims pass through, unscaled
    scaled.attn_factor = 1.5f;
    std::vector<float> a = ramp(16), b = ramp(16);
    const int32_t pos[1] = {9};
    rope(plain, a.data(), 1, 1, 16, pos);
    rope(scaled, b.data(), 1, 1, 16, pos);
    for (int d = 0; d < 12; ++d) EXPECT_NEAR(b[d], 1.5f * a[d], 1e-6) << "dim " << d;
    for (int d = 12; d < 16; ++d) EXPECT_EQ(b[d], a[d]) << "dim " << d;
  }
}

TEST(AddBias, AddsToEveryRow) {
  std::vector<float> x = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};  // two rows of 3
  const std::vector<float> bias = {0.5f, -1.0f, 2.0f};
  add_bias(x.data(), bias.data(), 3, 2);
  EXPECT_EQ(x, (std::vector<float>{1.5f, 1.0f, 5.0f, 4.5f, 4.0f, 8.0f}));
}

}  // namespace
}  // namespace minnow::nn

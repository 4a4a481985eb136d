// The f32/f16 helpers (dot_f32, axpy_f32, dot_f16_f32, axpy_f16, f32_to_f16) and the f16/bf16
// row conversions on every ISA, on odd lengths so every tail path runs; outputs carry a guard
// band that must stay untouched.
//
// Tolerances (u = 2^-24). dot: the scalar sum of n rounded products is within n*u*M of the
// exact dot (M = sum |x_i y_i|); a SIMD version with FMA lane accumulators and a tree reduction
// within (n/32 + 8)u*M; so |isa - scalar| <= (2n + 8)u*M, tested with a factor 2 margin.
// axpy: scalar rounds a*x and the add (<= 2u(|a x| + |y|)), FMA rounds once; so per element
// |isa - scalar| <= 3u(|a x| + |y|), tested at 6u. Conversions are exact: bitwise equality.
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernel_test_data.h"
#include "test_util.h"

namespace minnow::kernels::test {
namespace {

constexpr int64_t kLengths[] = {1, 7, 15, 16, 17, 31, 33, 100};
constexpr int kGuard = 8;
constexpr float kSentinel = -12345.0f;

class HelpersTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!isa_available(GetParam())) GTEST_SKIP() << isa_name(GetParam()) << " not available on this CPU";
  }
  const KernelTable& kt() const { return table(GetParam()); }
  const KernelTable& ref() const { return table(Isa::kScalar); }
};

std::vector<uint16_t> to_f16(const std::vector<float>& x) {
  std::vector<uint16_t> h(x.size());
  for (size_t i = 0; i < x.size(); ++i) h[i] = fp32_to_fp16(x[i]);
  return h;
}

TEST_P(HelpersTest, DotF32AndF16) {
  std::mt19937 rng(7);
  for (int64_t n : kLengths) {
    const std::vector<float> x = random_floats(rng, n), y = random_floats(rng, n);
    const std::vector<uint16_t> xh = to_f16(x);
    double exact = 0, mag = 0, exact_h = 0, mag_h = 0;
    for (int64_t i = 0; i < n; ++i) {
      exact += double(x[i]) * y[i];
      mag += std::fabs(double(x[i]) * y[i]);
      exact_h += double(fp16_to_fp32(xh[i])) * y[i];
      mag_h += std::fabs(double(fp16_to_fp32(xh[i])) * y[i]);
    }
    const double k_ref = 2.0 * n * kU, k_isa = 2.0 * (2 * n + 8) * kU;
    EXPECT_NEAR(ref().dot_f32(n, x.data(), y.data()), exact, k_ref * mag) << "scalar dot_f32 n=" << n;
    EXPECT_NEAR(kt().dot_f32(n, x.data(), y.data()), ref().dot_f32(n, x.data(), y.data()), k_isa * mag)
        << "dot_f32 n=" << n;
    EXPECT_NEAR(ref().dot_f16_f32(n, xh.data(), y.data()), exact_h, k_ref * mag_h)
        << "scalar dot_f16_f32 n=" << n;
    EXPECT_NEAR(kt().dot_f16_f32(n, xh.data(), y.data()), ref().dot_f16_f32(n, xh.data(), y.data()),
                k_isa * mag_h)
        << "dot_f16_f32 n=" << n;
  }
}

TEST_P(HelpersTest, AxpyF32AndF16) {
  std::mt19937 rng(8);
  for (int64_t n : kLengths) {
    const std::vector<float> x = random_floats(rng, n), y0 = random_floats(rng, n);
    const std::vector<uint16_t> xh = to_f16(x);
    const float a = 0.37f;
    for (int f16 = 0; f16 < 2; ++f16) {
      std::vector<float> got(static_cast<size_t>(n + kGuard), kSentinel), want(got);
      std::copy(y0.begin(), y0.end(), got.begin());
      std::copy(y0.begin(), y0.end(), want.begin());
      if (f16) {
        kt().axpy_f16(n, a, xh.data(), got.data());
        ref().axpy_f16(n, a, xh.data(), want.data());
      } else {
        kt().axpy_f32(n, a, x.data(), got.data());
        ref().axpy_f32(n, a, x.data(), want.data());
      }
      for (int64_t i = 0; i < n; ++i) {
        const double xv = f16 ? fp16_to_fp32(xh[i]) : x[i];
        const double exact = y0[i] + double(a) * xv;
        const double mag = std::fabs(double(a) * xv) + std::fabs(y0[i]);
        EXPECT_NEAR(want[i], exact, 4 * kU * mag) << "scalar axpy f16=" << f16 << " n=" << n << " i=" << i;
        EXPECT_NEAR(got[i], want[i], 6 * kU * mag) << "axpy f16=" << f16 << " n=" << n << " i=" << i;
      }
      for (int g = 0; g < kGuard; ++g) EXPECT_EQ(got[n + g], kSentinel) << "axpy wrote past n=" << n;
    }
  }
}

// Values that exercise every branch of f32 -> f16: normal, ties at both mantissa parities,
// subnormal results and their ties, overflow to infinity at 65520, zeros of both signs.
std::vector<float> conversion_cases(std::mt19937& rng, int64_t n) {
  const float specials[] = {0.0f,
                            -0.0f,
                            1.0f,
                            -1.0f,
                            65504.0f,
                            65519.99f,
                            65520.0f,
                            -65520.0f,
                            1e10f,
                            -1e10f,
                            1e-5f,
                            6.1e-5f,
                            5.96e-8f,
                            2.98e-8f,
                            2.99e-8f,
                            1e-8f,
                            1e-30f,
                            1.00048828125f,
                            1.00146484375f,
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            1.5f * 0x1p-24f,
                            2.5f * 0x1p-24f,
                            3.0e-5f};
  std::vector<float> v = random_floats(rng, n, 100.0f);
  for (int64_t i = 0; i < n; ++i)
    if (i % 3 == 0) v[i] = specials[(i / 3) % (sizeof(specials) / sizeof(specials[0]))];
  return v;
}

TEST_P(HelpersTest, ConversionsBitExact) {
  std::mt19937 rng(9);
  for (int64_t n : {1, 7, 15, 16, 17, 31, 33, 100, 257}) {
    const std::vector<float> x = conversion_cases(rng, n);
    std::vector<uint16_t> got(static_cast<size_t>(n + kGuard), 0xabcd);
    kt().f32_to_f16(x.data(), got.data(), n);
    for (int64_t i = 0; i < n; ++i)
      EXPECT_EQ(got[i], fp32_to_fp16(x[i])) << "f32_to_f16 n=" << n << " x=" << x[i];
    for (int g = 0; g < kGuard; ++g) EXPECT_EQ(got[n + g], 0xabcd) << "f32_to_f16 wrote past n=" << n;

    // f16 and bf16 rows back to f32, every bit pattern family (no NaNs: payloads may differ).
    std::vector<uint16_t> h(static_cast<size_t>(n)), b(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      h[i] = fp32_to_fp16(x[i]);
      b[i] = fp32_to_bf16(x[i]);
    }
    for (DType t : {DType::F16, DType::BF16}) {
      std::vector<float> out(static_cast<size_t>(n + kGuard), kSentinel);
      kt().to_float[static_cast<size_t>(t)](t == DType::F16 ? h.data() : b.data(), out.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        const float want = t == DType::F16 ? fp16_to_fp32(h[i]) : bf16_to_fp32(b[i]);
        EXPECT_EQ(fp32_to_bits(out[i]), fp32_to_bits(want))
            << dtype_name(t) << " to_float n=" << n << " i=" << i;
      }
      for (int g = 0; g < kGuard; ++g) EXPECT_EQ(out[n + g], kSentinel) << "to_float wrote past n=" << n;
    }
  }
}

// Quantized to_float entries dequantize exactly as the reference does.
TEST_P(HelpersTest, ToFloatMatchesReference) {
  std::mt19937 rng(10);
  for (DType t : kWeightTypes) {
    const int64_t n = 3 * std::max<int64_t>(block_size(t), 32);
    const std::vector<uint8_t> w = random_bytes_row(rng, t, n);
    std::vector<float> got(static_cast<size_t>(n)), want(static_cast<size_t>(n));
    kt().to_float[static_cast<size_t>(t)](w.data(), got.data(), n);
    ASSERT_TRUE(dequantize_row(t, w.data(), want.data(), n));
    EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0) << dtype_name(t);
  }
}

// softmax_scaled against a float64 softmax of the same scaled inputs. Error: scale x is rounded
// (u |s|), s - m once more (u |s - m|); exp turns an absolute error a in its argument into a
// relative one of about a, and adds its own few ulps; the double sum and the final multiply
// add ~2u. So |p - exact| <= p (u (|s| + |s - m|) + 8u), tested with a factor 2.
TEST_P(HelpersTest, SoftmaxScaled) {
  if (kt().softmax_scaled == nullptr) GTEST_SKIP() << isa_name(GetParam()) << " has no softmax kernel";
  std::mt19937 rng(11);
  for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{16}, int64_t{17}, int64_t{100}, int64_t{1000}}) {
    for (float spread : {1.0f, 30.0f}) {  // 30: most probabilities underflow toward 0
      std::vector<float> x = random_floats(rng, n, spread);
      const float scale = 0.125f;
      std::vector<double> s(static_cast<size_t>(n));
      double mx = -INFINITY;
      for (int64_t j = 0; j < n; ++j) {
        s[j] = static_cast<double>(x[j] * scale);
        mx = std::max(mx, s[j]);
      }
      double sum = 0;
      for (int64_t j = 0; j < n; ++j) sum += std::exp(s[j] - mx);
      std::vector<float> got(x.begin(), x.end());
      got.resize(got.size() + kGuard, kSentinel);
      kt().softmax_scaled(got.data(), n, scale);
      for (int64_t j = 0; j < n; ++j) {
        const double want = std::exp(s[j] - mx) / sum;
        const double tol = 2 * want * (kU * (std::fabs(s[j]) + std::fabs(s[j] - mx)) + 8 * kU) + 1e-45;
        EXPECT_NEAR(got[j], want, tol) << "n=" << n << " spread=" << spread << " j=" << j;
      }
      for (int g = 0; g < kGuard; ++g) EXPECT_EQ(got[n + g], kSentinel) << "softmax wrote past n=" << n;
    }
  }
}

// swiglu against float64 silu(g) * u: the exp's few ulps reach the result scaled by
// e^-g / (1 + e^-g) <= 1, the add, divide and multiply 3u more: within 8u relative, tested at 16u.
TEST_P(HelpersTest, Swiglu) {
  if (kt().swiglu == nullptr) GTEST_SKIP() << isa_name(GetParam()) << " has no swiglu kernel";
  std::mt19937 rng(12);
  for (int64_t n : kLengths) {
    std::vector<float> g = random_floats(rng, n, 4.0f), u = random_floats(rng, n);
    if (n > 2) g[1] = 120.0f, g[2] = -120.0f;  // e^-g overflows / underflows
    std::vector<float> got(g.begin(), g.end());
    got.resize(got.size() + kGuard, kSentinel);
    kt().swiglu(got.data(), u.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const double want = g[i] / (1.0 + std::exp(-static_cast<double>(g[i]))) * u[i];
      EXPECT_NEAR(got[i], want, 16 * kU * std::fabs(want) + 1e-45) << "n=" << n << " g=" << g[i];
    }
    for (int gi = 0; gi < kGuard; ++gi) EXPECT_EQ(got[n + gi], kSentinel) << "swiglu wrote past n=" << n;
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, HelpersTest, ::testing::ValuesIn(all_isas()),
                         [](const ::testing::TestParamInfo<Isa>& i) {
                           return std::string(isa_name(i.param));
                         });

}  // namespace
}  // namespace minnow::kernels::test

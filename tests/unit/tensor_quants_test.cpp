// Quantize -> dequantize round trips for every type: per-element error bounds derived from each
// format, relative RMS error bands, zeros, extreme magnitudes, the cached sums of q8_1/q8_k, and
// the API's refusals (unsupported types, partial blocks).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "tensor/blocks.h"
#include "tensor/fp16.h"
#include "tensor/quants.h"
#include "test_util.h"

namespace minnow {
namespace {

// Relative error of one fp16 rounding (normal range): half an ulp of a 10-bit mantissa.
constexpr float kFp16Rel = 0x1p-11f;

struct RoundTrip {
  std::vector<uint8_t> bytes;
  std::vector<float> y;
};

RoundTrip round_trip(DType t, const std::vector<float>& x) {
  const auto n = static_cast<int64_t>(x.size());
  RoundTrip r;
  r.bytes.assign(*row_bytes(t, n), 0xcd);
  r.y.assign(x.size(), NAN);
  EXPECT_TRUE(quantize_row(t, x.data(), r.bytes.data(), n)) << dtype_name(t);
  EXPECT_TRUE(dequantize_row(t, r.bytes.data(), r.y.data(), n)) << dtype_name(t);
  return r;
}

template <typename Block>
const Block* blocks_of(const RoundTrip& r) {
  return reinterpret_cast<const Block*>(r.bytes.data());
}

// Gaussian weights whose scale varies per 32 elements (log-uniform in [0.25, 4]) so k-quant
// sub-blocks need different scales, as real weight rows do. Box-Muller on mt19937 keeps the
// data identical across standard libraries.
std::vector<float> gaussian_row(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  auto uniform = [&] { return (static_cast<float>(rng() >> 8) + 0.5f) * 0x1p-24f; };
  std::vector<float> x(static_cast<size_t>(n));
  float scale = 1.f;
  for (int64_t i = 0; i < n; ++i) {
    if (i % 32 == 0) scale = std::exp2(4.f * uniform() - 2.f);
    const float r = std::sqrt(-2.f * std::log(uniform()));
    x[static_cast<size_t>(i)] = scale * r * std::cos(6.2831853f * uniform());
  }
  return x;
}

float rel_rms(const std::vector<float>& x, const std::vector<float>& y) {
  double num = 0, den = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    num += (static_cast<double>(x[i]) - y[i]) * (static_cast<double>(x[i]) - y[i]);
    den += static_cast<double>(x[i]) * x[i];
  }
  return static_cast<float>(std::sqrt(num / den));
}

float block_absmax(const float* x, int n) {
  float a = 0.f;
  for (int i = 0; i < n; ++i) a = std::max(a, std::fabs(x[i]));
  return a;
}

// Per-element bound checks. Each receives the input, the round trip, and the element count,
// and asserts |x - y| <= a bound derived from the format; `slack` absorbs float rounding of the
// arithmetic itself (a few ulps of the block's magnitude).
constexpr float kSlack = 1e-5f;

// q8_0/q8_1: d = amax/127 and q = round(x/d) give |x - d q| <= d/2. Decoding uses d16 = fp16(d),
// off by at most kFp16Rel * d, times |q| <= 127: bound d * (1/2 + 127 * kFp16Rel).
template <typename Block>
void check_q8_bound(const std::vector<float>& x, const RoundTrip& r, int qk) {
  for (size_t b = 0; b < x.size() / static_cast<size_t>(qk); ++b) {
    const float* xb = &x[b * static_cast<size_t>(qk)];
    const float d = block_absmax(xb, qk) / 127.f;
    EXPECT_EQ(fp16_to_fp32(blocks_of<Block>(r)[b].d), fp16_to_fp32(fp32_to_fp16(d)));
    const float bound = d * (0.5f + 127 * kFp16Rel) + kSlack * d * 127;
    for (int j = 0; j < qk; ++j) ASSERT_LE(std::fabs(xb[j] - r.y[b * qk + j]), bound) << b << ":" << j;
  }
}

// q4_0 (nmax 8) / q5_0 (nmax 16): d = max/-nmax, so |d| = amax/nmax and x/d in [-nmax, nmax].
// Rounding gives |x - d(q - nmax)| <= |d|/2, except x/d above nmax - 1/2 is clamped to q - nmax
// = nmax - 1, an error up to |d|. fp16(d) adds |q - nmax| * kFp16Rel|d| <= nmax kFp16Rel |d|.
template <typename Block>
void check_symmetric_bound(const std::vector<float>& x, const RoundTrip& r, int nmax) {
  for (size_t b = 0; b < x.size() / 32; ++b) {
    const float* xb = &x[b * 32];
    const float d = std::fabs(fp16_to_fp32(blocks_of<Block>(r)[b].d));
    const float amax = block_absmax(xb, 32);
    EXPECT_NEAR(d, amax / static_cast<float>(nmax), amax / static_cast<float>(nmax) * kFp16Rel);
    for (int j = 0; j < 32; ++j) {
      // Which elements can clamp: those on the side opposite the signed max, beyond nmax - 1/2.
      const bool clamps = std::fabs(xb[j]) > (static_cast<float>(nmax) - 0.5f) * d * (1 - 2 * kFp16Rel);
      const float bound =
          d * ((clamps ? 1.f : 0.5f) + static_cast<float>(nmax) * 2 * kFp16Rel) + kSlack * amax;
      ASSERT_LE(std::fabs(xb[j] - r.y[b * 32 + j]), bound) << b << ":" << j;
    }
  }
}

// q4_1 (nmax 15) / q5_1 (nmax 31): d = (max - min)/nmax, m = min, q = round((x - min)/d) in
// [0, nmax]: |x - (d q + min)| <= d/2. fp16 adds q kFp16Rel d <= nmax kFp16Rel d for d and
// kFp16Rel |min| for m.
template <typename Block>
void check_affine_bound(const std::vector<float>& x, const RoundTrip& r, int nmax) {
  for (size_t b = 0; b < x.size() / 32; ++b) {
    const float* xb = &x[b * 32];
    const float lo = *std::min_element(xb, xb + 32), hi = *std::max_element(xb, xb + 32);
    const float d = (hi - lo) / static_cast<float>(nmax);
    const float bound = d * (0.5f + static_cast<float>(nmax) * kFp16Rel) + std::fabs(lo) * kFp16Rel +
                        kSlack * std::max(std::fabs(lo), std::fabs(hi));
    for (int j = 0; j < 32; ++j) ASSERT_LE(std::fabs(xb[j] - r.y[b * 32 + j]), bound) << b << ":" << j;
  }
}

// k-quants: the scales are searched, so no closed-form bound on them; but given the scales a
// block stores, every element must sit on the nearest point of its sub-block's grid
// {step * q - offset, q in [0, nmax]}: within step/2 inside the grid, else within step/2 of its
// end (the rounding was done against the stored fp16 scales, so this holds up to float slack).
void check_grid_bound(const float* xb, const float* yb, int n, float step, float first, int levels,
                      float amax) {
  const float last = first + step * static_cast<float>(levels - 1);
  const float lo = std::min(first, last), hi = std::max(first, last);
  for (int i = 0; i < n; ++i) {
    const float outside = std::max({0.f, lo - xb[i], xb[i] - hi});
    ASSERT_LE(std::fabs(xb[i] - yb[i]), outside + std::fabs(step) / 2 + kSlack * amax) << i;
  }
}

template <typename Block>
void check_k_bound(const std::vector<float>& x, const RoundTrip& r, int nmax) {
  for (size_t b = 0; b < x.size() / kQK_K; ++b) {
    const Block& blk = blocks_of<Block>(r)[b];
    const float d = fp16_to_fp32(blk.d), dmin = fp16_to_fp32(blk.dmin);
    const float amax = block_absmax(&x[b * kQK_K], kQK_K);
    for (int s = 0; s < 8; ++s) {
      uint8_t sc, m;
      get_scale_min_k4(s, blk.scales, &sc, &m);
      const size_t off = b * kQK_K + 32 * static_cast<size_t>(s);
      check_grid_bound(&x[off], &r.y[off], 32, d * sc, -dmin * m, nmax + 1, amax);
    }
  }
}

void check_q6_k_bound(const std::vector<float>& x, const RoundTrip& r) {
  for (size_t b = 0; b < x.size() / kQK_K; ++b) {
    const BlockQ6_K& blk = blocks_of<BlockQ6_K>(r)[b];
    const float amax = block_absmax(&x[b * kQK_K], kQK_K);
    for (int s = 0; s < 16; ++s) {
      const float step = fp16_to_fp32(blk.d) * blk.scales[s];
      const size_t off = b * kQK_K + 16 * static_cast<size_t>(s);
      check_grid_bound(&x[off], &r.y[off], 16, step, -32 * step, 64, amax);
    }
  }
}

// q8_k: d = 1/iscale is a float (no fp16), q = nearest_int(x iscale): |x - d q| <= |d|/2.
void check_q8_k_bound(const std::vector<float>& x, const RoundTrip& r) {
  for (size_t b = 0; b < x.size() / kQK_K; ++b) {
    const float amax = block_absmax(&x[b * kQK_K], kQK_K);
    const float d = blocks_of<BlockQ8_K>(r)[b].d;
    EXPECT_NEAR(std::fabs(d), amax / 127, amax / 127 * 1e-6f);
    for (int j = 0; j < kQK_K; ++j)
      ASSERT_LE(std::fabs(x[b * kQK_K + j] - r.y[b * kQK_K + j]), std::fabs(d) / 2 + kSlack * amax);
  }
}

void check_bound(DType t, const std::vector<float>& x, const RoundTrip& r) {
  switch (t) {
    case DType::Q4_0:
      return check_symmetric_bound<BlockQ4_0>(x, r, 8);
    case DType::Q5_0:
      return check_symmetric_bound<BlockQ5_0>(x, r, 16);
    case DType::Q4_1:
      return check_affine_bound<BlockQ4_1>(x, r, 15);
    case DType::Q5_1:
      return check_affine_bound<BlockQ5_1>(x, r, 31);
    case DType::Q8_0:
      return check_q8_bound<BlockQ8_0>(x, r, 32);
    case DType::Q8_1:
      return check_q8_bound<BlockQ8_1>(x, r, 32);
    case DType::Q4_K:
      return check_k_bound<BlockQ4_K>(x, r, 15);
    case DType::Q5_K:
      return check_k_bound<BlockQ5_K>(x, r, 31);
    case DType::Q6_K:
      return check_q6_k_bound(x, r);
    case DType::Q8_K:
      return check_q8_k_bound(x, r);
    case DType::F16:
      // Below 2^-14 fp16 is subnormal, with an absolute half-ulp of 2^-25.
      for (size_t i = 0; i < x.size(); ++i)
        ASSERT_LE(std::fabs(x[i] - r.y[i]), std::fabs(x[i]) * kFp16Rel + 0x1p-25f);
      return;
    case DType::BF16:
      for (size_t i = 0; i < x.size(); ++i) ASSERT_LE(std::fabs(x[i] - r.y[i]), std::fabs(x[i]) * 0x1p-8f);
      return;
    case DType::F32:
      for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(x[i], r.y[i]);
      return;
    default:
      FAIL() << "no bound for " << dtype_name(t);
  }
}

struct Band {
  DType type;
  float max_rel_rms;  // upper bound of relative RMS error on gaussian_row data
};

// Bands on gaussian_row data: the largest of the measured values (1, 2, 7 and 64 blocks) in the
// comment, bound about 1.3x above it. Expected levels: a uniform quantizer with step h has RMS
// error h / sqrt(12). The max of 32 Gaussians is about 2.1 sigma, so q4_0 (h = amax / 8)
// should give ~0.075, q5_0 ~0.037, q8_0 ~0.005, and the min/max types q4_1 (h = 4.2 sigma / 15)
// ~0.08, q5_1 ~0.039; clamping and fp16 scales add a little. q8_k spans 256 elements whose
// sub-block scales differ up to 16x here, so its step is coarse for the small ones (~1%). The
// k-quants' searched scales beat the min/max types of the same width (q4_k < q4_1, q5_k <
// q5_1), and q6_k with 16-wide sub-blocks and 64 levels sits between q5 and q8.
constexpr Band kBands[] = {
    {DType::F32, 0.f},       // exact
    {DType::F16, 0.0003f},   // 0.00022; 2^-11 / sqrt(3) = 0.00028 for a uniform relative error
    {DType::BF16, 0.0025f},  // 0.0018;  2^-8 / sqrt(3) = 0.0023 likewise
    {DType::Q8_0, 0.008f},   // 0.0062
    {DType::Q8_1, 0.008f},   // 0.0062 (same integers as q8_0)
    {DType::Q8_K, 0.013f},   // 0.0103
    {DType::Q5_0, 0.065f},   // 0.050
    {DType::Q5_1, 0.055f},   // 0.042
    {DType::Q4_0, 0.11f},    // 0.087
    {DType::Q4_1, 0.10f},    // 0.078
    {DType::Q6_K, 0.023f},   // 0.018
    {DType::Q5_K, 0.047f},   // 0.036
    {DType::Q4_K, 0.095f},   // 0.074
};

TEST(QuantRoundTrip, BoundsAndRmsOnGaussianRows) {
  for (const Band& band : kBands) {
    const int64_t block = dtype_info(band.type).block_size == 1 ? 256 : dtype_info(band.type).block_size;
    for (int64_t blocks : {1, 2, 7}) {
      const std::vector<float> x = gaussian_row(blocks * block, 42 + static_cast<uint32_t>(blocks));
      const RoundTrip r = round_trip(band.type, x);
      SCOPED_TRACE(std::string(dtype_name(band.type)) + " x" + std::to_string(blocks));
      check_bound(band.type, x, r);
      const float rms = rel_rms(x, r.y);
      EXPECT_LE(rms, band.max_rel_rms);
      if (blocks == 7) std::printf("  %-5s relative RMS error %.5f\n", dtype_name(band.type), rms);
    }
  }
}

// A larger sample (64 super-blocks) for the bands, so they are not an accident of 7 blocks.
TEST(QuantRoundTrip, RmsOnLargerSample) {
  const std::vector<float> x = gaussian_row(64 * kQK_K, 7);
  for (const Band& band : kBands) {
    const RoundTrip r = round_trip(band.type, x);
    EXPECT_LE(rel_rms(x, r.y), band.max_rel_rms) << dtype_name(band.type);
  }
}

TEST(QuantRoundTrip, AllZeroGivesZero) {
  const std::vector<float> x(3 * kQK_K, 0.f);
  for (const Band& band : kBands) {
    const RoundTrip r = round_trip(band.type, x);
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(r.y[i], 0.f) << dtype_name(band.type) << " " << i;
  }
}

// Blocks of extreme but fp16-representable content. The fp16 super-scales bound what the
// formats can hold: |x| up to 65504 is always representable (each type's d is at most amax),
// so the test stays inside that; beyond it d overflows to Inf in GGML too. Tiny values
// (1e-30, denormal 1e-40) make d underflow to 0, so they must decode to (near) zero, not NaN.
TEST(QuantRoundTrip, ExtremesStayFinite) {
  std::vector<float> x;
  auto add_superblock = [&](auto f) {
    for (int i = 0; i < kQK_K; ++i) x.push_back(f(i));
  };
  add_superblock([](int) { return 3.f; });                                       // 0: constant
  add_superblock([](int) { return -3.f; });                                      // 1
  add_superblock([](int i) { return i == 77 ? 60000.f : 0.f; });                 // 2: one spike
  add_superblock([](int i) { return i % 2 ? 65504.f : -65504.f; });              // 3: fp16 max
  add_superblock([](int i) { return i == 5 ? -60000.f : 1e-3f * (i % 7); });     // 4: huge + small
  add_superblock([](int i) { return 1e-30f * static_cast<float>(i % 5 - 2); });  // 5: tiny
  add_superblock([](int i) { return 1e-40f * static_cast<float>(i % 3); });      // 6: denormal
  add_superblock([](int i) { return i < 128 ? 0.f : 1000.f; });                  // 7: half zero
  for (const Band& band : kBands) {
    SCOPED_TRACE(dtype_name(band.type));
    const RoundTrip r = round_trip(band.type, x);
    for (size_t i = 0; i < x.size(); ++i) ASSERT_TRUE(std::isfinite(r.y[i])) << i;
    auto sb = [&](int b, int i) { return r.y[static_cast<size_t>(b * kQK_K + i)]; };
    // Quantities every type keeps to within a few fp16 roundings (one grid point sits on them).
    EXPECT_NEAR(sb(0, 9), 3.f, 3.f * 4 * kFp16Rel);
    EXPECT_NEAR(sb(1, 9), -3.f, 3.f * 4 * kFp16Rel);
    EXPECT_NEAR(sb(2, 77), 60000.f, 60000.f * 4 * kFp16Rel);
    EXPECT_NEAR(sb(3, 0), -65504.f, 65504.f * 4 * kFp16Rel);
    // q4_0/q5_0 put the signed max (-65504, first) on the grid's end; +65504 clamps a step short.
    if (band.type != DType::Q4_0 && band.type != DType::Q5_0) {
      EXPECT_NEAR(sb(3, 1), 65504.f, 65504.f * 4 * kFp16Rel);
    }
    EXPECT_NEAR(sb(4, 5), -60000.f, 60000.f * 4 * kFp16Rel);
    EXPECT_NEAR(sb(7, 200), 1000.f, 1000.f * 4 * kFp16Rel);
    for (int i = 0; i < kQK_K; ++i) {
      ASSERT_LE(std::fabs(sb(5, i)), 1e-29f) << i;
      ASSERT_LE(std::fabs(sb(6, i)), 1e-39f) << i;
      if (i != 77) {
        ASSERT_LE(std::fabs(sb(2, i)), 60000.f / 8) << i;  // the spike's neighbours
      }
    }
  }
}

TEST(QuantRoundTrip, Q8_1SumMatchesScaledQuantSum) {
  const std::vector<float> x = gaussian_row(7 * kQK8_1, 3);
  const RoundTrip r = round_trip(DType::Q8_1, x);
  for (int b = 0; b < 7; ++b) {
    const BlockQ8_1& blk = blocks_of<BlockQ8_1>(r)[b];
    int sum = 0;
    for (int8_t q : blk.qs) sum += q;
    // s = fp16(d_float * sum): one rounding of the product and d16 = fp16(d_float) another,
    // so |s - d16 * sum| <= 2 kFp16Rel |d sum| (plus fp16's subnormal quantum near zero).
    const float d = fp16_to_fp32(blk.d), s = fp16_to_fp32(blk.s);
    EXPECT_NEAR(s, d * static_cast<float>(sum), 2.1f * kFp16Rel * std::fabs(d * sum) + 0x1p-24f) << b;
  }
}

TEST(QuantRoundTrip, Q8_KBsumsAreGroupSums) {
  const std::vector<float> x = gaussian_row(7 * kQK_K, 5);
  const RoundTrip r = round_trip(DType::Q8_K, x);
  for (int b = 0; b < 7; ++b) {
    const BlockQ8_K& blk = blocks_of<BlockQ8_K>(r)[b];
    for (int g = 0; g < kQK_K / 16; ++g) {
      int sum = 0;
      for (int e = 0; e < 16; ++e) sum += blk.qs[16 * g + e];
      EXPECT_EQ(blk.bsums[g], sum) << b << ":" << g;
    }
    // The largest-magnitude element maps to -127 (GGML's negative-scale convention).
    int amax_i = 0;
    for (int j = 1; j < kQK_K; ++j)
      if (std::fabs(x[b * kQK_K + j]) > std::fabs(x[b * kQK_K + amax_i])) amax_i = j;
    EXPECT_EQ(blk.qs[amax_i], -127);
  }
  // All-zero block: d = 0, qs and bsums zero.
  const RoundTrip z = round_trip(DType::Q8_K, std::vector<float>(kQK_K, 0.f));
  const BlockQ8_K& blk = blocks_of<BlockQ8_K>(z)[0];
  EXPECT_EQ(blk.d, 0.f);
  for (int16_t s : blk.bsums) EXPECT_EQ(s, 0);
}

// Same input, same bytes, whatever the destination held before (every byte is written).
TEST(QuantRoundTrip, DeterministicAndFullyWritten) {
  const std::vector<float> x = gaussian_row(2 * kQK_K, 11);
  for (const Band& band : kBands) {
    std::vector<uint8_t> a(*row_bytes(band.type, 2 * kQK_K), 0x00), b(a.size(), 0xff);
    ASSERT_TRUE(quantize_row(band.type, x.data(), a.data(), 2 * kQK_K));
    ASSERT_TRUE(quantize_row(band.type, x.data(), b.data(), 2 * kQK_K));
    EXPECT_EQ(a, b) << dtype_name(band.type);
  }
  std::vector<uint8_t> a(*row_bytes(DType::Q8_K, kQK_K), 0x00), b(a.size(), 0xff);
  const std::vector<float> zeros(kQK_K, 0.f);
  ASSERT_TRUE(quantize_row(DType::Q8_K, zeros.data(), a.data(), kQK_K));
  ASSERT_TRUE(quantize_row(DType::Q8_K, zeros.data(), b.data(), kQK_K));
  EXPECT_EQ(a, b);
}

TEST(QuantApi, RefusesUnsupportedTypesAndPartialBlocks) {
  std::vector<float> x(512, 1.f), y(512);
  std::vector<uint8_t> buf(4096);
  for (DType t : {DType::IQ2_XXS, DType::Q2_K, DType::Q3_K, DType::IQ4_NL, DType::I8, DType::I32, DType::F64,
                  DType::TQ1_0, DType::MXFP4}) {
    EXPECT_FALSE(quantize_row(t, x.data(), buf.data(), 256)) << dtype_name(t);
    EXPECT_FALSE(dequantize_row(t, buf.data(), y.data(), 256)) << dtype_name(t);
  }
  EXPECT_FALSE(dequantize_row(static_cast<DType>(4), buf.data(), y.data(), 32));   // retired id
  EXPECT_FALSE(dequantize_row(static_cast<DType>(99), buf.data(), y.data(), 32));  // out of range
  EXPECT_FALSE(quantize_row(DType::Q4_0, x.data(), buf.data(), 33));
  EXPECT_FALSE(dequantize_row(DType::Q4_K, buf.data(), y.data(), 128));
  EXPECT_FALSE(quantize_row(DType::F32, x.data(), buf.data(), -1));
  EXPECT_TRUE(quantize_row(DType::Q4_K, x.data(), buf.data(), 0));  // empty row: nothing to do
  EXPECT_TRUE(dequantize_row(DType::F16, buf.data(), y.data(), 0));
}

}  // namespace
}  // namespace minnow

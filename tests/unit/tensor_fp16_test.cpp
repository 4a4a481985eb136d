// fp16 / bf16 conversions (tensor/fp16.h): exhaustive round trips over every 16-bit pattern,
// values checked against an independent ldexp formula, and round-to-nearest-even at halfway
// points, including the subnormal and overflow boundaries.
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "tensor/fp16.h"
#include "test_util.h"

namespace minnow {
namespace {

bool fp16_is_nan(uint16_t h) {
  return (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0;
}

// Value of an fp16 bit pattern from the IEEE definition, in double (exact).
double fp16_value(uint16_t h) {
  const int sign = h >> 15, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  double v;
  if (exp == 0) {
    v = std::ldexp(mant, -24);
  } else if (exp == 31) {
    v = mant ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  } else {
    v = std::ldexp(1024 + mant, exp - 25);
  }
  return sign ? -v : v;
}

TEST(Fp16, EveryPatternDecodesToItsIeeeValue) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const auto b = static_cast<uint16_t>(h);
    const float f = fp16_to_fp32(b);
    if (fp16_is_nan(b)) {
      EXPECT_TRUE(std::isnan(f)) << std::hex << h;
    } else {
      EXPECT_EQ(static_cast<double>(f), fp16_value(b)) << std::hex << h;
      EXPECT_EQ(std::signbit(f), (h & 0x8000u) != 0) << std::hex << h;  // -0 stays -0
    }
  }
}

TEST(Fp16, EveryPatternRoundTrips) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const auto b = static_cast<uint16_t>(h);
    const uint16_t back = fp32_to_fp16(fp16_to_fp32(b));
    if (fp16_is_nan(b)) {
      EXPECT_TRUE(fp16_is_nan(back)) << std::hex << h;
    } else {
      EXPECT_EQ(back, b) << std::hex << h;
    }
  }
}

TEST(Fp16, RoundsHalfwayToEven) {
  // 1 + 2^-11 lies halfway between 1 (0x3c00, even) and 1 + 2^-10 (0x3c01).
  EXPECT_EQ(fp32_to_fp16(1.f + 0x1p-11f), 0x3c00);
  EXPECT_EQ(fp32_to_fp16(1.f + 0x1p-11f + 0x1p-20f), 0x3c01);  // just above halfway
  EXPECT_EQ(fp32_to_fp16(1.f + 0x1p-11f - 0x1p-20f), 0x3c00);  // just below
  // 1 + 3*2^-11: halfway between 0x3c01 (odd) and 0x3c02 (even).
  EXPECT_EQ(fp32_to_fp16(1.f + 3 * 0x1p-11f), 0x3c02);
  EXPECT_EQ(fp32_to_fp16(-1.f - 3 * 0x1p-11f), 0xbc02);
  // Subnormals: 2^-25 is half the smallest subnormal (ties to 0); 3*2^-25 ties to 2 units.
  EXPECT_EQ(fp32_to_fp16(0x1p-25f), 0x0000);
  EXPECT_EQ(fp32_to_fp16(0x1p-25f + 0x1p-40f), 0x0001);
  EXPECT_EQ(fp32_to_fp16(3 * 0x1p-25f), 0x0002);
  EXPECT_EQ(fp32_to_fp16(-3 * 0x1p-25f), 0x8002);
  // Largest subnormal 0x03ff = 1023 * 2^-24; halfway to 2^-14 rounds up to the even 0x0400.
  EXPECT_EQ(fp32_to_fp16(1023.5f * 0x1p-24f), 0x0400);
  // Overflow: 65504 is the largest finite (0x7bff, odd); 65520 is halfway to 2^16 -> Inf.
  EXPECT_EQ(fp32_to_fp16(65504.f), 0x7bff);
  EXPECT_EQ(fp32_to_fp16(65519.99f), 0x7bff);
  EXPECT_EQ(fp32_to_fp16(65520.f), 0x7c00);
  EXPECT_EQ(fp32_to_fp16(-1e10f), 0xfc00);
  EXPECT_EQ(fp32_to_fp16(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(fp32_to_fp16(-0.f), 0x8000);
  EXPECT_EQ(fp32_to_fp16(1e-30f), 0x0000);
  EXPECT_TRUE(fp16_is_nan(fp32_to_fp16(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(fp16_is_nan(fp32_to_fp16(fp32_from_bits(0x7f800001u))));  // NaN with low payload
}

// For random finite floats, the result must be a nearest fp16 (no neighbour is strictly
// closer) and, on an exact tie, the even one: the definition of round-to-nearest-even.
TEST(Fp16, RandomFloatsRoundToNearestEven) {
  std::mt19937 rng(1234);
  std::uniform_real_distribution<float> mag(-30.f, 17.f);
  for (int it = 0; it < 200000; ++it) {
    const float f =
        std::ldexp(1.f + static_cast<float>(rng() & 0xffffff) * 0x1p-24f, static_cast<int>(mag(rng))) *
        ((rng() & 1) ? -1.f : 1.f);
    const uint16_t h = fp32_to_fp16(f);
    const double x = f;
    if (std::fabs(x) >= 65520.0) {
      EXPECT_EQ(h & 0x7fffu, 0x7c00u) << f;
      continue;
    }
    const double err = std::fabs(fp16_value(h) - x);
    const uint16_t mag_bits = h & 0x7fffu, sign_bits = h & 0x8000u;
    for (int delta : {-1, 1}) {
      const int nb = mag_bits + delta;
      if (nb < 0 || nb > 0x7bff) continue;
      const double nerr = std::fabs(fp16_value(static_cast<uint16_t>(sign_bits | nb)) - x);
      EXPECT_LE(err, nerr) << f;
      if (err == nerr) {
        EXPECT_EQ(mag_bits & 1, 0) << f;  // tie -> even
      }
    }
  }
}

TEST(Bf16, EveryPatternRoundTrips) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const auto b = static_cast<uint16_t>(h);
    const float f = bf16_to_fp32(b);
    EXPECT_EQ(fp32_to_bits(f), h << 16);  // bf16 is the top half of an fp32
    const bool nan = (h & 0x7f80u) == 0x7f80u && (h & 0x7fu) != 0;
    const uint16_t back = fp32_to_bf16(f);
    if (nan) {
      EXPECT_TRUE(std::isnan(bf16_to_fp32(back))) << std::hex << h;
    } else {
      EXPECT_EQ(back, b) << std::hex << h;
    }
  }
}

TEST(Bf16, RoundsHalfwayToEven) {
  EXPECT_EQ(fp32_to_bf16(1.f), 0x3f80);
  EXPECT_EQ(fp32_to_bf16(1.f + 0x1p-8f), 0x3f80);             // tie, 0x3f80 even
  EXPECT_EQ(fp32_to_bf16(1.f + 0x1p-8f + 0x1p-20f), 0x3f81);  // above the tie
  EXPECT_EQ(fp32_to_bf16(1.f + 3 * 0x1p-8f), 0x3f82);         // tie, 0x3f82 even
  EXPECT_EQ(fp32_to_bf16(-1.f - 3 * 0x1p-8f), 0xbf82);
  EXPECT_EQ(fp32_to_bf16(fp32_from_bits(0x7f7fffffu)), 0x7f80);  // FLT_MAX rounds to Inf
  EXPECT_EQ(fp32_to_bf16(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(fp32_to_bf16(-0.f), 0x8000);
  // A NaN whose payload is only in the dropped low bits must not become Inf.
  EXPECT_TRUE(std::isnan(bf16_to_fp32(fp32_to_bf16(fp32_from_bits(0x7f800001u)))));
  EXPECT_TRUE(std::isnan(bf16_to_fp32(fp32_to_bf16(fp32_from_bits(0xff800001u)))));
}

}  // namespace
}  // namespace minnow

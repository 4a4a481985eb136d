// Pins every block layout independently of the quantizers: hand-built blocks with literal
// expected values, and single-bit flips that must move exactly one element by the bit's weight.
// Also pins the activation quantizers' rounding (q8_0/q8_1 and q8_k ties to even; q8_k ties to
// even with GGML's negative scale), which quantized matmuls rely on to match reference logits.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <functional>
#include <vector>

#include "tensor/blocks.h"
#include "tensor/fp16.h"
#include "tensor/quants.h"
#include "test_util.h"

namespace minnow {
namespace {

constexpr uint16_t kHalfOne = 0x3c00, kHalfHalf = 0x3800, kHalfQuarter = 0x3400;

float d_pow2(int k) {
  return static_cast<float>(1 << k);
}

template <typename Block>
std::vector<float> decode(DType t, const Block& b) {
  std::vector<float> out(static_cast<size_t>(dtype_info(t).block_size));
  EXPECT_TRUE(dequantize_row(t, &b, out.data(), static_cast<int64_t>(out.size())));
  return out;
}

struct Effect {
  int element;
  float delta;
};

// Flips, one at a time, every bit of bytes [offset, offset + len) of block `base` (whose bits
// there are all zero) and checks that exactly element `where(byte, bit).element` changes, by
// `where(byte, bit).delta`.
template <typename Block>
void check_bit_layout(DType t, const Block& base, size_t offset, size_t len,
                      const std::function<Effect(int byte, int bit)>& where) {
  const std::vector<float> ref = decode(t, base);
  for (size_t byte = 0; byte < len; ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      Block b = base;
      auto* bytes = reinterpret_cast<uint8_t*>(&b);
      ASSERT_EQ(bytes[offset + byte] & (1 << bit), 0);
      bytes[offset + byte] ^= static_cast<uint8_t>(1 << bit);
      const std::vector<float> got = decode(t, b);
      const Effect e = where(static_cast<int>(byte), bit);
      for (size_t i = 0; i < got.size(); ++i) {
        const float want = ref[i] + (static_cast<int>(i) == e.element ? e.delta : 0.f);
        ASSERT_EQ(got[i], want) << dtype_name(t) << " byte " << offset + byte << " bit " << bit << " element "
                                << i;
      }
    }
  }
}

// ---- Legacy 32-element blocks -----------------------------------------------------------------

TEST(QuantLayout, Q4_0LiteralBlock) {
  BlockQ4_0 b{};
  b.d = kHalfHalf;                                                                 // d = 0.5
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | (15 - j) << 4);  // q[j]=j, q[j+16]=15-j
  const std::vector<float> x = decode(DType::Q4_0, b);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(x[j], 0.5f * static_cast<float>(j - 8));
    EXPECT_EQ(x[j + 16], 0.5f * static_cast<float>(7 - j));
  }
  EXPECT_EQ(x[0], -4.f);
  EXPECT_EQ(x[15], 3.5f);
  EXPECT_EQ(x[16], 3.5f);
  EXPECT_EQ(x[31], -4.f);
}

TEST(QuantLayout, Q4_1LiteralBlock) {
  BlockQ4_1 b{};
  b.d = kHalfQuarter;         // 0.25
  b.m = fp32_to_fp16(-1.5f);  // exact in fp16
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | (15 - j) << 4);
  const std::vector<float> x = decode(DType::Q4_1, b);
  EXPECT_EQ(x[0], -1.5f);
  EXPECT_EQ(x[15], 0.25f * 15 - 1.5f);
  EXPECT_EQ(x[16], 0.25f * 15 - 1.5f);
  EXPECT_EQ(x[20], 0.25f * 11 - 1.5f);
  EXPECT_EQ(x[31], -1.5f);
}

TEST(QuantLayout, Q5_0LiteralBlock) {
  BlockQ5_0 b{};
  b.d = kHalfOne;
  // qh = 0x80000001 little-endian: the 5th bit set for element 0 (bit 0) and element 31 (bit 31).
  b.qh[0] = 0x01;
  b.qh[3] = 0x80;
  b.qs[0] = 0x3a;   // q[0] low 4 = 0xa, q[16] low 4 = 0x3
  b.qs[15] = 0xf2;  // q[15] low 4 = 0x2, q[31] low 4 = 0xf
  const std::vector<float> x = decode(DType::Q5_0, b);
  EXPECT_EQ(x[0], (16 + 10) - 16.f);
  EXPECT_EQ(x[16], 3 - 16.f);
  EXPECT_EQ(x[15], 2 - 16.f);
  EXPECT_EQ(x[31], (16 + 15) - 16.f);
  EXPECT_EQ(x[1], -16.f);
}

TEST(QuantLayout, Q5_1LiteralBlock) {
  BlockQ5_1 b{};
  b.d = kHalfHalf;
  b.m = fp32_to_fp16(2.f);
  b.qh[2] = 0x01;  // bit 16: element 16 (the high nibble of qs[0])
  b.qs[0] = 0x71;
  const std::vector<float> x = decode(DType::Q5_1, b);
  EXPECT_EQ(x[0], 0.5f * 1 + 2.f);
  EXPECT_EQ(x[16], 0.5f * (16 + 7) + 2.f);
  EXPECT_EQ(x[17], 2.f);
}

TEST(QuantLayout, Q8LiteralBlocks) {
  BlockQ8_0 a{};
  a.d = kHalfQuarter;
  a.qs[0] = -128;
  a.qs[5] = 127;
  a.qs[31] = -3;
  std::vector<float> x = decode(DType::Q8_0, a);
  EXPECT_EQ(x[0], -32.f);
  EXPECT_EQ(x[5], 31.75f);
  EXPECT_EQ(x[31], -0.75f);

  BlockQ8_1 b{};
  b.d = kHalfHalf;
  b.s = fp32_to_fp16(123.f);  // s is a cached sum, not part of the values
  b.qs[7] = -9;
  x = decode(DType::Q8_1, b);
  EXPECT_EQ(x[7], -4.5f);
  EXPECT_EQ(x[8], 0.f);

  BlockQ8_K k{};
  k.d = -0.125f;
  k.qs[255] = 100;
  x = decode(DType::Q8_K, k);
  EXPECT_EQ(x[255], -12.5f);
}

TEST(QuantLayout, LegacyBitPositions) {
  // Nibble bit k of qs byte j is element j (k < 4) or j + 16 (k >= 4), weight 2^(k mod 4).
  auto nibble = [](int byte, int bit) { return Effect{byte + 16 * (bit / 4), d_pow2(bit % 4)}; };
  BlockQ4_0 q40{};
  q40.d = kHalfOne;
  check_bit_layout(DType::Q4_0, q40, offsetof(BlockQ4_0, qs), 16, nibble);
  BlockQ4_1 q41{};
  q41.d = kHalfOne;
  check_bit_layout(DType::Q4_1, q41, offsetof(BlockQ4_1, qs), 16, nibble);

  // qh bit b (byte b/8, bit b%8, little-endian) is the 5th bit of element b.
  auto high = [](int byte, int bit) { return Effect{8 * byte + bit, 16.f}; };
  BlockQ5_0 q50{};
  q50.d = kHalfOne;
  check_bit_layout(DType::Q5_0, q50, offsetof(BlockQ5_0, qs), 16, nibble);
  check_bit_layout(DType::Q5_0, q50, offsetof(BlockQ5_0, qh), 4, high);
  BlockQ5_1 q51{};
  q51.d = kHalfOne;
  check_bit_layout(DType::Q5_1, q51, offsetof(BlockQ5_1, qs), 16, nibble);
  check_bit_layout(DType::Q5_1, q51, offsetof(BlockQ5_1, qh), 4, high);

  // int8 quants: bit 7 is the sign (two's complement, -128).
  auto int8 = [](int byte, int bit) { return Effect{byte, bit == 7 ? -128.f : d_pow2(bit)}; };
  BlockQ8_0 q80{};
  q80.d = kHalfOne;
  check_bit_layout(DType::Q8_0, q80, offsetof(BlockQ8_0, qs), 32, int8);
  BlockQ8_1 q81{};
  q81.d = kHalfOne;
  check_bit_layout(DType::Q8_1, q81, offsetof(BlockQ8_1, qs), 32, int8);
  BlockQ8_K q8k{};
  q8k.d = 1.f;
  check_bit_layout(DType::Q8_K, q8k, offsetof(BlockQ8_K, qs), 256, int8);
}

// ---- k-quants -----------------------------------------------------------------------------

// Scales {1,2,3,4,50,33,17,63} and mins {5,6,7,8,40,20,60,1}, packed by hand:
//   bytes 0-3:  sc[j] | (sc[j+4] >> 4) << 6   -> 1|3<<6, 2|2<<6, 3|1<<6, 4|3<<6
//   bytes 4-7:  m[j]  | (m[j+4] >> 4) << 6    -> 5|2<<6, 6|1<<6, 7|3<<6, 8|0<<6
//   bytes 8-11: (sc[j+4] & 15) | (m[j+4] & 15) << 4 -> 2|8<<4, 1|4<<4, 1|12<<4, 15|1<<4
constexpr uint8_t kScaleBytes[12] = {0xc1, 0x82, 0x43, 0xc4, 0x85, 0x46, 0xc7, 0x08, 0x82, 0x41, 0xc1, 0x1f};
constexpr uint8_t kSc[8] = {1, 2, 3, 4, 50, 33, 17, 63};
constexpr uint8_t kMin[8] = {5, 6, 7, 8, 40, 20, 60, 1};

TEST(QuantLayout, ScaleMinK4BothHalves) {
  for (int j = 0; j < 8; ++j) {
    uint8_t sc = 0, m = 0;
    get_scale_min_k4(j, kScaleBytes, &sc, &m);
    EXPECT_EQ(sc, kSc[j]) << j;
    EXPECT_EQ(m, kMin[j]) << j;
  }
  uint8_t packed[12];
  pack_scale_min_k4(kSc, kMin, packed);
  EXPECT_EQ(std::memcmp(packed, kScaleBytes, 12), 0);

  // Every one of the 96 bits maps to exactly one bit of one scale or min.
  for (int byte = 0; byte < 12; ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      uint8_t q[12] = {};
      q[byte] = static_cast<uint8_t>(1 << bit);
      // want_index 0-7 is sc[want_index], 8-15 is m[want_index - 8].
      int want_index, want_value;
      if (byte < 8 && bit < 6) {  // bytes 0-3: sc[0..3], bytes 4-7: m[0..3]
        want_index = byte < 4 ? byte : byte + 4;
        want_value = 1 << bit;
      } else if (byte < 8) {  // bits 6-7: bits 4-5 of sc[4..7] (bytes 0-3) or m[4..7] (4-7)
        want_index = byte < 4 ? byte + 4 : byte + 8;
        want_value = 1 << (bit - 2);
      } else {  // bytes 8-11: low nibble bits 0-3 of sc[4..7], high nibble of m[4..7]
        want_index = bit < 4 ? byte - 4 : byte + 4;
        want_value = 1 << (bit % 4);
      }
      for (int j = 0; j < 8; ++j) {
        uint8_t sc = 0, m = 0;
        get_scale_min_k4(j, q, &sc, &m);
        EXPECT_EQ(sc, want_index == j ? want_value : 0) << byte << ":" << bit << " sc" << j;
        EXPECT_EQ(m, want_index == j + 8 ? want_value : 0) << byte << ":" << bit << " m" << j;
      }
    }
  }
}

// The pack/unpack pair is a bijection on 6-bit values in every slot.
TEST(QuantLayout, ScaleMinK4PackRoundTrip) {
  for (int v = 0; v < 64; ++v) {
    for (int slot = 0; slot < 8; ++slot) {
      uint8_t sc[8], m[8];
      for (int j = 0; j < 8; ++j) {
        sc[j] = static_cast<uint8_t>(j == slot ? v : (v * 7 + j) & 63);
        m[j] = static_cast<uint8_t>(j == slot ? 63 - v : (v * 5 + 3 * j) & 63);
      }
      uint8_t q[12];
      pack_scale_min_k4(sc, m, q);
      for (int j = 0; j < 8; ++j) {
        uint8_t a = 0, b = 0;
        get_scale_min_k4(j, q, &a, &b);
        ASSERT_EQ(a, sc[j]);
        ASSERT_EQ(b, m[j]);
      }
    }
  }
}

TEST(QuantLayout, Q4_KLiteralBlock) {
  BlockQ4_K b{};
  b.d = kHalfHalf;        // 0.5
  b.dmin = kHalfQuarter;  // 0.25
  std::memcpy(b.scales, kScaleBytes, 12);
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l)
      b.qs[32 * c + l] = static_cast<uint8_t>(((l + c) & 15) | ((3 * l + c) & 15) << 4);
  const std::vector<float> x = decode(DType::Q4_K, b);
  // element e: chunk c = e / 64, r = e % 64; q = low nibble of qs[32c + r] (r < 32) else high
  // nibble of qs[32c + r - 32]; sub-block s = e / 32; x = 0.5 * sc[s] * q - 0.25 * m[s].
  EXPECT_EQ(x[0], -0.25f * 5);                     // q = 0
  EXPECT_EQ(x[33], 0.5f * 2 * 3 - 0.25f * 6);      // high nibble of qs[1] = 3
  EXPECT_EQ(x[133], 0.5f * 50 * 7 - 0.25f * 40);   // c=2, low nibble of qs[69] = 7, s=4
  EXPECT_EQ(x[255], -0.25f * 1);                   // c=3, high nibble of qs[127] = 96&15 = 0
  EXPECT_EQ(x[200], 0.5f * 17 * 11 - 0.25f * 60);  // c=3, r=8: low nibble of qs[104], s=6
  EXPECT_EQ(x[230], 0.5f * 63 * 5 - 0.25f * 1);    // c=3, r=38: high nibble of qs[102], s=7
  for (int e = 0; e < 256; ++e) {
    const int c = e / 64, r = e % 64, s = e / 32;
    const int q = r < 32 ? ((r + c) & 15) : ((3 * (r - 32) + c) & 15);
    EXPECT_EQ(x[e], 0.5f * kSc[s] * static_cast<float>(q) - 0.25f * kMin[s]) << e;
  }
}

TEST(QuantLayout, Q5_KLiteralBlock) {
  BlockQ5_K b{};
  b.d = kHalfHalf;
  b.dmin = kHalfQuarter;
  std::memcpy(b.scales, kScaleBytes, 12);
  for (int l = 0; l < 32; ++l) b.qh[l] = static_cast<uint8_t>(l * 37 + 11);
  for (int i = 0; i < 128; ++i) b.qs[i] = static_cast<uint8_t>(i * 13 + 5);
  const std::vector<float> x = decode(DType::Q5_K, b);
  // qh[l] = 11 = 0b00001011: elements 0 (bit 0) and 32 (bit 1) and 96 (bit 3) get +16 at l = 0.
  EXPECT_EQ(x[0], 0.5f * 1 * (16 + 5) - 0.25f * 5);               // qs[0] = 5: low 5
  EXPECT_EQ(x[32], 0.5f * 2 * (16 + 0) - 0.25f * 6);              // high nibble 0
  EXPECT_EQ(x[64], 0.5f * 3 * ((32 * 13 + 5) & 15) - 0.25f * 7);  // bit 2 clear
  EXPECT_EQ(x[96], 0.5f * 4 * (16 + (((32 * 13 + 5) & 255) >> 4)) - 0.25f * 8);
  for (int e = 0; e < 256; ++e) {
    const int c = e / 64, r = e % 64, s = e / 32, l = r % 32;
    const int byte = (32 * c + l) * 13 + 5;
    const int lo = r < 32 ? (byte & 15) : ((byte & 255) >> 4);
    const int hi = ((l * 37 + 11) & 255) >> (2 * c + r / 32) & 1;
    EXPECT_EQ(x[e], 0.5f * kSc[s] * static_cast<float>(lo + 16 * hi) - 0.25f * kMin[s]) << e;
  }
}

TEST(QuantLayout, Q6_KLiteralBlock) {
  BlockQ6_K b{};
  b.d = kHalfQuarter;
  for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<int8_t>((j % 2 ? -1 : 1) * (3 * j + 1));
  b.ql[0] = 0x5a;        // element 0 low 4 = 0xa, element 64 low 4 = 0x5
  b.ql[32] = 0x0c;       // element 32 low 4 = 0xc, element 96 low 4 = 0
  b.qh[0] = 0xe4;        // 0b11'10'01'00: element 0 hi 0, element 32 hi 1, element 64 hi 2, element 96 hi 3
  b.ql[64 + 17] = 0xf0;  // second half, l = 17: element 128+17 low 0, element 128+64+17 low 15
  b.qh[32 + 17] = 0x30;  // element 128+64+17 hi 3
  const std::vector<float> x = decode(DType::Q6_K, b);
  EXPECT_EQ(x[0], 0.25f * 1 * (10 - 32));
  EXPECT_EQ(x[32], 0.25f * 7 * (12 + 16 - 32));
  EXPECT_EQ(x[64], 0.25f * 13 * (5 + 32 - 32));
  EXPECT_EQ(x[96], 0.25f * 19 * (0 + 48 - 32));
  EXPECT_EQ(x[145], 0.25f * -28 * (0 - 32));        // sub-block 9: scale -(27+1)
  EXPECT_EQ(x[209], 0.25f * -40 * (15 + 48 - 32));  // sub-block 13: scale -(39+1)
  EXPECT_EQ(x[1], 0.25f * 1 * -32);
  EXPECT_EQ(x[255], 0.25f * -46 * -32);
}

TEST(QuantLayout, KQuantBitPositions) {
  // All scales 1 and mins 0: bytes 0-3 = 1 (sc[0..3]), 8-11 = 1 (low nibble: sc[4..7]).
  uint8_t ones[12] = {1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1};
  // qs byte 32c + l: low nibble is element 64c + l, high nibble element 64c + 32 + l.
  auto qs = [](int byte, int bit) {
    return Effect{64 * (byte / 32) + byte % 32 + 32 * (bit / 4), d_pow2(bit % 4)};
  };
  BlockQ4_K q4{};
  q4.d = kHalfOne;
  std::memcpy(q4.scales, ones, 12);
  check_bit_layout(DType::Q4_K, q4, offsetof(BlockQ4_K, qs), 128, qs);

  BlockQ5_K q5{};
  q5.d = kHalfOne;
  std::memcpy(q5.scales, ones, 12);
  check_bit_layout(DType::Q5_K, q5, offsetof(BlockQ5_K, qs), 128, qs);
  // qh byte l, bit k: chunk k / 2, first (k even) or second 32 of the chunk.
  check_bit_layout(DType::Q5_K, q5, offsetof(BlockQ5_K, qh), 32, [](int byte, int bit) {
    return Effect{64 * (bit / 2) + 32 * (bit % 2) + byte, 16.f};
  });

  BlockQ6_K q6{};
  q6.d = kHalfOne;
  for (auto& s : q6.scales) s = 1;
  // ql byte 64h + lb: l = lb % 32; low nibble is quarter lb / 32, high nibble quarter 2 + lb / 32.
  check_bit_layout(DType::Q6_K, q6, offsetof(BlockQ6_K, ql), 128, [](int byte, int bit) {
    const int h = byte / 64, lb = byte % 64;
    return Effect{128 * h + 32 * (lb / 32 + 2 * (bit / 4)) + lb % 32, d_pow2(bit % 4)};
  });
  // qh byte 32h + l: bits 2k, 2k+1 are bits 4, 5 of quarter k.
  check_bit_layout(DType::Q6_K, q6, offsetof(BlockQ6_K, qh), 64, [](int byte, int bit) {
    return Effect{128 * (byte / 32) + 32 * (bit / 2) + byte % 32, 16.f * d_pow2(bit % 2)};
  });
  // scales[j] multiplies elements 16j .. 16j + 15 (all q - 32 = -32 here).
  BlockQ6_K s6{};
  s6.d = kHalfOne;
  for (int j = 0; j < 16; ++j) {
    BlockQ6_K b = s6;
    b.scales[j] = 1;
    const std::vector<float> x = decode(DType::Q6_K, b);
    for (int e = 0; e < 256; ++e) ASSERT_EQ(x[e], e / 16 == j ? -32.f : 0.f) << j << " " << e;
  }
}

// ---- Activation rounding --------------------------------------------------------------------

TEST(QuantLayout, NearestIntTiesToEven) {
  EXPECT_EQ(nearest_int(0.5f), 0);
  EXPECT_EQ(nearest_int(1.5f), 2);
  EXPECT_EQ(nearest_int(2.5f), 2);
  EXPECT_EQ(nearest_int(-0.5f), 0);
  EXPECT_EQ(nearest_int(-1.5f), -2);
  EXPECT_EQ(nearest_int(-2.5f), -2);
  EXPECT_EQ(nearest_int(2.4999998f), 2);
  EXPECT_EQ(nearest_int(-126.6f), -127);
  EXPECT_EQ(nearest_int(4194303.f), 4194303);
  EXPECT_EQ(nearest_int(-4194303.f), -4194303);
}

TEST(QuantLayout, Q8_0RoundsHalfToEven) {
  // amax = 127 gives d = 1 and id = 1 exactly, so x * id is x and the ties are real ties.
  // Ties go to even as in the reference engine's x86 path (the one its reference logits come from).
  float x[32] = {};
  x[0] = 127.f;
  x[1] = 2.5f;
  x[2] = -2.5f;
  x[3] = 0.5f;
  x[4] = -0.5f;
  x[5] = 3.5f;
  x[6] = 2.4f;
  BlockQ8_0 b{};
  ASSERT_TRUE(quantize_row(DType::Q8_0, x, &b, 32));
  EXPECT_EQ(b.d, kHalfOne);
  EXPECT_EQ(b.qs[0], 127);
  EXPECT_EQ(b.qs[1], 2);
  EXPECT_EQ(b.qs[2], -2);
  EXPECT_EQ(b.qs[3], 0);
  EXPECT_EQ(b.qs[4], 0);
  EXPECT_EQ(b.qs[5], 4);
  EXPECT_EQ(b.qs[6], 2);

  BlockQ8_1 c{};
  ASSERT_TRUE(quantize_row(DType::Q8_1, x, &c, 32));
  EXPECT_EQ(c.d, kHalfOne);
  EXPECT_EQ(std::memcmp(c.qs, b.qs, 32), 0);
  EXPECT_EQ(fp16_to_fp32(c.s), 127.f + 2 - 2 + 0 - 0 + 4 + 2);
}

TEST(QuantLayout, Q8_KUsesNegativeScaleAndTiesToEven) {
  float x[256] = {};
  // max (signed largest magnitude) = -127: iscale = -127 / -127 = 1, d = 1.
  x[0] = -127.f;
  x[1] = 2.5f;
  x[2] = -2.5f;
  x[3] = 3.5f;
  x[4] = 0.5f;
  x[20] = 1.f;
  BlockQ8_K b{};
  ASSERT_TRUE(quantize_row(DType::Q8_K, x, &b, 256));
  EXPECT_EQ(b.d, 1.f);
  EXPECT_EQ(b.qs[0], -127);
  EXPECT_EQ(b.qs[1], 2);
  EXPECT_EQ(b.qs[2], -2);
  EXPECT_EQ(b.qs[3], 4);
  EXPECT_EQ(b.qs[4], 0);
  EXPECT_EQ(b.bsums[0], -127 + 2 - 2 + 4);
  EXPECT_EQ(b.bsums[1], 1);

  // A positive max flips every sign: iscale = -1, d = -1, and the max maps to -127.
  x[0] = 127.f;
  ASSERT_TRUE(quantize_row(DType::Q8_K, x, &b, 256));
  EXPECT_EQ(b.d, -1.f);
  EXPECT_EQ(b.qs[0], -127);
  EXPECT_EQ(b.qs[1], -2);
  EXPECT_EQ(b.qs[3], -4);
  EXPECT_EQ(b.qs[20], -1);
}

// GGML's q4_0 reference on x[j] = j - 16: max = -16, d = 2, q = trunc((j - 16) / 2 + 8.5)
// = (j + 1) / 2, capped at 15; so ties (odd j) round up and x[31] = 15 clips to 14.
TEST(QuantLayout, Q4_0ReferenceRounding) {
  float x[32];
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16);
  BlockQ4_0 b{};
  ASSERT_TRUE(quantize_row(DType::Q4_0, x, &b, 32));
  EXPECT_EQ(b.d, fp32_to_fp16(2.f));
  for (int j = 0; j < 32; ++j) {
    const int q = j < 16 ? (b.qs[j] & 15) : (b.qs[j - 16] >> 4);
    EXPECT_EQ(q, std::min(15, (j + 1) / 2)) << j;
  }
}

}  // namespace
}  // namespace minnow

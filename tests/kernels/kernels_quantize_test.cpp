// Activation quantizers (q8_0, q8_1, q8_k) of every ISA give the same bytes as the scalar
// reference in tensor/: same scale, same rounding (ties to even
// for q8_0/q8_1 and q8_k), same tie-break for q8_k's signed maximum, on random rows and on rows built to hit
// ties, zero blocks, huge and tiny magnitudes.
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "kernel_test_data.h"
#include "test_util.h"

namespace minnow::kernels::test {
namespace {

constexpr int64_t kN = 4 * kQK_K;  // whole blocks of every activation type

struct Case {
  std::string name;
  std::vector<float> x;
};

std::vector<Case> cases() {
  std::mt19937 rng(42);
  std::vector<Case> out;
  out.push_back({"random", random_floats(rng, kN)});
  out.push_back({"zeros", std::vector<float>(kN, 0.0f)});
  out.push_back({"negative_zeros", std::vector<float>(kN, -0.0f)});
  {
    // Every 32-block's largest magnitude is 127 (so d = 1, id = 1 for q8_0/q8_1) and every
    // 256-block starts with -127 (so iscale = 1 for q8_k): the other values are exact halves,
    // ties for both rounding rules.
    std::vector<float> x(kN);
    for (int64_t i = 0; i < kN; ++i)
      x[i] = i % 32 == 0 ? -127.0f : static_cast<float>((i * 7) % 253 - 126) + 0.5f;
    out.push_back({"ties", x});
    for (auto& v : x) v = -v;  // max +127: iscale = -1
    out.push_back({"ties_negated", x});
  }
  {
    // Some blocks zero, some with one non-zero element, the rest random.
    std::vector<float> x = random_floats(rng, kN);
    for (int64_t i = 0; i < 32; ++i) x[i] = 0.0f;
    for (int64_t i = 32; i < 64; ++i) x[i] = i == 40 ? -3.0f : 0.0f;
    for (int64_t i = 256; i < 512; ++i) x[i] = 0.0f;
    out.push_back({"sparse", x});
  }
  {
    // Opposite signs of equal magnitude: q8_k keeps the first (-5 here) as its signed max,
    // not a later one (+5, in the same and in a later 8-lane group).
    std::vector<float> x = random_floats(rng, kN, 0.1f);
    for (int64_t b = 0; b < kN; b += kQK_K) {
      x[b + 1] = -5.0f;
      x[b + 3] = 5.0f;
      x[b + 200] = 5.0f;
    }
    out.push_back({"equal_magnitudes", x});
  }
  out.push_back({"huge", random_floats(rng, kN, 1e30f)});
  out.push_back({"near_float_max", random_floats(rng, kN, 1e37f)});
  out.push_back({"tiny", random_floats(rng, kN, 1e-30f)});
  out.push_back({"constant", std::vector<float>(kN, 0.3f)});
  {
    std::vector<float> x(kN);
    for (int64_t i = 0; i < kN; ++i) x[i] = static_cast<float>(i % 255) - 127.0f;  // integers: exact q
    out.push_back({"integers", x});
  }
  return out;
}

class QuantizeActTest : public ::testing::TestWithParam<std::tuple<Isa, DType>> {};

TEST_P(QuantizeActTest, SameBytesAsScalar) {
  const auto [isa, at] = GetParam();
  if (!isa_available(isa)) GTEST_SKIP() << isa_name(isa) << " not available on this CPU";
  const QuantizeRowFn fn = table(isa).quantize_act[static_cast<size_t>(at)];
  ASSERT_NE(fn, nullptr);
  const size_t bytes = bytes_of(at, kN);
  for (const Case& c : cases()) {
    std::vector<uint8_t> got(bytes, 0xcd), want(bytes, 0xcd);
    fn(c.x.data(), got.data(), kN);
    ASSERT_TRUE(quantize_row(at, c.x.data(), want.data(), kN));
    size_t first = bytes;
    for (size_t i = 0; i < bytes; ++i) {
      if (got[i] != want[i]) {
        first = i;
        break;
      }
    }
    EXPECT_EQ(first, bytes) << isa_name(isa) << " " << dtype_name(at) << " case " << c.name
                            << ": first difference at byte " << first << " (block "
                            << first / dtype_info(at).block_bytes << ")";
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, QuantizeActTest,
                         ::testing::Combine(::testing::ValuesIn(all_isas()),
                                            ::testing::Values(DType::Q8_0, DType::Q8_1, DType::Q8_K)),
                         [](const ::testing::TestParamInfo<std::tuple<Isa, DType>>& i) {
                           return std::string(isa_name(std::get<0>(i.param))) + "_" +
                                  dtype_name(std::get<1>(i.param));
                         });

}  // namespace
}  // namespace minnow::kernels::test

// vec_dot of every supported weight type on every ISA this machine has: the scalar reference
// against an exact float64 dot of the dequantized rows, and each ISA against the scalar
// reference, on 1, 2 and odd numbers of blocks, with tolerances derived below.
//
// Error analysis (u = 2^-24, the unit roundoff of float; first order in u). A kernel sums T
// float terms: one per block (per super-block for q6_k), two for the types with mins (q4_1,
// q5_1: d*sumi and m*s; q4_k, q5_k: d*sumi and dmin*summ), n products for the float types.
// Integer block sums are exact (bounds next to the kernels), so each term carries only the
// roundings of its factors: d_w*d_a, the int->float conversion, the multiply: <= 3u relative.
//   scalar: left-to-right sum of T terms, error <= (T - 1)u * M, so |scalar - exact| <= (T + 2)u M
//   SIMD:   lane accumulators (FMA), then a tree reduction: <= (T + 8)u M
// where M is the sum of the terms' magnitudes (Exact::magnitude). The float64 reference uses
// dequantized values, which are themselves rounded once each (w and a): + 2u M. Hence
//   |scalar - reference| <= (T + 4)u M,    |isa - scalar| <= (2T + 10)u M,
// and we test against twice those (margin for second-order terms and counting slack).
// Where the ISA's quant dot keeps the reference's float order (bit_identical_to_scalar), it
// must equal scalar bit for bit instead.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "kernel_test_data.h"
#include "test_util.h"

namespace minnow::kernels::test {
namespace {

int float_terms(DType t, int64_t n) {
  switch (t) {
    case DType::F32:
    case DType::F16:
    case DType::BF16:
      return static_cast<int>(n);
    case DType::Q4_1:
    case DType::Q5_1:
    case DType::Q4_K:
    case DType::Q5_K:
      return static_cast<int>(2 * n / block_size(t));
    default:
      return static_cast<int>(n / block_size(t));
  }
}

std::vector<int64_t> test_lengths(DType t) {
  if (block_size(t) == 1) return {1, 7, 15, 16, 17, 31, 33, 100, 4096};
  std::vector<int64_t> out;
  for (int64_t nb : {1, 2, 7, 13, 16, 17, 33, 64}) out.push_back(nb * block_size(t));
  return out;
}

std::string param_name(const ::testing::TestParamInfo<std::tuple<Isa, DType>>& info) {
  return std::string(isa_name(std::get<0>(info.param))) + "_" + dtype_name(std::get<1>(info.param));
}

class VecDotTest : public ::testing::TestWithParam<std::tuple<Isa, DType>> {};

TEST_P(VecDotTest, MatchesReferenceAndScalar) {
  const auto [isa, wt] = GetParam();
  if (!isa_available(isa)) GTEST_SKIP() << isa_name(isa) << " not available on this CPU";
  const VecDotFn fn = table(isa).vec_dot[static_cast<size_t>(wt)];
  const VecDotFn ref_fn = table(Isa::kScalar).vec_dot[static_cast<size_t>(wt)];
  ASSERT_NE(fn, nullptr);
  std::mt19937 rng(1234u + static_cast<unsigned>(wt));
  int checked = 0;
  double worst = 0.0;  // largest |error| / tolerance seen, for the report
  for (int64_t n : test_lengths(wt)) {
    for (int mode = 0; mode < 3; ++mode) {
      // mode 0: reference-quantized weights; 1: random block bytes; 2: random bytes against
      // saturated activations (every |q8| = 127), the integer paths' worst case.
      const std::vector<uint8_t> w = mode == 0 ? quantized_row(rng, wt, n) : random_bytes_row(rng, wt, n);
      std::vector<float> x = random_floats(rng, n);
      if (mode == 2)
        for (auto& v : x) v = v < 0 ? -1.0f : 1.0f;
      const std::vector<uint8_t> act = quantize_activations(wt, x.data(), n);
      const Exact e = exact_dot(wt, w.data(), act.data(), n);
      const double t = float_terms(wt, n);
      float got = 0.0f, scalar = 0.0f;
      fn(n, w.data(), act.data(), &got);
      ref_fn(n, w.data(), act.data(), &scalar);
      const std::string where =
          std::string(dtype_name(wt)) + " n=" + std::to_string(n) + " mode=" + std::to_string(mode);
      const double tol_ref = 2 * (t + 4) * kU * e.magnitude;
      EXPECT_NEAR(scalar, e.value, tol_ref) << "scalar vs float64, " << where;
      worst = std::max(worst, std::fabs(scalar - e.value) / tol_ref);
      if (bit_identical_to_scalar(isa, wt)) {
        EXPECT_EQ(std::memcmp(&got, &scalar, sizeof(float)), 0)
            << isa_name(isa) << " vs scalar, " << where << ": " << got << " vs " << scalar;
      } else {
        const double tol_isa = 2 * (2 * t + 10) * kU * e.magnitude;
        EXPECT_NEAR(got, scalar, tol_isa) << isa_name(isa) << " vs scalar, " << where;
        worst = std::max(worst, std::fabs(static_cast<double>(got) - scalar) / tol_isa);
      }
      ++checked;
    }
  }
  RecordProperty("cases", checked);
  RecordProperty("worst_error_over_tolerance", std::to_string(worst));
  if (std::getenv("MINNOW_TEST_VERBOSE")) std::printf("worst error / tolerance: %.3f\n", worst);
}

INSTANTIATE_TEST_SUITE_P(Kernels, VecDotTest,
                         ::testing::Combine(::testing::ValuesIn(all_isas()),
                                            ::testing::ValuesIn(kWeightTypes)),
                         param_name);

// Which ISAs the suite ran on, in the test log and the XML report.
TEST(KernelsIsa, Coverage) {
  std::string covered, skipped;
  for (Isa isa : all_isas()) (isa_available(isa) ? covered : skipped) += std::string(isa_name(isa)) + " ";
  RecordProperty("isas_covered", covered);
  std::printf("kernels: ISAs covered: %s; not available here: %s\n", covered.c_str(),
              skipped.empty() ? "none" : skipped.c_str());
  SUCCEED() << "covered " << covered;
}

}  // namespace
}  // namespace minnow::kernels::test

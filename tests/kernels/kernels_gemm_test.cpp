// The prompt-batch GEMM kernels (GemmFns): every output equals the scalar reference's vec_dot
// of its row and token bit for bit, for row counts around the 16-row register block, token
// counts around the 16-token tile (so partial tiles repeat their last token), padded weight
// and activation strides, an output stride wider than the chunk; nothing outside the chunk's
// outputs is written.
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "kernel_test_data.h"
#include "test_util.h"

namespace minnow::kernels::test {
namespace {

class GemmTest : public ::testing::TestWithParam<std::tuple<Isa, DType>> {};

TEST_P(GemmTest, EachOutputEqualsScalarVecDot) {
  const auto [isa, wt] = GetParam();
  if (!isa_available(isa)) GTEST_SKIP() << isa_name(isa) << " not available on this CPU";
  const GemmFns& g = table(isa).gemm[static_cast<size_t>(wt)];
  if (g.gemm == nullptr) GTEST_SKIP() << isa_name(isa) << " has no GEMM for " << dtype_name(wt);
  ASSERT_TRUE(g.tile_bytes && g.pack_tile && g.work_bytes);
  const VecDotFn ref = table(Isa::kScalar).vec_dot[static_cast<size_t>(wt)];
  const DType at = activation_type(wt);
  std::mt19937 rng(31u + static_cast<unsigned>(wt));
  int checked = 0;
  for (int64_t nb : {1, 3, 18}) {
    const int64_t n = nb * block_size(wt);
    const size_t w_row = bytes_of(wt, n), a_row = bytes_of(at, n);
    const size_t w_stride = w_row + dtype_info(wt).block_bytes, a_stride = a_row + dtype_info(at).block_bytes;
    for (int64_t n_rows : {1, 15, 16, 17, 33}) {
      std::vector<uint8_t> w(w_stride * static_cast<size_t>(n_rows));
      for (int64_t r = 0; r < n_rows; ++r) {
        const std::vector<uint8_t> wr = r % 2 ? quantized_row(rng, wt, n) : random_bytes_row(rng, wt, n);
        std::memcpy(w.data() + static_cast<size_t>(r) * w_stride, wr.data(), w_row);
      }
      for (int64_t n_tokens : {1, 2, 15, 16, 17, 40}) {
        std::vector<uint8_t> act(a_stride * static_cast<size_t>(n_tokens));
        for (int64_t t = 0; t < n_tokens; ++t) {
          std::vector<float> x = random_floats(rng, n);
          if (t % 5 == 4)
            for (auto& v : x) v = v < 0 ? -1.0f : 1.0f;  // every |q8| = 127: the integer extremes
          const std::vector<uint8_t> q = quantize_activations(wt, x.data(), n);
          std::memcpy(act.data() + static_cast<size_t>(t) * a_stride, q.data(), a_row);
        }
        const int64_t n_tiles = (n_tokens + kGemmTokens - 1) / kGemmTokens;
        const size_t tile = g.tile_bytes(n);
        std::vector<uint8_t> packed(tile * static_cast<size_t>(n_tiles));
        for (int64_t i = 0; i < n_tiles; ++i) {
          const int64_t t0 = i * kGemmTokens;
          g.pack_tile(n, act.data() + static_cast<size_t>(t0) * a_stride, a_stride,
                      std::min(kGemmTokens, n_tokens - t0), packed.data() + static_cast<size_t>(i) * tile);
        }
        const int64_t y_stride = n_rows + 3;  // the chunk is a slice of wider output rows
        std::vector<float> y(static_cast<size_t>(y_stride * n_tokens), -7.0f);
        std::vector<uint8_t> work(g.work_bytes(n));
        g.gemm(n, w.data(), w_stride, n_rows, packed.data(), n_tokens, y.data(), y_stride, work.data());
        const std::string where = std::string(isa_name(isa)) + " " + dtype_name(wt) +
                                  " n=" + std::to_string(n) + " rows=" + std::to_string(n_rows) +
                                  " tokens=" + std::to_string(n_tokens);
        for (int64_t t = 0; t < n_tokens; ++t) {
          for (int64_t r = 0; r < y_stride; ++r) {
            const float got = y[static_cast<size_t>(t * y_stride + r)];
            if (r >= n_rows) {
              ASSERT_EQ(got, -7.0f) << where << ": wrote outside the chunk at token " << t << " column " << r;
              continue;
            }
            float want = 0.0f;
            ref(n, w.data() + static_cast<size_t>(r) * w_stride,
                act.data() + static_cast<size_t>(t) * a_stride, &want);
            ASSERT_EQ(std::memcmp(&got, &want, sizeof(float)), 0)
                << where << " row " << r << " token " << t << ": " << got << " vs scalar " << want;
          }
        }
        ++checked;
      }
    }
  }
  RecordProperty("cases", checked);
}

INSTANTIATE_TEST_SUITE_P(
    Kernels, GemmTest, ::testing::Combine(::testing::ValuesIn(all_isas()), ::testing::ValuesIn(kWeightTypes)),
    [](const ::testing::TestParamInfo<std::tuple<Isa, DType>>& i) {
      return std::string(isa_name(std::get<0>(i.param))) + "_" + dtype_name(std::get<1>(i.param));
    });

}  // namespace
}  // namespace minnow::kernels::test

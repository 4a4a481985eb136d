// vec_dot_rows, the many-rows-one-activation kernels of decoding: each output equals the same
// ISA's vec_dot of its row bit for bit (so matmul's results do not depend on which of the two
// ran), and the scalar reference's where the ISA promises that (bit_identical_to_scalar); for
// row counts around the kernels' 4- and 16-row steps, padded row strides, and the weight
// bytes and activations of the vec_dot test (saturated ones for odd row counts); nothing past
// n_rows is written.
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "kernel_test_data.h"
#include "test_util.h"

namespace minnow::kernels::test {
namespace {

class VecDotRowsTest : public ::testing::TestWithParam<std::tuple<Isa, DType>> {};

TEST_P(VecDotRowsTest, EachRowEqualsVecDot) {
  const auto [isa, wt] = GetParam();
  if (!isa_available(isa)) GTEST_SKIP() << isa_name(isa) << " not available on this CPU";
  const KernelTable& kt = table(isa);
  const VecDotRowsFn rows_fn = kt.vec_dot_rows[static_cast<size_t>(wt)];
  if (rows_fn == nullptr) GTEST_SKIP() << isa_name(isa) << " has no vec_dot_rows for " << dtype_name(wt);
  const VecDotFn one = kt.vec_dot[static_cast<size_t>(wt)];
  const VecDotFn ref = table(Isa::kScalar).vec_dot[static_cast<size_t>(wt)];
  std::mt19937 rng(77u + static_cast<unsigned>(wt));
  int checked = 0;
  for (int64_t nb : {1, 3, 18}) {
    const int64_t n = nb * block_size(wt);
    const size_t row = bytes_of(wt, n);
    for (int64_t n_rows : {1, 2, 3, 4, 5, 15, 16, 17, 33, 40}) {
      for (size_t pad : {size_t{0}, dtype_info(wt).block_bytes}) {
        const size_t stride = row + pad;  // a padded stride: rows need not be contiguous
        std::vector<uint8_t> w(stride * static_cast<size_t>(n_rows));
        for (int64_t r = 0; r < n_rows; ++r) {
          const std::vector<uint8_t> wr = r % 2 ? quantized_row(rng, wt, n) : random_bytes_row(rng, wt, n);
          std::memcpy(w.data() + static_cast<size_t>(r) * stride, wr.data(), row);
        }
        std::vector<float> x = random_floats(rng, n);
        if (n_rows % 2 == 1)  // every |q8| = 127: the integer paths' worst case
          for (auto& v : x) v = v < 0 ? -1.0f : 1.0f;
        const std::vector<uint8_t> act = quantize_activations(wt, x.data(), n);
        std::vector<float> out(static_cast<size_t>(n_rows) + 4, -7.0f);  // 4 guard floats
        rows_fn(n, w.data(), stride, n_rows, act.data(), out.data());
        const std::string where = std::string(isa_name(isa)) + " " + dtype_name(wt) +
                                  " n=" + std::to_string(n) + " rows=" + std::to_string(n_rows) +
                                  " pad=" + std::to_string(pad);
        for (int64_t r = 0; r < n_rows; ++r) {
          const uint8_t* wr = w.data() + static_cast<size_t>(r) * stride;
          float want = 0.0f, want_ref = 0.0f;
          one(n, wr, act.data(), &want);
          ref(n, wr, act.data(), &want_ref);
          EXPECT_EQ(std::memcmp(&out[r], &want, sizeof(float)), 0)
              << where << " row " << r << ": " << out[r] << " vs vec_dot " << want;
          if (bit_identical_to_scalar(isa, wt)) {
            EXPECT_EQ(std::memcmp(&out[r], &want_ref, sizeof(float)), 0)
                << where << " row " << r << ": " << out[r] << " vs scalar " << want_ref;
          }
        }
        for (size_t g = static_cast<size_t>(n_rows); g < out.size(); ++g) EXPECT_EQ(out[g], -7.0f) << where;
        ++checked;
      }
    }
  }
  RecordProperty("cases", checked);
}

INSTANTIATE_TEST_SUITE_P(Kernels, VecDotRowsTest,
                         ::testing::Combine(::testing::ValuesIn(all_isas()),
                                            ::testing::ValuesIn(kWeightTypes)),
                         [](const ::testing::TestParamInfo<std::tuple<Isa, DType>>& i) {
                           return std::string(isa_name(std::get<0>(i.param))) + "_" +
                                  dtype_name(std::get<1>(i.param));
                         });

}  // namespace
}  // namespace minnow::kernels::test

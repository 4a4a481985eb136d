// What batching sequences together rests on: on every ISA and weight type, with row-major and
// with packed weights, a token's row of matmul is bit for bit the same whatever the number of
// tokens beside it. Decoding one token takes the vec_dot / vec_dot_rows / packed_matmul path,
// a batch of decoding sequences or a prompt takes the GEMM tiles (16 tokens) and token groups
// (256 tokens): token counts around each of those boundaries, with matrices large enough for
// the pool's parallel paths, are compared with the token computed alone.
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "base/thread_pool.h"
#include "kernel_test_data.h"
#include "kernels/packed.h"
#include "test_util.h"

namespace minnow::kernels::test {
namespace {

constexpr int64_t kTokenCounts[] = {2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 257};

// A 64-byte aligned copy of w packed for the kernels that read 16-row groups.
struct Packed {
  std::vector<uint8_t> buf;
  const uint8_t* p = nullptr;
};
Packed pack(DType wt, const std::vector<uint8_t>& w, int64_t n_in, int64_t n_out) {
  Packed out;
  const std::optional<size_t> bytes = packed_bytes(wt, n_in, n_out);
  if (!bytes) return out;
  out.buf.resize(*bytes + 64);
  uint8_t* p = out.buf.data() + (64 - reinterpret_cast<uintptr_t>(out.buf.data()) % 64) % 64;
  pack_groups(wt, w.data(), n_in, n_out, 0, (n_out + kPackRows - 1) / kPackRows, p);
  out.p = p;
  return out;
}

class BatchInvariance : public ::testing::TestWithParam<std::tuple<Isa, DType>> {};

TEST_P(BatchInvariance, RowsDoNotDependOnTheTokenCount) {
  const auto [isa, wt] = GetParam();
  if (!isa_available(isa)) GTEST_SKIP() << isa_name(isa) << " not available on this CPU";
  const KernelTable& kt = table(isa);
  std::mt19937 rng(11u + static_cast<unsigned>(wt));
  ThreadPool pool(3);
  // 300 x 256: above the pool's threshold for one token; 300 rows end in a partial 16-row group.
  const int64_t n_in = 256, n_out = 300;
  std::vector<uint8_t> w;
  for (int64_t r = 0; r < n_out; ++r) {
    const std::vector<uint8_t> row = r % 2 ? quantized_row(rng, wt, n_in) : random_bytes_row(rng, wt, n_in);
    w.insert(w.end(), row.begin(), row.end());
  }
  const Packed packed = pack(wt, w, n_in, n_out);
  const int64_t max_tokens = kTokenCounts[std::size(kTokenCounts) - 1];
  const std::vector<float> x = random_floats(rng, n_in * max_tokens);
  for (const uint8_t* copy : {static_cast<const uint8_t*>(nullptr), packed.p}) {
    // A packed copy is read only by tables with packed kernels for the type.
    if (copy != nullptr && kt.packed_matmul[static_cast<size_t>(wt)] == nullptr) continue;
    const std::string layout = copy ? "packed" : "row-major";
    // Each token alone: the decoding path.
    std::vector<float> alone(static_cast<size_t>(n_out * max_tokens));
    for (int64_t t = 0; t < max_tokens; ++t)
      matmul(kt, pool, wt, w.data(), n_out, n_in, x.data() + t * n_in, 1, alone.data() + t * n_out, copy);
    for (int64_t n_tokens : kTokenCounts) {
      std::vector<float> y(static_cast<size_t>(n_out * n_tokens), std::nanf(""));
      matmul(kt, pool, wt, w.data(), n_out, n_in, x.data(), n_tokens, y.data(), copy);
      ASSERT_EQ(std::memcmp(y.data(), alone.data(), y.size() * sizeof(float)), 0)
          << layout << ", " << n_tokens << " tokens";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, BatchInvariance,
                         ::testing::Combine(::testing::ValuesIn(all_isas()), ::testing::ValuesIn(kWeightTypes)),
                         [](const ::testing::TestParamInfo<std::tuple<Isa, DType>>& i) {
                           return std::string(isa_name(std::get<0>(i.param))) + "_" +
                                  dtype_name(std::get<1>(i.param));
                         });

// The elementwise SwiGLU kernel: an element's result does not depend on where it falls in the
// array (vector body or tail), so the FFN of a batch row is that of the row alone.
TEST(BatchInvarianceSwiglu, ElementsDoNotDependOnTheLength) {
  std::mt19937 rng(3);
  const std::vector<float> gate = random_floats(rng, 100, 4.0f), up = random_floats(rng, 100);
  for (Isa isa : all_isas()) {
    if (!isa_available(isa) || table(isa).swiglu == nullptr) continue;
    std::vector<float> whole = gate;
    table(isa).swiglu(whole.data(), up.data(), 100);
    for (int64_t offset : {0, 1, 7, 13}) {
      for (int64_t n : {1, 3, 17, 40}) {
        std::vector<float> part(gate.begin() + offset, gate.begin() + offset + n);
        table(isa).swiglu(part.data(), up.data() + offset, n);
        ASSERT_EQ(std::memcmp(part.data(), whole.data() + offset, n * sizeof(float)), 0)
            << isa_name(isa) << " offset " << offset << " n " << n;
      }
    }
  }
}

}  // namespace
}  // namespace minnow::kernels::test

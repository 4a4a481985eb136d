// Weights packed at load (kernels/packed.h) and the kernels that read them: every output of
// packed_matmul / packed_gemm (on the table's GEMM tiles), and of matmul given the packed copy, equals the
// scalar vec_dot of its row and token bit for bit; for row counts that are not multiples of 16, several row
// lengths, 1..40 tokens (the kernels' 1/2/4/8/16-token tiles and their tails); nothing outside
// the outputs is written.
#include <algorithm>
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

constexpr DType kPackable[] = {DType::Q8_0, DType::Q4_0};

// A 64-byte aligned buffer (the packed kernels load whole aligned vectors).
struct Aligned {
  std::vector<uint8_t> buf;
  uint8_t* p = nullptr;
  explicit Aligned(size_t n) : buf(n + 64) {
    p = buf.data() + (64 - reinterpret_cast<uintptr_t>(buf.data()) % 64) % 64;
  }
};

Aligned pack(DType wt, const std::vector<uint8_t>& w, int64_t n_in, int64_t n_out) {
  const std::optional<size_t> bytes = packed_bytes(wt, n_in, n_out);
  EXPECT_TRUE(bytes.has_value());
  Aligned out(*bytes);
  const int64_t groups = (n_out + kPackRows - 1) / kPackRows;
  pack_groups(wt, w.data(), n_in, n_out, 0, groups / 2, out.p);  // in two ranges, as a pool would
  pack_groups(wt, w.data(), n_in, n_out, groups / 2, groups, out.p);
  return out;
}

// Weight rows: alternately quantized floats and random bytes (every quant pattern).
std::vector<uint8_t> weights(std::mt19937& rng, DType wt, int64_t n_in, int64_t n_out) {
  const size_t row = bytes_of(wt, n_in);
  std::vector<uint8_t> w(row * static_cast<size_t>(n_out));
  for (int64_t r = 0; r < n_out; ++r) {
    const std::vector<uint8_t> wr = r % 2 ? quantized_row(rng, wt, n_in) : random_bytes_row(rng, wt, n_in);
    std::memcpy(w.data() + static_cast<size_t>(r) * row, wr.data(), row);
  }
  return w;
}

class PackedTest : public ::testing::TestWithParam<std::tuple<Isa, DType>> {};

TEST_P(PackedTest, KernelsEqualScalarVecDot) {
  const auto [isa, wt] = GetParam();
  if (!isa_available(isa)) GTEST_SKIP() << isa_name(isa) << " not available on this CPU";
  const KernelTable& kt = table(isa);
  const PackedMatmulFn fn = kt.packed_matmul[static_cast<size_t>(wt)];
  const PackedGemmFn gemm = kt.packed_gemm[static_cast<size_t>(wt)];
  if (fn == nullptr) GTEST_SKIP() << isa_name(isa) << " has no packed kernel for " << dtype_name(wt);
  const VecDotFn ref = table(Isa::kScalar).vec_dot[static_cast<size_t>(wt)];
  const DType at = activation_type(wt);
  std::mt19937 rng(91u + static_cast<unsigned>(wt));
  int checked = 0;
  for (int64_t n_in : {32, 96, 576, 1184}) {  // 1184: 37 blocks, over one 32-block chunk of the AMX kernel
    const int64_t nb = n_in / 32;
    for (int64_t n_out : {1, 5, 16, 17, 40}) {
      const std::vector<uint8_t> w = weights(rng, wt, n_in, n_out);
      const Aligned packed = pack(wt, w, n_in, n_out);
      for (int64_t n_tok : {1, 2, 3, 5, 8, 9, 16, 17, 40}) {
        const size_t a_row = bytes_of(at, n_in);
        std::vector<uint8_t> act(a_row * static_cast<size_t>(n_tok));
        std::vector<PackedActBlock> info(static_cast<size_t>(n_tok * nb));
        for (int64_t t = 0; t < n_tok; ++t) {
          std::vector<float> x = random_floats(rng, n_in);
          if (t % 3 == 1)  // every |q8| = 127: the integer paths' worst case
            for (auto& v : x) v = v < 0 ? -1.0f : 1.0f;
          const std::vector<uint8_t> q = quantize_activations(wt, x.data(), n_in);
          std::memcpy(act.data() + static_cast<size_t>(t) * a_row, q.data(), a_row);
          packed_act_info(q.data(), n_in, info.data() + t * nb);
        }
        const int64_t y_stride = n_out + 3;  // 3 guard floats after each token's outputs
        for (const bool use_gemm : {false, true}) {
          if (use_gemm && gemm == nullptr) continue;
          std::vector<float> y(static_cast<size_t>(n_tok * y_stride), -7.0f);
          if (use_gemm) {  // on the activation tiles of the table's row-major GEMM
            const GemmFns& g = kt.gemm[static_cast<size_t>(wt)];
            const size_t tile = g.tile_bytes(n_in);
            Aligned tiles(tile * static_cast<size_t>((n_tok + kGemmTokens - 1) / kGemmTokens));
            for (int64_t t0 = 0; t0 < n_tok; t0 += kGemmTokens)
              g.pack_tile(n_in, act.data() + static_cast<size_t>(t0) * a_row, a_row,
                          std::min(kGemmTokens, n_tok - t0),
                          tiles.p + static_cast<size_t>(t0 / kGemmTokens) * tile);
            gemm(n_in, packed.p, n_out, tiles.p, n_tok, y.data(), y_stride);
          } else {
            fn(n_in, packed.p, n_out, act.data(), a_row, info.data(), n_tok, y.data(), y_stride);
          }
          const std::string where = std::string(isa_name(isa)) + " " + dtype_name(wt) +
                                    (use_gemm ? " gemm" : "") + " n_in=" + std::to_string(n_in) +
                                    " n_out=" + std::to_string(n_out) + " tokens=" + std::to_string(n_tok);
          for (int64_t t = 0; t < n_tok; ++t) {
            for (int64_t r = 0; r < n_out; ++r) {
              float want = 0.0f;
              ref(n_in, w.data() + static_cast<size_t>(r) * bytes_of(wt, n_in),
                  act.data() + static_cast<size_t>(t) * a_row, &want);
              const float got = y[static_cast<size_t>(t * y_stride + r)];
              ASSERT_EQ(std::memcmp(&got, &want, sizeof(float)), 0)
                  << where << " token " << t << " row " << r << ": " << got << " vs scalar " << want;
            }
            for (int64_t g = n_out; g < y_stride; ++g)
              ASSERT_EQ(y[static_cast<size_t>(t * y_stride + g)], -7.0f) << where;
          }
          ++checked;
        }
      }
    }
  }
  RecordProperty("cases", checked);
}

// matmul given packed copies (one matrix, and three sharing an input) equals the scalar
// table's matmul of the row-major data, and a table without packed kernels ignores the copy.
TEST_P(PackedTest, MatmulWithPackedCopiesEqualsScalar) {
  const auto [isa, wt] = GetParam();
  if (!isa_available(isa)) GTEST_SKIP() << isa_name(isa) << " not available on this CPU";
  const KernelTable& kt = table(isa);
  std::mt19937 rng(5u + static_cast<unsigned>(wt));
  ThreadPool pool(2);
  const int64_t n_in = 256;
  const int64_t n_outs[] = {300, 40, 19};  // 300 x 256 x 40 tokens: above the parallel threshold
  std::vector<std::vector<uint8_t>> ws;
  std::vector<Aligned> packs;
  for (int64_t n_out : n_outs) {
    ws.push_back(weights(rng, wt, n_in, n_out));
    packs.push_back(pack(wt, ws.back(), n_in, n_out));
  }
  for (int64_t n_tok : {1, 3, 4, 40}) {
    const std::vector<float> x = random_floats(rng, n_in * n_tok);
    for (size_t i = 0; i < ws.size(); ++i) {
      std::vector<float> want(static_cast<size_t>(n_outs[i] * n_tok)), got(want.size(), std::nanf(""));
      matmul(table(Isa::kScalar), pool, wt, ws[i].data(), n_outs[i], n_in, x.data(), n_tok, want.data());
      matmul(kt, pool, wt, ws[i].data(), n_outs[i], n_in, x.data(), n_tok, got.data(), packs[i].p);
      ASSERT_EQ(std::memcmp(got.data(), want.data(), want.size() * sizeof(float)), 0)
          << isa_name(isa) << " " << dtype_name(wt) << " matrix " << i << " tokens " << n_tok;
    }
    std::vector<std::vector<float>> ys(ws.size());
    std::vector<MatmulOut> parts;
    for (size_t i = 0; i < ws.size(); ++i) {
      ys[i].assign(static_cast<size_t>(n_outs[i] * n_tok), std::nanf(""));
      parts.push_back({ws[i].data(), n_outs[i], ys[i].data(), packs[i].p});
    }
    matmul(kt, pool, wt, parts, n_in, x.data(), n_tok);
    for (size_t i = 0; i < ws.size(); ++i) {
      std::vector<float> want(ys[i].size());
      matmul(table(Isa::kScalar), pool, wt, ws[i].data(), n_outs[i], n_in, x.data(), n_tok, want.data());
      ASSERT_EQ(std::memcmp(ys[i].data(), want.data(), want.size() * sizeof(float)), 0)
          << isa_name(isa) << " " << dtype_name(wt) << " part " << i << " tokens " << n_tok;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, PackedTest,
                         ::testing::Combine(::testing::ValuesIn(all_isas()), ::testing::ValuesIn(kPackable)),
                         [](const ::testing::TestParamInfo<std::tuple<Isa, DType>>& i) {
                           return std::string(isa_name(std::get<0>(i.param))) + "_" +
                                  dtype_name(std::get<1>(i.param));
                         });

TEST(Packed, SizesAndUnpackableTypes) {
  // q8_0, 576 wide: 18 blocks of 32 scale bytes (576, padded to 576) + 18 x 512 quant bytes.
  EXPECT_EQ(packed_group_bytes(DType::Q8_0, 576), 576u + 18u * 512u);
  // q4_0, 96 wide: 3 x 32 = 96 scale bytes padded to 128, + 3 x 256.
  EXPECT_EQ(packed_group_bytes(DType::Q4_0, 96), 128u + 3u * 256u);
  EXPECT_EQ(packed_bytes(DType::Q8_0, 576, 17), 2 * packed_group_bytes(DType::Q8_0, 576));
  EXPECT_FALSE(packed_bytes(DType::Q4_K, 256, 16).has_value());
  EXPECT_FALSE(packed_bytes(DType::F32, 32, 16).has_value());
  EXPECT_FALSE(packed_bytes(DType::Q8_0, 33, 16).has_value());
  EXPECT_FALSE(packed_bytes(DType::Q8_0, int64_t{1} << 60, int64_t{1} << 40).has_value());
}

}  // namespace
}  // namespace minnow::kernels::test

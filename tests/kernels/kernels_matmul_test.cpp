// matmul on every ISA and weight type: bitwise the same for 1, 2 and 3 threads, for a token
// computed alone or inside a batch, and for a matrix alone or one of several sharing the input
// (each output is one vec_dot call or bit-identical to one), and within a derived bound of a
// naive float64 product of the dequantized weights with the unquantized inputs.
//
// Bound. matmul quantizes each activation block (32 or 256 values, largest magnitude A) to
// a_i with |a_i - x_i| <= e = A * (1/254 + 2^-11): half a step of d = A/127, plus d's fp16
// rounding times |q| <= 127 (q8_k keeps d in f32, so this over-covers it). Then
//   |y - naive| <= sum_i (|w_i| + 2 off_i) e_i          (weights times activation error;
//                                                         off as in kernel_test_data.h)
//                + sum_b |m_b| |s_b| 2^-10              (q8_1 only: s = fp16(d * sum q)
//                                                         differs from sum a_i by <= 2^-10 |s|)
//                + 2 (T + 8) u M                        (float rounding, as in the vec_dot test)
// with M = sum_i (|w_i| + 2 off_i)(|x_i| + e_i); we test at 1.05 times that.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "base/thread_pool.h"
#include "kernel_test_data.h"
#include "test_util.h"

namespace minnow::kernels::test {
namespace {

int64_t row_length(DType t) {
  if (block_size(t) == 1) return 67;
  return 3 * block_size(t);
}

int64_t float_terms(DType t, int64_t n) {
  if (block_size(t) == 1) return n;
  const bool two = t == DType::Q4_1 || t == DType::Q5_1 || t == DType::Q4_K || t == DType::Q5_K;
  return (two ? 2 : 1) * n / block_size(t);
}

std::vector<float> run(const KernelTable& kt, ThreadPool& pool, DType wt, const std::vector<uint8_t>& w,
                       int64_t n_out, int64_t n_in, const float* x, int64_t n_tokens) {
  std::vector<float> y(static_cast<size_t>(n_out * n_tokens), std::nanf(""));
  matmul(kt, pool, wt, w.data(), n_out, n_in, x, n_tokens, y.data());
  return y;
}

class MatmulTest : public ::testing::TestWithParam<std::tuple<Isa, DType>> {};

TEST_P(MatmulTest, DeterministicAndNearNaive) {
  const auto [isa, wt] = GetParam();
  if (!isa_available(isa)) GTEST_SKIP() << isa_name(isa) << " not available on this CPU";
  const KernelTable& kt = table(isa);
  const DType at = activation_type(wt);
  const int64_t act_block = block_size(at);
  const int64_t n_in = row_length(wt);
  std::mt19937 rng(99u + static_cast<unsigned>(wt));
  ThreadPool pool1(1), pool2(2), pool3(3);

  for (int64_t n_out : {37, 200}) {
    std::vector<uint8_t> w;
    for (int64_t r = 0; r < n_out; ++r) {
      const std::vector<uint8_t> row = quantized_row(rng, wt, n_in);
      w.insert(w.end(), row.begin(), row.end());
    }
    const size_t wrow = bytes_of(wt, n_in);
    for (int64_t n_tokens : {1, 5, 40}) {
      const std::vector<float> x = random_floats(rng, n_in * n_tokens);
      const std::string where = "n_out=" + std::to_string(n_out) + " n_tokens=" + std::to_string(n_tokens);

      // Thread count does not change a bit.
      const std::vector<float> y1 = run(kt, pool1, wt, w, n_out, n_in, x.data(), n_tokens);
      for (ThreadPool* pool : {&pool2, &pool3}) {
        const std::vector<float> yt = run(kt, *pool, wt, w, n_out, n_in, x.data(), n_tokens);
        EXPECT_EQ(std::memcmp(y1.data(), yt.data(), y1.size() * sizeof(float)), 0)
            << pool->size() << " threads, " << where;
      }
      // Nor does batching: each token alone gives its row of the batch.
      if (n_tokens > 1) {
        for (int64_t t = 0; t < n_tokens; ++t) {
          const std::vector<float> alone = run(kt, pool2, wt, w, n_out, n_in, x.data() + t * n_in, 1);
          EXPECT_EQ(std::memcmp(alone.data(), y1.data() + t * n_out, alone.size() * sizeof(float)), 0)
              << "token " << t << " alone vs in batch, " << where;
        }
      }

      // Against naive float64 of dequantized weights and the raw inputs.
      const std::vector<uint8_t> xq = quantize_activations(wt, x.data(), n_in * n_tokens);
      const size_t arow = bytes_of(at, n_in);
      double worst = 0.0;
      for (int64_t r = 0; r < n_out; ++r) {
        const uint8_t* wr = w.data() + static_cast<size_t>(r) * wrow;
        const std::vector<double> wd = dequantized(wt, wr, n_in);
        const std::vector<double> off = offsets(wt, wr, n_in);
        for (int64_t t = 0; t < n_tokens; ++t) {
          const float* xt = x.data() + t * n_in;
          double naive = 0, weight_err = 0, mag = 0, s_err = 0;
          for (int64_t b = 0; b < n_in / act_block; ++b) {
            double amax = 0;
            for (int64_t i = b * act_block; i < (b + 1) * act_block; ++i)
              amax = std::max(amax, std::fabs(double(xt[i])));
            const double e = at == DType::F32 ? 0.0 : amax * (1.0 / 254 + 0x1p-11);
            for (int64_t i = b * act_block; i < (b + 1) * act_block; ++i) {
              naive += wd[i] * xt[i];
              weight_err += (std::fabs(wd[i]) + 2 * off[i]) * e;
              mag += (std::fabs(wd[i]) + 2 * off[i]) * (std::fabs(double(xt[i])) + e);
            }
            if (at == DType::Q8_1) {
              uint16_t mh;
              std::memcpy(&mh, wr + static_cast<size_t>(b) * dtype_info(wt).block_bytes + 2, 2);
              s_err += std::fabs(fp16_to_fp32(mh) * q8_1_s(xq.data() + static_cast<size_t>(t) * arow, b)) *
                       0x1p-10;
            }
          }
          const double tol =
              1.05 * (weight_err + s_err + 2.0 * static_cast<double>(float_terms(wt, n_in) + 8) * kU * mag);
          const double err = std::fabs(y1[t * n_out + r] - naive);
          EXPECT_LE(err, tol) << "row " << r << " token " << t << ", " << where;
          worst = std::max(worst, err / tol);
        }
      }
      RecordProperty("worst_error_over_tolerance_" + where, std::to_string(worst));
    }
  }
}

TEST_P(MatmulTest, SharedInputPartsEqualSeparateProducts) {
  const auto [isa, wt] = GetParam();
  if (!isa_available(isa)) GTEST_SKIP() << isa_name(isa) << " not available on this CPU";
  const KernelTable& kt = table(isa);
  const int64_t n_in = row_length(wt);
  std::mt19937 rng(7u + static_cast<unsigned>(wt));
  ThreadPool pool(2);
  // Part sizes off the 16-row steps, so chunks straddle parts.
  const int64_t n_outs[] = {37, 16, 200};
  std::vector<std::vector<uint8_t>> ws;
  for (int64_t n_out : n_outs) {
    std::vector<uint8_t> w;
    for (int64_t r = 0; r < n_out; ++r) {
      const std::vector<uint8_t> row = quantized_row(rng, wt, n_in);
      w.insert(w.end(), row.begin(), row.end());
    }
    ws.push_back(std::move(w));
  }
  for (int64_t n_tokens : {1, 5, 40}) {
    const std::vector<float> x = random_floats(rng, n_in * n_tokens);
    std::vector<std::vector<float>> ys;
    std::vector<MatmulOut> parts;
    for (size_t i = 0; i < ws.size(); ++i)
      ys.emplace_back(static_cast<size_t>(n_outs[i] * n_tokens), std::nanf(""));
    for (size_t i = 0; i < ws.size(); ++i) parts.push_back({ws[i].data(), n_outs[i], ys[i].data()});
    matmul(kt, pool, wt, parts, n_in, x.data(), n_tokens);
    for (size_t i = 0; i < ws.size(); ++i) {
      const std::vector<float> alone = run(kt, pool, wt, ws[i], n_outs[i], n_in, x.data(), n_tokens);
      EXPECT_EQ(std::memcmp(alone.data(), ys[i].data(), alone.size() * sizeof(float)), 0)
          << "part " << i << " n_tokens=" << n_tokens;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, MatmulTest,
                         ::testing::Combine(::testing::ValuesIn(all_isas()),
                                            ::testing::ValuesIn(kWeightTypes)),
                         [](const ::testing::TestParamInfo<std::tuple<Isa, DType>>& i) {
                           return std::string(isa_name(std::get<0>(i.param))) + "_" +
                                  dtype_name(std::get<1>(i.param));
                         });

}  // namespace
}  // namespace minnow::kernels::test

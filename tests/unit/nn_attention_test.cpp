// nn attention against a direct computation in double: causal, sliding window (keys
// (p - window, p], the reference's mask), soft-capped scores, GQA, on every kernel set; the
// fused self_attention over a windowed layer's ring for batches longer than the ring's chunk,
// and over several sequences' caches at once;
// GeGLU (tanh GELU) and logit soft-capping against their definitions.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/kernel_table.h"
#include "nn/ops.h"

namespace minnow::nn {
namespace {

constexpr int kHead = 4, kHeadKv = 2, kHeadDim = 16;
constexpr int kQDim = kHead * kHeadDim, kKvDim = kHeadKv * kHeadDim;

std::vector<float> normal(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = nd(rng);
  return v;
}

// Attention of query rows q [n][kHead][kHeadDim] at positions pos over keys / values of
// positions 0.. ([n_pos][kKvDim]), as the definition reads.
std::vector<double> reference(const AttentionParams& p, const std::vector<float>& q,
                              const std::vector<int32_t>& pos, const std::vector<float>& k,
                              const std::vector<float>& v) {
  std::vector<double> out(q.size());
  for (size_t t = 0; t < pos.size(); ++t) {
    for (int h = 0; h < kHead; ++h) {
      const int kvh = h / (kHead / kHeadKv);
      const int first = p.window > 0 ? std::max(0, pos[t] - p.window + 1) : 0;
      std::vector<double> s;
      for (int j = first; j <= pos[t]; ++j) {
        double dot = 0;
        for (int d = 0; d < kHeadDim; ++d)
          dot += double{q[(t * kHead + h) * kHeadDim + d]} * k[j * kKvDim + kvh * kHeadDim + d];
        dot *= p.scale;
        if (p.softcap > 0) dot = p.softcap * std::tanh(dot / p.softcap);
        s.push_back(dot);
      }
      const double mx = *std::max_element(s.begin(), s.end());
      double sum = 0;
      for (double& x : s) sum += (x = std::exp(x - mx));
      for (size_t j = 0; j < s.size(); ++j) {
        for (int d = 0; d < kHeadDim; ++d) {
          out[(t * kHead + h) * kHeadDim + d] += s[j] / sum * v[(first + j) * kKvDim + kvh * kHeadDim + d];
        }
      }
    }
  }
  return out;
}

// Outputs are convex combinations of N(0, 1) values; f32 dots of 16 terms and an f32 weighted
// sum of at most 40 rows stay within ~1e-6 of the double computation. An F16 cache rounds keys
// and values by up to 2^-11 of their size (|x| < ~4): ~2e-3 in a score or a value row, 1e-2
// with margin.
void expect_close(const std::vector<float>& got, const std::vector<double>& want, const std::string& what,
                  DType cache = DType::F32) {
  ASSERT_EQ(got.size(), want.size());
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(got[i] - want[i]));
  EXPECT_LE(worst, cache == DType::F16 ? 1e-2 : 2e-5) << what;
}

struct Variant {
  int window;
  float softcap;
};
const Variant kVariants[] = {{0, 0.0f}, {5, 0.0f}, {1, 0.0f}, {0, 1.5f}, {5, 1.5f}};

TEST(Attention, WindowAndSoftcapMatchTheDefinition) {
  const int n = 40;
  const auto q = normal(n * kQDim, 1), k = normal(n * kKvDim, 2), v = normal(n * kKvDim, 3);
  std::vector<int32_t> pos(n);
  for (int i = 0; i < n; ++i) pos[i] = i;
  ThreadPool pool(3);
  for (kernels::Isa isa : kernels::all_isas()) {
    if (!kernels::isa_available(isa)) continue;
    const Compute c{kernels::table(isa), pool};
    auto cache = KvCache::create(1, 64, kKvDim, DType::F32);
    ASSERT_TRUE(cache.ok());
    kv_store(c, *cache, 0, k.data(), v.data(), n, pos.data());
    for (const Variant& var : kVariants) {
      // A scale of 0.8 puts scores around +-3: a cap of 1.5 binds.
      const AttentionParams p{kHead, kHeadKv, kHeadDim, 0.8f, var.window, var.softcap};
      std::vector<float> out(n * kQDim);
      attention(c, p, *cache, 0, q.data(), n, pos.data(), out.data());
      expect_close(out, reference(p, q, pos, k, v),
                   std::string(kernels::isa_name(isa)) + " window " + std::to_string(var.window) + " cap " +
                       std::to_string(var.softcap));
    }
  }
}

TEST(Attention, SoftcapAndWindowChangeTheResult) {
  // Guards the reference above against agreeing with a kernel that ignores a parameter.
  const int n = 20;
  const auto q = normal(n * kQDim, 4), k = normal(n * kKvDim, 5), v = normal(n * kKvDim, 6);
  std::vector<int32_t> pos(n);
  for (int i = 0; i < n; ++i) pos[i] = i;
  const AttentionParams plain{kHead, kHeadKv, kHeadDim, 0.8f, 0, 0.0f};
  const AttentionParams windowed{kHead, kHeadKv, kHeadDim, 0.8f, 5, 0.0f};
  const AttentionParams capped{kHead, kHeadKv, kHeadDim, 0.8f, 0, 1.5f};
  const auto a = reference(plain, q, pos, k, v), b = reference(windowed, q, pos, k, v),
             c = reference(capped, q, pos, k, v);
  double db = 0, dc = 0;
  for (size_t i = 0; i < a.size(); ++i)
    db = std::max(db, std::fabs(a[i] - b[i])), dc = std::max(dc, std::fabs(a[i] - c[i]));
  EXPECT_GT(db, 0.1);
  EXPECT_GT(dc, 0.1);
}

TEST(SelfAttention, RingEqualsTheDefinitionForAnyBatching) {
  const int n = 100, window = 5;
  const auto q = normal(n * kQDim, 7), k = normal(n * kKvDim, 8), v = normal(n * kKvDim, 9);
  std::vector<int32_t> pos(n);
  for (int i = 0; i < n; ++i) pos[i] = i;
  ThreadPool pool(2);
  const Compute c{kernels::active(), pool};
  const std::vector<int> windows = {window};
  for (float cap : {0.0f, 1.5f}) {
    const AttentionParams p{kHead, kHeadKv, kHeadDim, 0.8f, window, cap};
    const auto want = reference(p, q, pos, k, v);
    // 100 positions through a ring of 5 + 31 rows in a 128-position context; batches of 50 and
    // 100 exceed the ring's chunk of 32, so self_attention must split them.
    for (int batch : {1, 7, 32, 50, 100}) {
      auto cache = KvCache::create(1, 128, kKvDim, DType::F32, windows);
      ASSERT_TRUE(cache.ok());
      ASSERT_LT(cache->capacity(0), n);
      std::vector<float> out(n * kQDim);
      for (int b = 0; b < n; b += batch) {
        const int m = std::min(batch, n - b);
        self_attention(c, p, *cache, 0, k.data() + b * kKvDim, v.data() + b * kKvDim, q.data() + b * kQDim, m,
                       pos.data() + b, out.data() + b * kQDim);
      }
      expect_close(out, want, "batch " + std::to_string(batch) + " cap " + std::to_string(cap));
    }
  }
}

// Several sequences in one self_attention call, each in its own cache (windowed rings among
// them, one F32 among F16 ones), with chunks longer than a ring's and sequences of different
// lengths and starting positions: every row equals, bit for bit, the same sequence alone.
TEST(SelfAttention, SeveralSequencesEqualEachAlone) {
  const int window = 5;
  const std::vector<int> windows = {window};
  struct Seq {
    int start, n;  // positions [start, start + n) after start positions already cached
    bool ring;
    DType type;
  };
  const Seq seqs[] = {{0, 70, true, DType::F16}, {3, 1, false, DType::F16}, {10, 40, true, DType::F16},
                      {0, 9, false, DType::F32}, {60, 1, true, DType::F16}};
  ThreadPool pool(3);
  for (kernels::Isa isa : kernels::all_isas()) {
    if (!kernels::isa_available(isa)) continue;
    const Compute c{kernels::table(isa), pool};
    for (int w : {0, window}) {
      const AttentionParams p{kHead, kHeadKv, kHeadDim, 0.8f, w, 0.0f};
      std::vector<KvCache> together, alone;
      std::vector<std::vector<float>> q, k, v, out_together, out_alone;
      std::vector<std::vector<int32_t>> pos;
      std::vector<SeqAttention> parts;
      for (size_t i = 0; i < std::size(seqs); ++i) {
        const Seq& s = seqs[i];
        const int total = s.start + s.n;
        k.push_back(normal(total * kKvDim, 20 + i));
        v.push_back(normal(total * kKvDim, 40 + i));
        q.push_back(normal(s.n * kQDim, 60 + i));
        pos.emplace_back(total);
        for (int j = 0; j < total; ++j) pos.back()[j] = j;
        for (auto* caches : {&together, &alone}) {
          // A global layer cannot keep only a ring: rings only where the layer is windowed.
          auto cache = KvCache::create(1, 128, kKvDim, s.type, s.ring && w > 0 ? windows : std::vector<int>{});
          ASSERT_TRUE(cache.ok());
          caches->push_back(std::move(*cache));
          // The cached start, stored (and attended) the same way for both.
          std::vector<float> scratch(s.start * kQDim + kQDim);
          self_attention(c, p, caches->back(), 0, k.back().data(), v.back().data(), normal(s.start * kQDim + kQDim, 1).data(),
                         s.start, pos.back().data(), scratch.data());
        }
        out_together.emplace_back(s.n * kQDim);
        out_alone.emplace_back(s.n * kQDim);
      }
      for (size_t i = 0; i < std::size(seqs); ++i) {
        const Seq& s = seqs[i];
        parts.push_back({&together[i], s.n, pos[i].data() + s.start, k[i].data() + s.start * kKvDim,
                         v[i].data() + s.start * kKvDim, q[i].data(), out_together[i].data()});
        self_attention(c, p, alone[i], 0, k[i].data() + s.start * kKvDim, v[i].data() + s.start * kKvDim,
                       q[i].data(), s.n, pos[i].data() + s.start, out_alone[i].data());
      }
      self_attention(c, p, 0, parts);
      for (size_t i = 0; i < std::size(seqs); ++i) {
        EXPECT_EQ(out_together[i], out_alone[i]) << kernels::isa_name(isa) << " window " << w << " sequence " << i;
        // And both are attention as defined (the keys of the whole sequence).
        std::vector<int32_t> rows(pos[i].begin() + seqs[i].start, pos[i].end());
        expect_close(out_together[i], reference(p, q[i], rows, k[i], v[i]),
                     std::string(kernels::isa_name(isa)) + " sequence " + std::to_string(i), seqs[i].type);
      }
    }
  }
}

TEST(GeGlu, MatchesTheTanhApproximation) {
  // gelu_tanh(x) = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), evaluated in double.
  const float x[] = {1.0f, -1.0f, 2.0f, -3.0f, 0.5f, 0.0f};
  const double gelu[] = {0.8411919906082768,     -0.15880800939172324, 1.954597694087775,
                         -0.0036373920817729943, 0.34571400982514394,  0.0};
  std::vector<float> gate(x, x + 6), up = {1.0f, 2.0f, -0.5f, 3.0f, 1.0f, 7.0f};
  geglu_inplace(gate.data(), up.data(), 6);
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(gate[i], gelu[i] * up[i], 1e-6) << x[i];
}

TEST(Softcap, IsCapTimesTanh) {
  std::vector<float> x = {0.0f, 1.0f, -4.0f, 100.0f, -1e6f};
  softcap_inplace(x.data(), 5, 2.0f);
  EXPECT_EQ(x[0], 0.0f);
  EXPECT_NEAR(x[1], 2.0 * std::tanh(0.5), 1e-6);
  EXPECT_NEAR(x[2], 2.0 * std::tanh(-2.0), 1e-6);
  EXPECT_NEAR(x[3], 2.0, 1e-6);
  EXPECT_NEAR(x[4], -2.0, 1e-6);
}

}  // namespace
}  // namespace minnow::nn

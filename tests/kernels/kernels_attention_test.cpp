// The flash-attention tile kernels (attn_tile_f16 / attn_tile_f32) of every ISA that has them,
// against attention computed in double from the same cache contents: head dims 64/128/256 and
// an odd 40, GQA groups of 1/3/7 heads, 1 to 40 query tokens over up to 600 keys, sliding
// windows, soft-capping, a ring cache whose rows wrap, and a KV head other than the first. And
// batching invariance: a row's output is bit-identical whatever rows share its tile.
//
// Tolerance (u = 2^-24; per row, C = max |score|, V = max |v| over its keys, n its keys, b the
// key blocks they span). A score is four FMA chains over quarters of the head's dims, added in
// order: |error| <= (hd/4 + 3) u A_j with A_j = sum_d |q_d k_jd|; scaling rounds once more (u |x|) and soft-capping adds its division,
// tanh and product (<= 6u cap, tanh' <= 1). A weight e^(x_j - m) then carries that error as a
// relative one, plus the subtraction (u |x_j - m| <= 2u C), exp's few ulps and those of every
// rescale by e^(m_old - m_new) that follows it (3u + u |m_old - m_new| each, the changes summing
// to <= 2C): delta <= E + 4u C + 3u (b + 1). The output o / l, o and l sums of n weighted terms
// (sequential, tree within a block, + one rounding per rescale), is then within
// 2 delta V + (n + 2b + 8) u V of the exact one. Tested at twice that bound.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernel_test_data.h"

namespace minnow::kernels::test {
namespace {

constexpr int kKvHeads = 2;  // the tile reads KV head 1, so the head offset and row stride matter

// A cache of one layer: n_rows rows of [kKvHeads][hd] elements, position p in row p % n_rows.
template <class E>
struct Cache {
  int64_t hd;
  int n_rows;
  std::vector<E> k, v;         // [n_rows][kKvHeads][hd]
  std::vector<double> kd, vd;  // the same values in double
};

template <class E>
Cache<E> random_cache(int64_t hd, int n_rows, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  Cache<E> c{hd, n_rows, {}, {}, {}, {}};
  const size_t n = static_cast<size_t>(n_rows) * kKvHeads * hd;
  for (auto* pair : {&c.k, &c.v}) pair->resize(n);
  c.kd.resize(n);
  c.vd.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const float kf = nd(rng), vf = nd(rng);
    if constexpr (sizeof(E) == 2) {
      c.k[i] = fp32_to_fp16(kf);
      c.v[i] = fp32_to_fp16(vf);
      c.kd[i] = fp16_to_fp32(c.k[i]);
      c.vd[i] = fp16_to_fp32(c.v[i]);
    } else {
      c.k[i] = kf;
      c.v[i] = vf;
      c.kd[i] = kf;
      c.vd[i] = vf;
    }
  }
  return c;
}

struct Shape {
  int64_t hd;
  int group;     // query heads per KV head
  int n_tokens;  // consecutive query tokens, the last at position n_pos - 1
  int n_pos;
  int ring;      // cache rows (>= n_pos: a global layer)
};

struct Params {
  float scale;
  int window;  // 0: causal over all positions
  float softcap;
};

int first_key(const Params& p, int pos) {
  return p.window > 0 ? std::max(0, pos - p.window + 1) : 0;
}

// The tile kernel over all tokens in tiles of tile_tokens x group rows (as nn::attention
// splits a batch), or over single rows when single_rows.
template <class E>
std::vector<float> run_kernel(AttnTileFn<E> fn, const Cache<E>& c, const Shape& s, const Params& p,
                              const std::vector<float>& q, int tile_tokens, bool single_rows) {
  const int64_t q_stride = static_cast<int64_t>(kKvHeads) * s.group * s.hd;  // n_head * hd
  std::vector<float> out(q.size(), -7.0f);
  std::vector<int32_t> first(s.n_tokens), last(s.n_tokens);
  for (int t = 0; t < s.n_tokens; ++t) {
    last[t] = s.n_pos - s.n_tokens + t;
    first[t] = first_key(p, last[t]);
  }
  const int heads = single_rows ? 1 : s.group;
  const int tokens = single_rows ? 1 : tile_tokens;
  std::vector<float> work(static_cast<size_t>(attn_tile_work_floats(s.hd, tokens * heads)));
  for (int t0 = 0; t0 < s.n_tokens; t0 += tokens) {
    for (int h0 = 0; h0 < s.group; h0 += heads) {
      // Query heads of KV head 1: [group, 2 group).
      const int64_t off = t0 * q_stride + (s.group + h0) * s.hd;
      AttnTile<E> a{};
      a.head_dim = s.hd;
      a.n_tokens = std::min(tokens, s.n_tokens - t0);
      a.n_heads = heads;
      a.q = q.data() + off;
      a.q_stride = q_stride;
      a.out = out.data() + off;
      a.first = first.data() + t0;
      a.last = last.data() + t0;
      a.k = c.k.data() + s.hd;
      a.v = c.v.data() + s.hd;
      a.kv_stride = kKvHeads * s.hd;
      a.ring = c.n_rows;
      a.scale = p.scale;
      a.softcap = p.softcap;
      fn(a, work.data());
    }
  }
  return out;
}

template <class E>
void check_against_double(AttnTileFn<E> fn, const Shape& s, const Params& p, uint64_t seed,
                          const std::string& what) {
  std::mt19937 rng(static_cast<uint32_t>(seed));
  const Cache<E> c = random_cache<E>(s.hd, s.ring, rng);
  const int n_head = kKvHeads * s.group;
  std::vector<float> q(static_cast<size_t>(s.n_tokens) * n_head * s.hd);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (float& x : q) x = nd(rng);
  const int tile_tokens = std::max(1, std::min(32, kAttnTileRows / s.group));  // as nn::attention
  const std::vector<float> got = run_kernel(fn, c, s, p, q, tile_tokens, false);
  const double u = kU;
  for (int t = 0; t < s.n_tokens; ++t) {
    const int pos = s.n_pos - s.n_tokens + t, first = first_key(p, pos);
    const int n = pos - first + 1, blocks = pos / kAttnKeyBlock - first / kAttnKeyBlock + 1;
    for (int h = s.group; h < n_head; ++h) {  // the heads of KV head 1
      const float* qr = q.data() + (static_cast<size_t>(t) * n_head + h) * s.hd;
      std::vector<double> x(n);
      double cmax = 0, vmax = 0, e_max = 0;
      for (int j = 0; j < n; ++j) {
        const size_t row = (static_cast<size_t>((first + j) % s.ring) * kKvHeads + 1) * s.hd;
        double dot = 0, mag = 0;
        for (int64_t d = 0; d < s.hd; ++d) {
          dot += double{qr[d]} * c.kd[row + d];
          mag += std::fabs(double{qr[d]} * c.kd[row + d]);
          vmax = std::max(vmax, std::fabs(c.vd[row + d]));
        }
        x[j] = dot * p.scale;
        double e = p.scale * (s.hd / 4.0 + 3) * u * mag * 1.01 + u * std::fabs(x[j]);
        if (p.softcap > 0) {
          x[j] = p.softcap * std::tanh(x[j] / p.softcap);
          e += 6 * u * p.softcap;
        }
        cmax = std::max(cmax, std::fabs(x[j]));
        e_max = std::max(e_max, e);
      }
      const double m = *std::max_element(x.begin(), x.end());
      double l = 0;
      for (double& xj : x) l += (xj = std::exp(xj - m));
      const double delta = e_max + 4 * u * cmax + 3 * u * (blocks + 1);
      const double tol = 2 * (2 * delta * vmax + (n + 2 * blocks + 8) * u * vmax);
      const float* o = got.data() + (static_cast<size_t>(t) * n_head + h) * s.hd;
      for (int64_t d = 0; d < s.hd; ++d) {
        double want = 0;
        for (int j = 0; j < n; ++j)
          want += x[j] / l * c.vd[(static_cast<size_t>((first + j) % s.ring) * kKvHeads + 1) * s.hd + d];
        ASSERT_NEAR(o[d], want, tol) << what << " token " << t << " head " << h << " dim " << d;
      }
    }
  }
  // The heads of KV head 0 are no tile's: untouched.
  for (int t = 0; t < s.n_tokens; ++t)
    for (int64_t i = 0; i < s.group * s.hd; ++i)
      ASSERT_EQ(got[static_cast<size_t>(t) * n_head * s.hd + i], -7.0f) << what << " wrote KV head 0's rows";
}

class AttentionTileTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!isa_available(GetParam())) GTEST_SKIP() << isa_name(GetParam()) << " not available on this CPU";
    if (table(GetParam()).attn_tile_f16 == nullptr || table(GetParam()).attn_tile_f32 == nullptr)
      GTEST_SKIP() << isa_name(GetParam()) << " has no attention tile kernels";
  }
  const KernelTable& kt() const { return table(GetParam()); }
};

// n_q 1..40 tokens, 1..600 keys; 40 dims: not a multiple of 16 (masked tails).
const Shape kShapes[] = {
    {64, 3, 1, 1, 1024},   {64, 3, 40, 600, 1024}, {64, 1, 17, 40, 1024},  {64, 7, 5, 333, 1024},
    {128, 7, 40, 97, 1024}, {128, 1, 1, 600, 1024}, {128, 3, 16, 64, 1024}, {256, 1, 33, 300, 1024},
    {256, 3, 2, 600, 1024}, {256, 7, 9, 40, 1024},  {40, 3, 13, 77, 1024},  {40, 7, 3, 5, 1024},
};
const Params kParams[] = {{0.125f, 0, 0.0f}, {0.3f, 37, 0.0f}, {0.2f, 0, 2.0f}, {0.25f, 100, 5.0f}};

TEST_P(AttentionTileTest, MatchesDoublePrecisionAttention) {
  uint64_t seed = 1;
  for (const Shape& s : kShapes) {
    for (const Params& p : kParams) {
      const std::string what = "hd " + std::to_string(s.hd) + " group " + std::to_string(s.group) + " tokens " +
                               std::to_string(s.n_tokens) + " keys " + std::to_string(s.n_pos) + " window " +
                               std::to_string(p.window) + " cap " + std::to_string(p.softcap);
      check_against_double<uint16_t>(kt().attn_tile_f16, s, p, seed++, "f16 " + what);
      check_against_double<float>(kt().attn_tile_f32, s, p, seed++, "f32 " + what);
    }
  }
}

// A sliding-window layer's ring: positions past the ring's rows wrap to its start.
TEST_P(AttentionTileTest, RingCacheWrapsPositions) {
  const Shape ring{64, 3, 32, 300, 68 + 31};  // window 68 + a chunk of 32 - 1 rows
  const Params p{0.3f, 68, 0.0f};
  check_against_double<uint16_t>(kt().attn_tile_f16, ring, p, 99, "f16 ring");
  check_against_double<float>(kt().attn_tile_f32, ring, p, 98, "f32 ring");
  const Params capped{0.3f, 68, 3.0f};
  check_against_double<uint16_t>(kt().attn_tile_f16, ring, capped, 97, "f16 ring capped");
}

// A row's output must not depend on the rows sharing its tile: alone or in tiles of any size,
// it is the same bit for bit (BatchedPrefillEqualsTokenByToken relies on it). With groups of 3
// and 7 the tile sizes below take every count of row vectors, 1 to 8.
template <class E>
void check_batching_invariance(AttnTileFn<E> fn, const Shape& s, const Params& p, const std::string& what) {
  std::mt19937 rng(5);
  const Cache<E> c = random_cache<E>(s.hd, s.ring, rng);
  std::vector<float> q(static_cast<size_t>(s.n_tokens) * kKvHeads * s.group * s.hd);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (float& x : q) x = nd(rng);
  const std::vector<float> alone = run_kernel(fn, c, s, p, q, 1, true);
  for (int tokens : {1, 3, 6, 11, 16, 21, 26, 32, 37, 42}) {
    if (tokens * s.group > kAttnTileRows) continue;
    const std::vector<float> tiled = run_kernel(fn, c, s, p, q, tokens, false);
    EXPECT_EQ(std::memcmp(alone.data(), tiled.data(), alone.size() * sizeof(float)), 0)
        << what << " tiles of " << tokens << " tokens";
  }
}

TEST_P(AttentionTileTest, RowsDoNotDependOnTheirTile) {
  for (const Params& p : kParams) {
    const std::string what = "window " + std::to_string(p.window) + " cap " + std::to_string(p.softcap);
    check_batching_invariance<uint16_t>(kt().attn_tile_f16, {64, 7, 40, 200, 1024}, p, "f16 " + what);
    check_batching_invariance<float>(kt().attn_tile_f32, {128, 3, 37, 150, 1024}, p, "f32 " + what);
    check_batching_invariance<uint16_t>(kt().attn_tile_f16, {40, 3, 32, 120, 68 + 31}, {0.3f, 68, p.softcap},
                                        "f16 ring " + what);
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, AttentionTileTest, ::testing::ValuesIn(all_isas()),
                         [](const auto& info) { return std::string(isa_name(info.param)); });

}  // namespace
}  // namespace minnow::kernels::test

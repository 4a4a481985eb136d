// Sampler: greedy, seeded determinism, the distribution it draws from (statistically), the
// truncations, the penalties, and NaN / inf logits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "sampling/sampler.h"

namespace minnow {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

SamplerParams plain(float temperature = 1.0f, uint64_t seed = 1) {
  SamplerParams p;
  p.temperature = temperature;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = seed;
  return p;
}

SamplerParams greedy() {
  return plain(0.0f);
}

std::vector<float> log_probs(const std::vector<double>& probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(static_cast<float>(std::log(p)));
  return l;
}

std::vector<int> histogram(Sampler& s, const std::vector<float>& logits, int n) {
  std::vector<int> h(logits.size(), 0);
  for (int i = 0; i < n; ++i) ++h[static_cast<size_t>(s.sample(logits.data()))];
  return h;
}

// Each bin within 5 standard deviations of n * p (a false alarm is ~1e-6 per bin).
void expect_frequencies(const std::vector<int>& h, const std::vector<double>& probs, int n) {
  for (size_t i = 0; i < probs.size(); ++i) {
    const double mean = n * probs[i];
    const double sd = std::sqrt(n * probs[i] * (1 - probs[i]));
    EXPECT_LE(std::abs(h[i] - mean), 5 * sd + 1e-9) << "token " << i << ": " << h[i] << " vs " << mean;
  }
}

TEST(SamplingSampler, GreedyPicksArgmaxLowestIdOnTies) {
  Sampler s(greedy(), 5);
  const std::vector<float> a = {0.1f, 3.0f, -2.0f, 3.0f, 2.9f};
  EXPECT_EQ(s.sample(a.data()), 1);
  const std::vector<float> b = {-5.0f, -4.0f, -4.5f, -9.0f, -4.0f};
  EXPECT_EQ(s.sample(b.data()), 1);
  SamplerParams neg = greedy();
  neg.temperature = -1.0f;
  Sampler t(neg, 5);
  EXPECT_EQ(t.sample(a.data()), 1);
}

TEST(SamplingSampler, SeededDeterminismAndReset) {
  SamplerParams p = plain(0.9f, 1234);
  p.top_k = 50;
  p.top_p = 0.95f;
  p.repeat_penalty = 1.2f;
  p.frequency_penalty = 0.1f;
  std::vector<float> logits(300);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<float>(std::sin(i * 0.37) * 2);
  auto run = [&](Sampler& s) {
    std::vector<int32_t> out;
    for (int i = 0; i < 200; ++i) {
      out.push_back(s.sample(logits.data()));
      s.accept(out.back());
    }
    return out;
  };
  Sampler a(p, 300), b(p, 300);
  const std::vector<int32_t> ra = run(a);
  EXPECT_EQ(ra, run(b));
  a.reset();
  EXPECT_EQ(run(a), ra);
}

TEST(SamplingSampler, DifferentSeedsDifferOnFlatDistribution) {
  const std::vector<float> flat(1000, 0.0f);
  Sampler a(plain(1.0f, 1), 1000), b(plain(1.0f, 2), 1000);
  int same = 0;
  for (int i = 0; i < 100; ++i) same += a.sample(flat.data()) == b.sample(flat.data());
  EXPECT_LT(same, 10);
}

TEST(SamplingSampler, TopKOneIsGreedy) {
  SamplerParams p = plain(1.5f, 99);
  p.top_k = 1;
  Sampler s(p, 6), g(greedy(), 6);
  std::vector<float> logits = {0.5f, 1.0f, 0.99f, -1.0f, 0.0f, 1.0f};
  for (int i = 0; i < 50; ++i) {
    logits[static_cast<size_t>(i % 6)] += 0.3f;
    EXPECT_EQ(s.sample(logits.data()), g.sample(logits.data()));
  }
}

TEST(SamplingSampler, DrawsFromTheSoftmax) {
  const std::vector<double> probs = {0.1, 0.2, 0.3, 0.4};
  const int n = 20000;
  Sampler s(plain(1.0f, 7), 4);
  const std::vector<int> h = histogram(s, log_probs(probs), n);
  expect_frequencies(h, probs, n);
  double chi2 = 0;
  for (size_t i = 0; i < probs.size(); ++i) chi2 += std::pow(h[i] - n * probs[i], 2) / (n * probs[i]);
  EXPECT_LT(chi2, 21.1);  // chi-square, 3 degrees of freedom: p = 1e-4
}

TEST(SamplingSampler, TemperatureSharpens) {
  // T = 0.5 squares the probabilities: 0.1..0.4 -> 1:4:9:16 / 30.
  const std::vector<double> sharp = {1 / 30.0, 4 / 30.0, 9 / 30.0, 16 / 30.0};
  const int n = 20000;
  Sampler s(plain(0.5f, 8), 4);
  expect_frequencies(histogram(s, log_probs({0.1, 0.2, 0.3, 0.4}), n), sharp, n);
}

TEST(SamplingSampler, TopKKeepsTheBest) {
  SamplerParams p = plain(1.0f, 3);
  p.top_k = 2;
  Sampler s(p, 4);
  const int n = 20000;
  // Of 0.4 and 0.3, renormalized: 4/7 and 3/7.
  expect_frequencies(histogram(s, log_probs({0.1, 0.3, 0.2, 0.4}), n), {0, 3 / 7.0, 0, 4 / 7.0}, n);
}

// The k kept are chosen while scanning the vocabulary: equal logits keep the lowest ids, NaN
// counts as the worst, and over a large vocabulary exactly the k best are ever drawn.
TEST(SamplingSampler, TopKTiesKeepTheLowestIdsAndNaNIsWorst) {
  SamplerParams p = plain(1.0f, 11);
  p.top_k = 4;
  std::vector<float> logits(1000, 0.0f);
  logits[0] = logits[2] = std::nanf("");
  Sampler s(p, static_cast<int32_t>(logits.size()));
  const int n = 20000;
  std::vector<double> probs(logits.size(), 0.0);
  for (size_t id : {1, 3, 4, 5}) probs[id] = 0.25;
  expect_frequencies(histogram(s, logits, n), probs, n);
}

TEST(SamplingSampler, TopKOverALargeVocabularyDrawsOnlyTheBest) {
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  std::vector<float> logits(20000);
  for (float& l : logits) l = nd(rng);
  std::vector<int32_t> order(logits.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  SamplerParams p = plain(50.0f, 12);  // nearly flat over the kept
  p.top_k = 40;
  Sampler s(p, static_cast<int32_t>(logits.size()));
  const std::vector<int> h = histogram(s, logits, 3000);
  for (size_t r = 0; r < order.size(); ++r) {
    if (r < 40) {
      EXPECT_GT(h[static_cast<size_t>(order[r])], 0) << "rank " << r << " never drawn";
    } else {
      ASSERT_EQ(h[static_cast<size_t>(order[r])], 0) << "rank " << r << " drawn";
    }
  }
}

TEST(SamplingSampler, TopPCutsTheTail) {
  const std::vector<float> logits = log_probs({0.05, 0.5, 0.15, 0.3});
  const int n = 20000;
  SamplerParams p = plain(1.0f, 4);
  p.top_p = 0.75f;  // 0.5 + 0.3 reaches it: {1, 3}
  Sampler s(p, 4);
  expect_frequencies(histogram(s, logits, n), {0, 0.5 / 0.8, 0, 0.3 / 0.8}, n);
  p.top_p = 0.85f;  // needs 0.15 too: {1, 2, 3}
  Sampler t(p, 4);
  expect_frequencies(histogram(t, logits, n), {0, 0.5 / 0.95, 0.15 / 0.95, 0.3 / 0.95}, n);
  p.top_p = 0.0f;  // keeps at least one
  Sampler u(p, 4);
  expect_frequencies(histogram(u, logits, 100), {0, 1, 0, 0}, 100);
}

TEST(SamplingSampler, MinPCutsRelativeToTheBest) {
  const std::vector<float> logits = log_probs({0.05, 0.5, 0.15, 0.3});
  const int n = 20000;
  SamplerParams p = plain(1.0f, 5);
  p.min_p = 0.2f;  // threshold 0.1: drops 0.05
  Sampler s(p, 4);
  expect_frequencies(histogram(s, logits, n), {0, 0.5 / 0.95, 0.15 / 0.95, 0.3 / 0.95}, n);
  p.min_p = 0.5f;  // threshold 0.25: keeps 0.5 and 0.3
  Sampler t(p, 4);
  expect_frequencies(histogram(t, logits, n), {0, 0.5 / 0.8, 0, 0.3 / 0.8}, n);
}

// Greedy on pairs placed just either side of where each penalty tips the choice.
TEST(SamplingSampler, RepeatPenaltyDividesPositiveMultipliesNegative) {
  SamplerParams p = greedy();
  p.repeat_penalty = 1.25f;
  Sampler s(p, 4);
  s.accept(0);
  const std::vector<float> pos_tip = {2.0f, 1.61f, -9, -9};  // 2.0 / 1.25 = 1.6
  const std::vector<float> pos_keep = {2.0f, 1.59f, -9, -9};
  EXPECT_EQ(s.sample(pos_tip.data()), 1);
  EXPECT_EQ(s.sample(pos_keep.data()), 0);
  const std::vector<float> neg_tip = {-1.0f, -1.24f, -9, -9};  // -1.0 * 1.25 = -1.25
  const std::vector<float> neg_keep = {-1.0f, -1.26f, -9, -9};
  EXPECT_EQ(s.sample(neg_tip.data()), 1);
  EXPECT_EQ(s.sample(neg_keep.data()), 0);
  s.accept(0);  // counted once, however often it occurs
  EXPECT_EQ(s.sample(pos_keep.data()), 0);
}

TEST(SamplingSampler, FrequencyAndPresencePenalties) {
  SamplerParams p = greedy();
  p.frequency_penalty = 0.25f;
  Sampler f(p, 3);
  f.accept(0);
  f.accept(0);  // 1.0 - 2 * 0.25 = 0.5
  const std::vector<float> a = {1.0f, 0.49f, -9}, b = {1.0f, 0.51f, -9};
  EXPECT_EQ(f.sample(a.data()), 0);
  EXPECT_EQ(f.sample(b.data()), 1);

  p.frequency_penalty = 0;
  p.presence_penalty = 0.5f;
  Sampler q(p, 3);
  q.accept(0);
  q.accept(0);  // 1.0 - 0.5, once
  EXPECT_EQ(q.sample(a.data()), 0);
  EXPECT_EQ(q.sample(b.data()), 1);
}

TEST(SamplingSampler, PenaltyWindow) {
  SamplerParams p = greedy();
  p.presence_penalty = 1.0f;
  p.repeat_last_n = 2;
  Sampler s(p, 3);
  const std::vector<float> l = {1.0f, 0.5f, 0.4f};
  s.accept(0);
  EXPECT_EQ(s.sample(l.data()), 1);
  s.accept(1);
  s.accept(1);  // 0 has left the window; 1 is penalized
  EXPECT_EQ(s.sample(l.data()), 0);
  s.reset();
  EXPECT_EQ(s.sample(l.data()), 0);
  s.accept(-1);  // out of range: ignored
  s.accept(3);
  EXPECT_EQ(s.sample(l.data()), 0);

  p.repeat_last_n = 0;  // off
  Sampler off(p, 3);
  off.accept(0);
  EXPECT_EQ(off.sample(l.data()), 0);
  p.repeat_last_n = -1;  // everything
  Sampler all(p, 3);
  all.accept(0);
  for (int i = 0; i < 100; ++i) all.accept(2);
  EXPECT_EQ(all.sample(l.data()), 1);
}

TEST(SamplingSampler, NaNAndInfinities) {
  for (float temperature : {0.0f, 1.0f}) {
    SamplerParams p = plain(temperature, 11);
    p.top_k = 3;
    Sampler s(p, 4);
    const std::vector<float> with_nan = {kNaN, 1.0f, kNaN, 0.5f};
    for (int i = 0; i < 200; ++i) {
      const int32_t t = s.sample(with_nan.data());
      EXPECT_TRUE(t == 1 || t == 3) << t;
    }
    const std::vector<float> all_nan = {kNaN, kNaN, kNaN, kNaN};
    EXPECT_EQ(s.sample(all_nan.data()), 0);
    const std::vector<float> nan_and_neg_inf = {kNaN, -kInf, kNaN, -kInf};
    EXPECT_EQ(s.sample(nan_and_neg_inf.data()), 1);
    const std::vector<float> one_finite = {-kInf, kNaN, -kInf, -3.0f};
    EXPECT_EQ(s.sample(one_finite.data()), 3);
    const std::vector<float> pos_inf = {1.0f, kInf, kNaN, 2.0f};
    EXPECT_EQ(s.sample(pos_inf.data()), 1);
  }
  // Degenerate parameters fall back to something sane instead of NaN arithmetic.
  SamplerParams bad = plain(kNaN, 1);
  bad.top_p = kNaN;
  bad.min_p = kNaN;
  bad.repeat_penalty = 0.0f;
  bad.frequency_penalty = kInf;
  Sampler s(bad, 3);
  s.accept(0);
  const std::vector<float> l = {3.0f, 1.0f, 2.0f};
  EXPECT_EQ(s.sample(l.data()), 0);
  // A penalty that overflows a logit to +inf: still a valid draw among the largest.
  SamplerParams boost = plain(1.0f, 2);
  boost.frequency_penalty = -3e38f;
  Sampler b(boost, 3);
  b.accept(1);
  b.accept(1);
  const std::vector<float> big = {1.0f, 3e38f, kInf};
  for (int i = 0; i < 20; ++i) {
    const int32_t t = b.sample(big.data());
    EXPECT_TRUE(t == 1 || t == 2) << t;
  }
  Sampler empty(plain(), 0);
  EXPECT_EQ(empty.sample(nullptr), 0);
}

}  // namespace
}  // namespace minnow

// The sampler chain in llama.cpp's default order: penalties, then greedy or top-k -> top-p ->
// min-p -> temperature -> softmax -> seeded draw. Works in one scratch vector sized once.
#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

namespace minnow {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// Best first; equal logits by id so every run orders (and so draws) the same way.
bool better(const auto& a, const auto& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

SamplerParams sanitize(SamplerParams p) {
  if (!(p.temperature > 0)) p.temperature = 0;  // NaN included: greedy
  if (!std::isfinite(p.temperature)) p.temperature = 0;
  if (!(p.top_p < 1)) p.top_p = 1;  // NaN included: off
  if (!(p.min_p > 0)) p.min_p = 0;
  p.min_p = std::min(p.min_p, 1.0f);  // above 1 would drop even the best token
  if (!(p.repeat_penalty > 0) || !std::isfinite(p.repeat_penalty)) p.repeat_penalty = 1;
  if (!std::isfinite(p.frequency_penalty)) p.frequency_penalty = 0;
  if (!std::isfinite(p.presence_penalty)) p.presence_penalty = 0;
  if (p.repeat_last_n < -1) p.repeat_last_n = 0;
  return p;
}

}  // namespace

Sampler::Sampler(const SamplerParams& params, int32_t n_vocab)
    : params_(sanitize(params)), n_vocab_(std::max(n_vocab, 0)), rng_(params_.seed) {
  counts_.assign(static_cast<size_t>(n_vocab_), 0);
  cand_.reserve(static_cast<size_t>(n_vocab_));
}

void Sampler::reset() {
  history_.clear();
  history_head_ = 0;
  std::fill(counts_.begin(), counts_.end(), 0);
  rng_.seed(params_.seed);
}

void Sampler::accept(int32_t token) {
  if (token < 0 || token >= n_vocab_ || params_.repeat_last_n == 0) return;
  ++counts_[static_cast<size_t>(token)];
  if (params_.repeat_last_n < 0) return;  // the window is everything: counts suffice
  const auto window = static_cast<size_t>(params_.repeat_last_n);
  if (history_.size() < window) {
    history_.push_back(token);
    return;
  }
  --counts_[static_cast<size_t>(history_[history_head_])];
  history_[history_head_] = token;
  history_head_ = (history_head_ + 1) % window;
}

int32_t Sampler::sample(const float* logits) {
  if (n_vocab_ == 0) return 0;
  const SamplerParams& p = params_;
  const bool penalize =
      p.repeat_last_n != 0 && (p.repeat_penalty != 1 || p.frequency_penalty != 0 || p.presence_penalty != 0);
  cand_.clear();
  int32_t fallback = -1;  // the lowest id that is not NaN, for when nothing is finite
  // Top-k with a sampling temperature keeps only the k best: they are selected during the pass
  // (a heap whose front is the worst kept) rather than after it, which over a 50k vocabulary is
  // most of the sampler's time. Equal logits order by id, so the k kept and their order are
  // those of sorting everything.
  const size_t top_k = p.temperature > 0 && p.top_k > 0 && p.top_k < n_vocab_ ? static_cast<size_t>(p.top_k) : 0;
  auto best_first = [](const Candidate& a, const Candidate& b) { return better(a, b); };  // heap: worst at front
  // Once k are kept, a candidate must beat the worst of them, whose logit is `worst_kept` (ids come in
  // increasing order, so an equal logit never does): one comparison for most of the vocabulary.
  float worst_kept = -kInf;
  bool full = false;
  for (int32_t i = 0; i < n_vocab_; ++i) {
    float l = logits[i];
    if (std::isnan(l)) {
      l = -kInf;  // never chosen
    } else {
      if (fallback < 0) fallback = i;
      const int32_t count = penalize ? counts_[static_cast<size_t>(i)] : 0;
      if (count > 0) {
        // Dividing a negative logit would raise it; multiplying lowers it (llama.cpp, CTRL paper).
        l = l > 0 ? l / p.repeat_penalty : l * p.repeat_penalty;
        l -= static_cast<float>(count) * p.frequency_penalty + p.presence_penalty;
        if (std::isnan(l)) l = -kInf;  // inf - inf from an extreme penalty
      }
      if (l == kInf) l = std::numeric_limits<float>::max();  // keeps l - max finite in softmax
    }
    if (top_k == 0) {
      cand_.push_back({i, l});
    } else if (!full) {
      cand_.push_back({i, l});
      std::push_heap(cand_.begin(), cand_.end(), best_first);
      full = cand_.size() == top_k;
      worst_kept = cand_.front().logit;
    } else if (l > worst_kept) {
      std::pop_heap(cand_.begin(), cand_.end(), best_first);
      cand_.back() = {i, l};
      std::push_heap(cand_.begin(), cand_.end(), best_first);
      worst_kept = cand_.front().logit;
    }
  }

  if (fallback < 0) fallback = 0;
  if (p.temperature <= 0) {
    const Candidate& best = *std::min_element(
        cand_.begin(), cand_.end(), [](const Candidate& a, const Candidate& b) { return better(a, b); });
    return best.logit == -kInf ? fallback : best.id;
  }

  if (top_k > 0) {
    std::sort_heap(cand_.begin(), cand_.end(), best_first);  // best first
  } else if (p.top_p < 1) {
    std::sort(cand_.begin(), cand_.end(),
              [](const Candidate& a, const Candidate& b) { return better(a, b); });
  }
  float max_logit = -kInf;
  for (const Candidate& c : cand_) max_logit = std::max(max_logit, c.logit);
  if (max_logit == -kInf) return fallback;  // nothing finite: no distribution to draw from

  if (p.top_p < 1) {  // cand_ is sorted here
    double sum = 0;
    for (const Candidate& c : cand_) sum += std::exp(static_cast<double>(c.logit) - max_logit);
    double cum = 0;
    size_t keep = cand_.size();
    for (size_t i = 0; i < cand_.size(); ++i) {
      cum += std::exp(static_cast<double>(cand_[i].logit) - max_logit) / sum;
      if (cum >= p.top_p) {
        keep = i + 1;
        break;
      }
    }
    cand_.resize(keep);
  }
  if (p.min_p > 0) {
    // prob >= min_p * max_prob  <=>  logit >= max_logit + log(min_p); the best always stays.
    const float threshold = max_logit + std::log(p.min_p);
    cand_.erase(
        std::remove_if(cand_.begin(), cand_.end(), [&](const Candidate& c) { return c.logit < threshold; }),
        cand_.end());
  }

  // Temperature, then softmax weights in place of the logits (unnormalized: the draw scales).
  double sum = 0;
  for (Candidate& c : cand_) {
    c.logit = static_cast<float>(std::exp((static_cast<double>(c.logit) - max_logit) / p.temperature));
    sum += c.logit;
  }
  // 53 random bits -> u in [0, 1), the same on every standard library (std::uniform_real_
  // distribution is not specified bit for bit).
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  const double target = u * sum;
  double cum = 0;
  int32_t last = cand_.front().id;
  for (const Candidate& c : cand_) {
    if (c.logit <= 0) continue;  // exp underflow or -inf: never chosen
    cum += c.logit;
    last = c.id;
    if (target < cum) return c.id;
  }
  return last;  // rounding left target at the very top
}

}  // namespace minnow

// The statistics of an eval: bootstrap intervals, the paired switching verdict, quantiles and
// the cascade's threshold curve. The generator is mt19937_64, whose sequence the standard fixes,
// and indices come from it by modulo (not a library distribution), so a seed gives the same
// interval with any standard library.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "minnow/eval.h"

namespace minnow {
namespace {

constexpr double kZ95 = 1.959964;  // two-sided 95% normal quantile

double mean_of(std::span<const double> v) {
  return v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / v.size();
}

}  // namespace

double quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double pos = std::clamp(q, 0.0, 1.0) * (values.size() - 1);
  const size_t i = static_cast<size_t>(pos);
  if (i + 1 >= values.size()) return values.back();
  return values[i] + (pos - i) * (values[i + 1] - values[i]);
}

Interval bootstrap_mean(std::span<const double> values, int resamples, uint64_t seed) {
  Interval r;
  r.mean = r.lo = r.hi = mean_of(values);
  if (values.size() < 2 || resamples < 2) return r;
  std::mt19937_64 rng(seed);
  std::vector<double> means(resamples);
  const size_t n = values.size();
  for (double& m : means) {
    double sum = 0;
    for (size_t i = 0; i < n; ++i) sum += values[rng() % n];
    m = sum / n;
  }
  r.lo = quantile(means, 0.025);
  r.hi = quantile(means, 0.975);
  // Percentile ends can miss the mean by rounding when every resample is equal.
  r.lo = std::min(r.lo, r.mean);
  r.hi = std::max(r.hi, r.mean);
  return r;
}

Verdict paired_verdict(const std::string& small_name, std::span<const double> small,
                       const std::string& reference_name, std::span<const double> reference, double threshold_pct,
                       double reference_score, int resamples, uint64_t seed) {
  Verdict v;
  v.small = small_name;
  v.reference = reference_name;
  const size_t n = std::min(small.size(), reference.size());
  v.n = static_cast<int>(n);
  v.margin = threshold_pct / 100 * reference_score;
  std::vector<double> diff(n);
  for (size_t i = 0; i < n; ++i) diff[i] = small[i] - reference[i];
  v.difference = bootstrap_mean(diff, resamples, seed);
  double var = 0;
  for (double d : diff) var += (d - v.difference.mean) * (d - v.difference.mean);
  const double sd = n > 1 ? std::sqrt(var / (n - 1)) : 0;
  // The rule of three: with n examples and no loss seen, a loss rate up to 3/n is still plausible.
  const double min_n = v.margin > 0 ? std::ceil(3 / v.margin) : 0;
  if (v.difference.hi < -v.margin) {
    v.decision = "do not switch";
  } else if (v.difference.lo >= -v.margin && n >= min_n) {
    v.decision = "switch";
  } else {
    v.decision = "too few examples to decide";
    const double gap = std::max(std::fabs(v.difference.mean + v.margin), v.margin / 4);
    double needed = gap > 0 ? std::ceil(std::pow(kZ95 * sd / gap, 2)) : min_n;
    needed = std::max({needed, min_n, static_cast<double>(n) + 1});
    v.needed_n = static_cast<int>(std::min(needed, 1e9));
  }
  const double pts = 100;
  if (v.decision == "switch") {
    v.text = strfmt("switch: %s scores %+.1f points against %s (95%% interval %+.1f to %+.1f), within the %.1f-point "
                    "margin (%g%% of %s's score) on %d examples",
                    v.small.c_str(), pts * v.difference.mean, v.reference.c_str(), pts * v.difference.lo, pts * v.difference.hi, pts * v.margin,
                    threshold_pct, v.reference.c_str(), v.n);
  } else if (v.decision == "do not switch") {
    v.text = strfmt("do not switch: %s scores %+.1f points against %s (95%% interval %+.1f to %+.1f), worse than the "
                    "%.1f-point margin (%g%% of %s's score) on %d examples",
                    v.small.c_str(), pts * v.difference.mean, v.reference.c_str(), pts * v.difference.lo, pts * v.difference.hi, pts * v.margin,
                    threshold_pct, v.reference.c_str(), v.n);
  } else {
    v.text = strfmt("too few examples to decide: %s scores %+.1f points against %s (95%% interval %+.1f to %+.1f), "
                    "which straddles the %.1f-point margin (%g%% of %s's score); about %d examples would decide",
                    v.small.c_str(), pts * v.difference.mean, v.reference.c_str(), pts * v.difference.lo, pts * v.difference.hi, pts * v.margin,
                    threshold_pct, v.reference.c_str(), v.needed_n);
  }
  return v;
}

std::vector<CurvePoint> threshold_curve(std::span<const double> local_scores, std::span<const double> confidences,
                                        std::span<const double> upstream_scores,
                                        std::span<const double> upstream_costs) {
  const size_t n = std::min({local_scores.size(), confidences.size(), upstream_scores.size(), upstream_costs.size()});
  std::vector<CurvePoint> points;
  if (n == 0) return points;
  std::vector<double> ts(confidences.begin(), confidences.begin() + n);
  std::sort(ts.begin(), ts.end());
  ts.erase(std::unique(ts.begin(), ts.end()), ts.end());
  ts.push_back(std::nextafter(ts.back(), INFINITY));  // above every confidence: all escalate
  for (double t : ts) {
    CurvePoint p;
    p.threshold = t;
    int escalated = 0;
    double score = 0;
    for (size_t i = 0; i < n; ++i) {
      if (confidences[i] < t) {
        ++escalated;
        score += upstream_scores[i];
        p.cost += upstream_costs[i];
      } else {
        score += local_scores[i];
      }
    }
    p.share_escalated = static_cast<double>(escalated) / n;
    p.score = score / n;
    points.push_back(p);
  }
  return points;
}

}  // namespace minnow

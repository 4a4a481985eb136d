// Compares an engine's logits with ../shared/reference/*.ref.json by the rules in that
// directory's README: F32/F16 weights within 1e-3 of the row's max |logit|; quantized weights
// the same top-1 at >= 95% of positions and within 2% of the row's max |logit|.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace minnow::test {

struct Tolerance {
  double rel;              // max |ours - ref| / max |logit| of the row
  double min_top1_agree;   // fraction of positions whose argmax must agree
  size_t greedy_prefix;    // leading greedy tokens that must be identical (SIZE_MAX: all)
};

inline Tolerance tolerance_for(const std::string& model_file) {
  const bool quantized = model_file.find("q4_") != std::string::npos || model_file.find("q8_") != std::string::npos ||
                         model_file.find("q6_") != std::string::npos || model_file.find("q5_") != std::string::npos;
  if (quantized) return {0.02, 0.95, 8};
  return {1e-3, 1.0, SIZE_MAX};
}

inline size_t argmax(const std::vector<float>& row) {
  return static_cast<size_t>(std::max_element(row.begin(), row.end()) - row.begin());
}

// Checks one case: `rows` are our logits of every prompt position ([n_prompt][n_vocab]).
inline void expect_rows_match(const nlohmann::json& ref_case, const std::vector<std::vector<float>>& rows,
                              const Tolerance& tol, const std::string& what) {
  const auto& positions = ref_case["positions"];
  ASSERT_EQ(rows.size(), positions.size()) << what;
  size_t agree = 0;
  for (size_t p = 0; p < rows.size(); ++p) {
    const std::vector<float>& row = rows[p];
    float max_abs = 0;
    for (float v : row) max_abs = std::max(max_abs, std::fabs(v));
    ASSERT_GT(max_abs, 0.0f) << what << " position " << p;
    for (const auto& pair : positions[p]) {
      const int id = pair[0].get<int>();
      const double ref = pair[1].get<double>();
      ASSERT_GE(id, 0);
      ASSERT_LT(static_cast<size_t>(id), row.size());
      EXPECT_LE(std::fabs(row[id] - ref), tol.rel * max_abs)
          << what << " position " << p << " token " << id << ": ours " << row[id] << ", reference " << ref;
    }
    if (static_cast<int>(argmax(row)) == positions[p][0][0].get<int>()) ++agree;
  }
  EXPECT_GE(static_cast<double>(agree), tol.min_top1_agree * static_cast<double>(rows.size()))
      << what << ": top-1 agrees at " << agree << " of " << rows.size() << " positions";

  const auto& last = ref_case["last_logits"];
  const std::vector<float>& ours = rows.back();
  ASSERT_EQ(last.size(), ours.size()) << what;
  float max_abs = 0;
  for (float v : ours) max_abs = std::max(max_abs, std::fabs(v));
  double worst = 0;
  for (size_t i = 0; i < ours.size(); ++i) worst = std::max(worst, std::fabs(ours[i] - last[i].get<double>()));
  EXPECT_LE(worst, tol.rel * max_abs) << what << ": last row differs by up to " << worst << " (max |logit| "
                                      << max_abs << ")";
}

// `ours` is our greedy continuation and `rows[i]` our logits when choosing token i. Tokens must
// be identical (the first tol.greedy_prefix of them), with one exception: where our top two
// logits are closer than the logit tolerance, the reference's choice is within the accuracy
// both engines are held to, so a different pick there is a tie, not an error. The continuations
// then part and are not compared further. A decisive difference always fails.
inline void expect_greedy_match(const nlohmann::json& ref_case, const std::vector<int32_t>& ours,
                                const std::vector<std::vector<float>>& rows, const Tolerance& tol,
                                const std::string& what) {
  const std::vector<int32_t> ref = ref_case["greedy"].get<std::vector<int32_t>>();
  const size_t n = std::min(tol.greedy_prefix, ref.size());
  ASSERT_GE(ours.size(), n) << what;
  ASSERT_GE(rows.size(), n) << what;
  for (size_t i = 0; i < n; ++i) {
    if (ours[i] == ref[i]) continue;
    const std::vector<float>& row = rows[i];
    float max_abs = 0;
    for (float v : row) max_abs = std::max(max_abs, std::fabs(v));
    const float margin = row[ours[i]] - row[ref[i]];
    ASSERT_LE(margin, tol.rel * max_abs) << what << ": greedy token " << i << " is " << ours[i] << ", reference "
                                         << ref[i] << ", and our logits prefer ours by " << margin;
    return;  // a near-tie: the sequences part here
  }
}

}  // namespace minnow::test

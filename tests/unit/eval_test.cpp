// The eval harness without models: metrics on hand-checked cases, the bootstrap's properties,
// the paired verdict on synthetic scores, the cascade's threshold curve, JSONL errors by line,
// and the reports built from a synthetic result.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "minnow/eval.h"

namespace minnow {
namespace {

TEST(EvalMetrics, ExactMatchTrimsButKeepsCase) {
  EXPECT_EQ(exact_match(" Paris\n", "Paris"), 1);
  EXPECT_EQ(exact_match("paris", "Paris"), 0);
  EXPECT_EQ(exact_match("Paris, France", "Paris"), 0);
}

TEST(EvalMetrics, LabelNormalization) {
  EXPECT_EQ(label_match("Positive.", "positive"), 1);
  EXPECT_EQ(label_match("  POSITIVE\nbecause the review praises it", "positive"), 1);
  EXPECT_EQ(label_match("positive, clearly", "positive"), 1);
  EXPECT_EQ(label_match("\"spam\"", "Spam"), 1);
  EXPECT_EQ(label_match("Not spam.", "not spam"), 1);  // a label of several words: the whole first line
  EXPECT_EQ(label_match("The answer is positive", "positive"), 0);
  EXPECT_EQ(label_match("negative", "positive"), 0);
  EXPECT_EQ(label_match("", "positive"), 0);
}

TEST(EvalMetrics, TokenF1WorkedExamples) {
  EXPECT_EQ(squad_normalize("The  Cat, sat on a mat!"), "cat sat on mat");
  EXPECT_DOUBLE_EQ(token_f1("The cat sat on the mat", "cat sat on mat"), 1.0);
  // pred {big, red, dog}, gold {red, dog, barked}: 2 common, P = R = 2/3.
  EXPECT_DOUBLE_EQ(token_f1("a big red dog", "the red dog barked"), 2.0 / 3);
  // pred {paris}, gold {paris, france}: P = 1, R = 1/2, F1 = 2/3.
  EXPECT_DOUBLE_EQ(token_f1("Paris", "Paris, France"), 2.0 / 3);
  // Repeated tokens count once per occurrence in gold: common 1, P = 1/3, R = 1/2, F1 = 0.4.
  EXPECT_DOUBLE_EQ(token_f1("dog dog dog", "dog cat"), 0.4);
  EXPECT_EQ(token_f1("", "x"), 0);
  EXPECT_EQ(token_f1("the", ""), 1);  // both normalize to nothing
  EXPECT_EQ(token_f1("blue", "red"), 0);
}

TEST(EvalMetrics, JsonFieldMatch) {
  EXPECT_DOUBLE_EQ(json_field_match(R"({"a": 1.0, "b": "y", "c": 3})", R"({"a": 1, "b": "x"})"), 0.5);
  EXPECT_DOUBLE_EQ(json_field_match(R"( {"b": "x", "a": 1} )", R"({"a": 1, "b": "x"})"), 1);
  EXPECT_DOUBLE_EQ(json_field_match(R"({"a": "1"})", R"({"a": 1})"), 0);  // a string is not a number
  EXPECT_DOUBLE_EQ(json_field_match("not json", R"({"a": 1})"), 0);
  EXPECT_DOUBLE_EQ(json_field_match("[1, 2]", "[1, 2]"), 1);
  EXPECT_DOUBLE_EQ(json_field_match("[1, 2]", R"({"a": 1})"), 0);
}

TEST(EvalMetrics, Regex) {
  EXPECT_EQ(*regex_match("order 1234 shipped", R"(\d{4})"), 1);
  EXPECT_EQ(*regex_match("12a", R"(^\d+$)"), 0);
  auto bad = regex_match("x", "(");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("regex '('"), std::string::npos) << bad.error().message;
  // A pattern that backtracks without end on a long answer stops at the match limit (scores 0);
  // std::regex took exponential time (or its recursion the stack) here.
  const std::string answer = std::string(5000, 'a') + "b";
  EXPECT_EQ(*regex_match(answer, "^(a+)+$"), 0);
  EXPECT_EQ(*regex_match(answer, "a{3}b"), 1);
}

TEST(EvalMetrics, ParseMetricNames) {
  EXPECT_EQ(*parse_metric("f1"), Metric::f1);
  EXPECT_FALSE(parse_metric("bleu").ok());
}

std::vector<double> bernoulli(int n, int ones) {
  std::vector<double> v(n, 0.0);
  for (int i = 0; i < ones; ++i) v[(i * 7) % n] = 1;  // spread out; 7 is coprime with the sizes used
  return v;
}

TEST(EvalStats, BootstrapIntervalProperties) {
  auto v100 = bernoulli(100, 70);
  Interval a = bootstrap_mean(v100, 1000, 42);
  EXPECT_DOUBLE_EQ(a.mean, 0.7);
  EXPECT_LE(a.lo, a.mean);
  EXPECT_GE(a.hi, a.mean);
  // About +-9 points for p = 0.7, n = 100 (1.96 * sqrt(0.21 / 100)).
  EXPECT_NEAR(a.hi - a.lo, 2 * 1.96 * std::sqrt(0.21 / 100), 0.03);
  Interval same = bootstrap_mean(v100, 1000, 42);
  EXPECT_EQ(a.lo, same.lo);
  EXPECT_EQ(a.hi, same.hi);
  Interval other = bootstrap_mean(v100, 1000, 43);
  EXPECT_TRUE(other.lo != a.lo || other.hi != a.hi);
  auto v1000 = bernoulli(1001, 701);
  Interval b = bootstrap_mean(v1000, 1000, 42);
  EXPECT_LT(b.hi - b.lo, (a.hi - a.lo) / 2);
  Interval constant = bootstrap_mean(std::vector<double>(50, 1.0), 1000, 1);
  EXPECT_EQ(constant.lo, 1);
  EXPECT_EQ(constant.hi, 1);
}

TEST(EvalStats, Quantile) {
  EXPECT_DOUBLE_EQ(quantile({3, 1, 2}, 0.5), 2);
  EXPECT_DOUBLE_EQ(quantile({1, 2, 3, 4}, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(quantile({1, 2, 3, 4, 5}, 0.95), 4.8);
  EXPECT_DOUBLE_EQ(quantile({}, 0.5), 0);
}

TEST(EvalStats, PairedVerdictEqualModelsSwitch) {
  auto ref = bernoulli(400, 360);
  auto small = ref;
  // Four wins and four losses: the same quality, with some disagreement.
  int flipped_up = 0, flipped_down = 0;
  for (size_t i = 0; i < small.size() && (flipped_up < 4 || flipped_down < 4); ++i) {
    if (small[i] == 0 && flipped_up < 4) small[i] = 1, ++flipped_up;
    else if (small[i] == 1 && flipped_down < 4) small[i] = 0, ++flipped_down;
  }
  Verdict v = paired_verdict("small", small, "big", ref, 5, 0.9, 1000, 7);
  EXPECT_EQ(v.decision, "switch") << v.text;
  EXPECT_NEAR(v.margin, 0.045, 1e-12);
  EXPECT_EQ(v.needed_n, 0);
  EXPECT_NE(v.text.find("small"), std::string::npos);
}

TEST(EvalStats, PairedVerdictClearlyWorseDoesNotSwitch) {
  auto ref = bernoulli(200, 180);
  auto small = bernoulli(200, 120);
  Verdict v = paired_verdict("small", small, "big", ref, 5, 0.9, 1000, 7);
  EXPECT_EQ(v.decision, "do not switch") << v.text;
  EXPECT_NEAR(v.difference.mean, -0.3, 1e-12);
}

TEST(EvalStats, PairedVerdictTenExamplesAreTooFew) {
  std::vector<double> ref = {1, 1, 1, 1, 1, 1, 1, 1, 1, 0};
  std::vector<double> small = {1, 1, 1, 1, 1, 1, 1, 0, 1, 0};
  Verdict v = paired_verdict("small", small, "big", ref, 5, 0.9, 1000, 7);
  EXPECT_EQ(v.decision, "too few examples to decide") << v.text;
  EXPECT_GT(v.needed_n, 10);
  EXPECT_NE(v.text.find(std::to_string(v.needed_n)), std::string::npos) << v.text;
  // Identical answers on 10 examples still cannot rule out losing 5% (the rule of three: 67).
  Verdict same = paired_verdict("small", ref, "big", ref, 5, 0.9, 1000, 7);
  EXPECT_EQ(same.decision, "too few examples to decide");
  EXPECT_EQ(same.needed_n, 67);
}

TEST(EvalStats, ThresholdCurve) {
  std::vector<double> local = {1, 0, 1, 0, 1};
  std::vector<double> conf = {-0.1, -2.0, -0.5, -2.0, -0.05};
  std::vector<double> up = {1, 1, 0, 1, 1};
  std::vector<double> cost = {0.1, 0.1, 0.1, 0.1, 0.1};
  auto pts = threshold_curve(local, conf, up, cost);
  ASSERT_EQ(pts.size(), 5u);  // 4 distinct confidences + one above them all
  EXPECT_EQ(pts.front().share_escalated, 0);
  EXPECT_DOUBLE_EQ(pts.front().score, 0.6);  // all local
  EXPECT_EQ(pts.front().cost, 0);
  EXPECT_EQ(pts.back().share_escalated, 1);
  EXPECT_DOUBLE_EQ(pts.back().score, 0.8);  // all escalated
  EXPECT_NEAR(pts.back().cost, 0.5, 1e-12);
  for (size_t i = 1; i < pts.size(); ++i) {
    EXPECT_GE(pts[i].share_escalated, pts[i - 1].share_escalated);
    EXPECT_GT(pts[i].threshold, pts[i - 1].threshold);
  }
  // Escalating the two least confident (both wrong locally, right upstream) gives 1.0.
  EXPECT_DOUBLE_EQ(pts[1].share_escalated, 0.4);
  EXPECT_DOUBLE_EQ(pts[1].score, 1.0);
}

TEST(EvalDataset, MalformedLinesAreNamedAndSkipped) {
  const std::string text =
      R"({"prompt": "2+2?", "expected": "4", "id": "q1"})" "\n"
      R"({"prompt": "bad json)" "\n"
      "\n"
      R"({"expected": "no prompt"})" "\n"
      R"({"prompt": "no answer"})" "\n"
      R"({"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}], "answer": "Hello"})" "\n"
      R"({"prompt": "spam?", "label": 1, "schema": {"enum": ["0", "1"]}})" "\n"
      R"([1, 2])" "\n"
      R"({"messages": [{"role": "user"}], "expected": "x"})";
  Dataset d = parse_dataset(text);
  ASSERT_EQ(d.examples.size(), 3u);
  EXPECT_EQ(d.examples[0].id, "q1");
  EXPECT_EQ(d.examples[0].messages[0].content, "2+2?");
  EXPECT_EQ(d.examples[1].line, 6);
  EXPECT_EQ(d.examples[1].id, "line 6");
  EXPECT_EQ(d.examples[1].messages.size(), 2u);
  EXPECT_EQ(d.examples[1].expected, "Hello");
  EXPECT_EQ(d.examples[2].label, "1");
  EXPECT_EQ(d.examples[2].schema, R"({"enum":["0","1"]})");
  ASSERT_EQ(d.skipped.size(), 5u);
  EXPECT_EQ(d.skipped[0].message, "line 2: not valid JSON");
  EXPECT_EQ(d.skipped[1].message, "line 4: neither 'messages' nor 'prompt'");
  EXPECT_EQ(d.skipped[2].message, "line 5: none of 'expected', 'answer', 'label'");
  EXPECT_EQ(d.skipped[3].message, "line 8: not a JSON object");
  EXPECT_EQ(d.skipped[4].line, 9);
}

// A two-model result built by hand: the reports and the summary from it.
EvalResult synthetic_result(EvalOptions* o) {
  EvalResult r;
  Dataset d = parse_dataset(R"({"prompt": "<b>bold</b> & co?", "label": "yes"})" "\n"
                            R"({"prompt": "q2", "label": "no"})" "\n");
  r.examples = d.examples;
  auto example = [](const char* answer, double score, double cost, bool has_conf, double conf) {
    ExampleResult e;
    e.answer = answer;
    e.score = score;
    e.cost = cost;
    e.has_confidence = has_conf;
    e.confidence = conf;
    return e;
  };
  ModelResult small, big;
  small.name = "tiny";
  big.name = "cloud";
  big.local = false;
  small.examples = {example("<script>x</script>", 0, 0, true, -2), example("no", 1, 0, true, -0.1)};
  big.examples = {example("yes", 1, 0.01, false, 0), example("no", 1, 0.01, false, 0)};
  r.models = {small, big};
  o->metric = Metric::label;
  o->seed = 5;
  summarize_eval(&r, *o);
  return r;
}

TEST(EvalReport, SummaryJsonAndHtml) {
  EvalOptions o;
  EvalResult r = synthetic_result(&o);
  ASSERT_EQ(r.verdicts.size(), 1u);
  EXPECT_EQ(r.verdicts[0].small, "tiny");
  EXPECT_EQ(r.verdicts[0].reference, "cloud");
  EXPECT_EQ(r.verdicts[0].decision, "too few examples to decide");
  ASSERT_TRUE(r.has_curve);
  EXPECT_TRUE(r.curve.reached);
  EXPECT_DOUBLE_EQ(r.curve.at_target.share_escalated, 0.5);  // escalating the unsure one is enough

  auto j = nlohmann::json::parse(eval_json(r, true));
  EXPECT_EQ(j["models"].size(), 2u);
  EXPECT_EQ(j["models"][1]["score"], 1.0);
  EXPECT_EQ(j["models"][0]["per_example"][0]["answer"], "<script>x</script>");
  EXPECT_EQ(j["threshold_curve"]["points"].front()["share_escalated"], 0.0);
  EXPECT_EQ(j["threshold_curve"]["points"].back()["share_escalated"], 1.0);

  const std::string html = eval_html(r);
  for (const char* cls : {"chart score", "chart latency", "chart cost", "chart curve"})
    EXPECT_NE(html.find(std::string("<svg class=\"") + cls), std::string::npos) << cls;
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;x&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("&lt;b&gt;bold&lt;/b&gt; &amp; co?"), std::string::npos);
  EXPECT_EQ(html.find("http"), html.find("http://www.w3.org/2000/svg"));  // no external resources
}

}  // namespace
}  // namespace minnow

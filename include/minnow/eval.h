// The eval harness behind `minnow eval`: run local models and upstreams over a JSONL dataset,
// score their answers, and say with a paired test whether the small model is good enough to
// switch to; for a router, how quality and the share escalated move with its cascade threshold.
//
//   auto data = minnow::load_dataset("examples.jsonl");      // bad lines land in data->skipped
//   auto run = minnow::run_eval(*data, models, options, {});  // models: local GGUFs or upstreams
//   if (run.ok()) std::puts(minnow::eval_json(*run, false).c_str());
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "minnow/engine.h"
#include "minnow/error.h"
#include "minnow/upstream.h"

namespace minnow {

// ---- dataset ---------------------------------------------------------------------------------

struct EvalExample {
  int line = 0;  // 1-based line in the JSONL file
  std::string id;  // "id" when given, else "line N"
  std::vector<ChatMessage> messages;  // "messages", or "prompt" as one user message
  std::string expected;  // "expected" (alias "answer"); a non-string value as JSON text
  std::string label;     // "label"
  std::string schema;    // "schema": a JSON Schema as JSON text, "" for none
  std::string regex;     // "regex", for the regex metric
};

struct DatasetIssue {
  int line = 0;
  std::string message;  // "line 17: ..."
};

struct Dataset {
  std::vector<EvalExample> examples;
  std::vector<DatasetIssue> skipped;  // malformed lines, in order; the rest still run
};

// One JSON object per line (blank lines are ignored). A line that is not a JSON object, has
// neither "messages" nor "prompt", or none of "expected", "answer", "label" is skipped with a
// message naming its line.
Dataset parse_dataset(std::string_view jsonl);
Result<Dataset> load_dataset(const std::string& path);

// ---- metrics ---------------------------------------------------------------------------------

enum class Metric { exact, label, f1, json, regex, judge };
const char* metric_name(Metric m);
Result<Metric> parse_metric(std::string_view name);

// Each returns a score in [0, 1].
// exact: 1 when the trimmed answer equals the trimmed expected text (case-sensitive).
double exact_match(std::string_view answer, std::string_view expected);
// label: both sides trimmed and lowercased; the answer's first line, with quotes and trailing
// punctuation (. , ! ? ; :) stripped, must equal the label, or else its first word (stripped
// the same way) must: "Positive." and "positive, clearly" match the label "positive".
double label_match(std::string_view answer, std::string_view label);
// SQuAD's normalization (lowercase, ASCII punctuation removed, the articles a/an/the dropped,
// whitespace collapsed) then the F1 of the two bags of tokens; two empty texts score 1.
std::string squad_normalize(std::string_view text);
double token_f1(std::string_view answer, std::string_view expected);
// The answer parsed as JSON; the fraction of the expected object's top-level fields whose
// values it has equal (JSON equality: 1 and 1.0 are equal, "1" is not). An expected value that
// is not an object must equal the whole answer. An answer that is not JSON scores 0.
double json_field_match(std::string_view answer, std::string_view expected_json);
// 1 when the pattern (PCRE2 syntax, minnow/router.h's PatternSet: bounded backtracking, a
// pattern that hits the limit scores 0) matches anywhere in the answer (anchor with ^ $).
// Errors: a pattern that does not compile.
Result<double> regex_match(std::string_view answer, const std::string& pattern);

// ---- statistics ------------------------------------------------------------------------------

struct Interval {
  double mean = 0;
  double lo = 0;  // the 2.5th and 97.5th percentiles of the bootstrap means
  double hi = 0;
};
// The mean of the values with a percentile bootstrap 95% interval over `resamples` resamples
// drawn from a generator seeded with `seed` (the same seed gives the same interval).
Interval bootstrap_mean(std::span<const double> values, int resamples, uint64_t seed);
// The q-quantile (0..1) by linear interpolation between order statistics; 0 for no values.
double quantile(std::vector<double> values, double q);

// The switching rule: the small model may replace the reference (the best-scoring model) when
// its score is at most `margin` below the reference's, where margin = threshold_pct / 100 x the
// reference's score (relative: 5% of a 0.90 score is 0.045). Decided on the same examples with a
// paired bootstrap of the per-example differences small - reference:
//   switch          the interval's lower end is >= -margin (non-inferior within the margin),
//                   and there are at least 3 / margin examples (with fewer, even no observed
//                   loss cannot rule out losing on a `margin` share: the rule of three);
//   do not switch   the interval's upper end is < -margin (worse by more than the margin);
//   too few         otherwise. Then needed_n estimates the examples that would decide:
//                   n = (1.96 sd / gap)^2, sd the observed paired standard deviation and gap
//                   the distance of the mean difference from -margin (at least margin / 4,
//                   since a difference on the line never decides), and at least 3 / margin.
struct Verdict {
  std::string small;      // the model judged
  std::string reference;  // the best-scoring model
  std::string decision;   // "switch", "do not switch", "too few examples to decide"
  double margin = 0;
  Interval difference;    // mean small - reference, with its paired 95% interval
  int n = 0;
  int needed_n = 0;       // when too few: the examples estimated to decide; else 0
  std::string text;       // the verdict in words
};
Verdict paired_verdict(const std::string& small_name, std::span<const double> small,
                       const std::string& reference_name, std::span<const double> reference, double threshold_pct,
                       double reference_score, int resamples, uint64_t seed);

// The cascade policy "escalate when the local answer's confidence < threshold" as the threshold
// moves over the observed confidences: one point per distinct confidence (ascending; at the
// lowest, nothing is escalated) and a last one above the highest (everything is).
struct CurvePoint {
  double threshold = 0;
  double share_escalated = 0;
  double score = 0;  // mean over examples of the escalated model's or the local model's score
  double cost = 0;   // USD: the escalated examples' upstream cost
};
std::vector<CurvePoint> threshold_curve(std::span<const double> local_scores, std::span<const double> confidences,
                                        std::span<const double> upstream_scores,
                                        std::span<const double> upstream_costs);

// ---- running ---------------------------------------------------------------------------------

// A model to evaluate: a local GGUF file (run in-process) or an upstream.
struct EvalModel {
  std::string name;  // as the user named it
  bool local = true;
  std::string path;           // local: the GGUF file
  std::string chat_template;  // local: a template instead of the file's ("" for the file's)
  std::string system;         // local: a system message put before the example's messages
  Upstream upstream;          // otherwise
};

struct EvalOptions {
  Metric metric = Metric::exact;
  std::string regex;   // the regex metric's pattern for examples without their own
  std::string rubric;  // the judge's rubric
  bool has_judge = false;
  EvalModel judge;     // the judge metric's scoring model
  uint64_t seed = 0;
  double threshold_pct = 5;
  int resamples = 1000;
  int num_predict = 128;  // local models: the longest answer in tokens
  float temperature = 0;  // local models: 0 is greedy
  double target_score = -1;  // the router curve's target; < 0: the large model's score - margin
  int n_threads = 0;  // local models' threads (0: all cores)
};

struct ExampleResult {
  std::string answer;
  double score = 0;  // 0 when the model failed on the example
  double seconds = 0;
  int prompt_tokens = 0;
  int completion_tokens = 0;
  double cost = 0;
  bool has_confidence = false;  // local models
  double confidence = 0;        // mean token log-probability of the answer
  std::string error;            // why the model gave no answer (or it could not be scored), "" when none
};

struct ModelResult {
  std::string name;
  bool local = true;
  Interval score;
  int errors = 0;
  std::string first_error;
  double latency_p50 = 0, latency_p95 = 0;  // seconds per example
  int64_t prompt_tokens = 0, completion_tokens = 0;
  double mean_tokens = 0;  // prompt + completion per example
  double cost = 0;         // USD, from the upstream's prices (local: 0)
  std::vector<ExampleResult> examples;  // in dataset order
};

struct RouterCurve {
  std::string local, large;
  std::vector<CurvePoint> points;
  double target_score = 0;
  bool reached = false;  // some threshold reaches the target; then at_target is the first
  CurvePoint at_target;
};

struct EvalResult {
  Metric metric = Metric::exact;
  uint64_t seed = 0;
  double threshold_pct = 5;
  std::vector<EvalExample> examples;
  std::vector<DatasetIssue> skipped;
  std::vector<ModelResult> models;  // in --model order
  std::vector<Verdict> verdicts;    // one per local model other than the best-scoring one
  bool has_curve = false;
  RouterCurve curve;
};

// Called after each example of each model: examples done of total (all models together), and
// the model at work.
using EvalProgress = std::function<void(int done, int total, const std::string& model)>;

// Runs every model over every example, then scores and summarizes. Errors: a local model that
// does not load, a judge that fails to load. An upstream that fails on an example (no
// connection, a timeout, an HTTP error) makes that example an error for that model (score 0).
Result<EvalResult> run_eval(const Dataset& data, const std::vector<EvalModel>& models, const EvalOptions& options,
                            const EvalProgress& progress);

// The scores, intervals, verdicts and curve from per-example results already in `result`
// (run_eval calls it; exposed for tests).
void summarize_eval(EvalResult* result, const EvalOptions& options);

// The result as JSON text (per_example: each example's answers and scores too).
std::string eval_json(const EvalResult& result, bool per_example);
// A self-contained HTML report: inline CSS and SVG charts (class "chart score", "chart latency",
// "chart cost", "chart curve"), the verdicts in words, the examples where the models disagree.
std::string eval_html(const EvalResult& result);

}  // namespace minnow

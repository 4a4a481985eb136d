// `minnow eval --data EXAMPLES.jsonl --model A --model B ...`: scores local models and upstreams
// on the user's examples, says whether the small model is enough (minnow/eval.h has the rules),
// and writes the result as text, JSON (--json) and an HTML report (--report). Bad lines are
// named on stderr and skipped; an unknown model stops the run before any work.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/model_ref.h"
#include "minnow/eval.h"

namespace minnow::cli {
namespace {

struct EvalArgs {
  std::string data;
  std::vector<std::string> models;
  std::string metric;
  std::string judge;
  std::string rubric;
  std::string regex;
  std::string upstreams;
  uint64_t seed = 0;
  double threshold_pct = 5;
  double target_score = -1;
  int resamples = 1000;
  std::string report;
  std::string write_router;
  bool json = false;
  bool per_example = false;
  int num_predict = 128;
  float temperature = 0;
  int threads = 0;
};

// An upstream named in the definitions wins over a store name; then a GGUF path or store name.
Result<EvalModel> resolve(const std::string& name, const std::vector<Upstream>& upstreams, const std::string& ups_path) {
  EvalModel m;
  m.name = name;
  for (const Upstream& u : upstreams) {
    if (u.name == name) {
      m.local = false;
      m.upstream = u;
      return m;
    }
  }
  auto ref = resolve_model(name, /*pull_missing=*/false);
  std::error_code ec;
  if (ref && std::filesystem::is_regular_file(ref->path, ec)) {
    m.path = ref->path;
    m.chat_template = ref->defaults.chat_template;
    m.system = ref->defaults.system;
    return m;
  }
  const std::string why = ref ? "no such file" : ref.error().message;
  return make_error("unknown model '%s': not an upstream in %s, and %s", name.c_str(),
                    ups_path.empty() ? "(no upstreams file)" : ups_path.c_str(), why.c_str());
}

// A bar redrawn in place on a terminal; otherwise a line at each tenth, for logs.
EvalProgress progress_printer() {
  const bool tty = isatty(2);
  auto last_tenth = std::make_shared<int>(0);
  return [tty, last_tenth](int done, int total, const std::string& model) {
    if (tty) {
      const int width = 30, filled = total > 0 ? width * done / total : width;
      std::fprintf(stderr, "\r[%s%s] %d/%d %-30.30s", std::string(filled, '#').c_str(),
                   std::string(width - filled, '.').c_str(), done, total, model.c_str());
      if (done == total) std::fputc('\n', stderr);
      return;
    }
    const int tenth = total > 0 ? 10 * done / total : 10;
    if (tenth > *last_tenth) {
      *last_tenth = tenth;
      std::fprintf(stderr, "minnow: eval %d%% (%d/%d examples, %s)\n", 10 * tenth, done, total, model.c_str());
    }
  };
}

// The cascade router the curve calibrated (minnow/router.h): the small local model escalating to
// the upstream at the first threshold reaching the target score. A router's threshold is a mean
// log-probability, at most 0: a curve point above every confidence (escalate everything) is 0.
Status write_router(const EvalResult& r, const std::vector<EvalModel>& models, const std::string& file) {
  if (!r.has_curve) return make_error("--write-router: no router curve (it needs a local model and another one)");
  const RouterCurve& c = r.curve;
  const EvalModel* large = nullptr;
  for (const EvalModel& m : models)
    if (m.name == c.large) large = &m;
  if (large == nullptr || large->local)
    return make_error("--write-router: the router would escalate to '%s', which is not an upstream", c.large.c_str());
  if (!c.reached) return make_error("--write-router: no threshold reaches the target score %.3f", c.target_score);
  const std::string name = std::filesystem::path(file).stem().string();
  nlohmann::ordered_json def = {{"name", name}, {"local", c.local}, {"upstream", large->upstream.name}};
  // -infinity: the target is met with nothing escalated (not even answers without tokens, which
  // a cascade escalates at any finite threshold): the local policy says that exactly.
  const double threshold = std::min(0.0, c.at_target.threshold);
  if (std::isfinite(threshold)) {
    def["policy"] = "cascade";
    def["threshold"] = threshold;
  } else {
    def["policy"] = "local";
  }
  const std::string text = def.dump(2) + "\n";
  std::ofstream out(file, std::ios::binary);
  if (!out.write(text.data(), static_cast<std::streamsize>(text.size())))
    return make_error("--write-router: cannot write '%s'", file.c_str());
  std::fprintf(stderr,
               "minnow: wrote router '%s' to %s (%s threshold %.4f: %.1f%% escalated, score %.3f on these examples)\n",
               name.c_str(), file.c_str(), def["policy"].get<std::string>().c_str(), threshold,
               100 * c.at_target.share_escalated, c.at_target.score);
  return {};
}

void print_text(const EvalResult& r) {
  std::printf("%zu examples, metric %s, seed %llu\n\n", r.examples.size(), metric_name(r.metric),
              static_cast<unsigned long long>(r.seed));
  int w = 5;
  for (const ModelResult& m : r.models) w = std::max(w, static_cast<int>(m.name.size()));
  std::printf("%-*s %-8s %6s %17s %6s %9s %9s %10s %10s\n", w, "MODEL", "KIND", "SCORE", "95% INTERVAL", "ERRORS",
              "P50 S", "P95 S", "TOKENS", "COST USD");
  for (const ModelResult& m : r.models) {
    std::printf("%-*s %-8s %6.3f    [%.3f, %.3f] %6d %9.3f %9.3f %10lld %10.4f\n", w, m.name.c_str(),
                m.local ? "local" : "upstream", m.score.mean, m.score.lo, m.score.hi, m.errors, m.latency_p50,
                m.latency_p95, static_cast<long long>(m.prompt_tokens + m.completion_tokens), m.cost);
  }
  if (!r.verdicts.empty()) std::printf("\n");
  for (const Verdict& v : r.verdicts) std::printf("verdict: %s\n", v.text.c_str());
  if (r.has_curve) {
    const RouterCurve& c = r.curve;
    if (c.reached) {
      std::printf("router (%s escalating to %s): target %.3f reached at confidence threshold %.4f, escalating %.1f%% "
                  "(score %.3f, cost $%.4f)\n",
                  c.local.c_str(), c.large.c_str(), c.target_score, c.at_target.threshold,
                  100 * c.at_target.share_escalated, c.at_target.score, c.at_target.cost);
    } else {
      std::printf("router (%s escalating to %s): target %.3f not reached at any threshold\n", c.local.c_str(),
                  c.large.c_str(), c.target_score);
    }
  }
  if (!r.skipped.empty()) std::printf("\n%zu malformed lines skipped\n", r.skipped.size());
}

int run_eval_command(const EvalArgs& a) {
  // Everything that can be wrong with the command is found before any model runs.
  auto data = load_dataset(a.data);
  if (!data) return fail(data.error().message);
  for (const DatasetIssue& s : data->skipped) std::fprintf(stderr, "minnow: %s: %s\n", a.data.c_str(), s.message.c_str());
  if (data->examples.empty())
    return fail(strfmt("%s: no usable examples (%zu lines skipped)", a.data.c_str(), data->skipped.size()));

  std::string ups_path;
  auto ups = load_configured_upstreams(a.upstreams, &ups_path);
  if (!ups) return fail(ups.error().message);
  const std::vector<Upstream> upstreams = std::move(*ups);

  EvalOptions o;
  bool all_labels = true;
  for (const EvalExample& ex : data->examples) all_labels &= !ex.label.empty();
  o.metric = all_labels ? Metric::label : Metric::exact;
  if (!a.metric.empty()) {
    auto m = parse_metric(a.metric);
    if (!m) return fail(m.error().message);
    o.metric = *m;
  }
  if (o.metric == Metric::regex) {
    if (!a.regex.empty()) {
      if (auto ok = regex_match("", a.regex); !ok) return fail("--regex: " + ok.error().message);
    }
    for (const EvalExample& ex : data->examples) {
      if (ex.regex.empty() && a.regex.empty())
        return fail(strfmt("%s: line %d: no 'regex' for the regex metric, and no --regex", a.data.c_str(), ex.line));
    }
  }
  std::vector<EvalModel> models;
  for (const std::string& name : a.models) {
    auto m = resolve(name, upstreams, ups_path);
    if (!m) return fail(m.error().message);
    models.push_back(std::move(*m));
  }
  if (o.metric == Metric::judge) {
    if (a.judge.empty()) return fail("--metric judge needs --judge MODEL");
    auto j = resolve(a.judge, upstreams, ups_path);
    if (!j) return fail("--judge: " + j.error().message);
    o.judge = std::move(*j);
    o.has_judge = true;
  }
  o.regex = a.regex;
  o.rubric = a.rubric;
  o.seed = a.seed;
  o.threshold_pct = a.threshold_pct;
  o.target_score = a.target_score;
  o.resamples = a.resamples;
  o.num_predict = a.num_predict;
  o.temperature = a.temperature;
  o.n_threads = a.threads;

  auto result = run_eval(*data, models, o, progress_printer());
  if (!result) return fail(result.error().message);
  for (const ModelResult& m : result->models) {
    if (m.errors > 0) {
      std::fprintf(stderr, "minnow: %s: %d of %zu examples failed (first: %s)\n", m.name.c_str(), m.errors,
                   m.examples.size(), m.first_error.c_str());
    }
  }
  if (!a.report.empty()) {
    std::ofstream out(a.report, std::ios::binary);
    const std::string html = eval_html(*result);
    if (!out.write(html.data(), static_cast<std::streamsize>(html.size())))
      return fail("cannot write the report to '" + a.report + "'");
  }
  if (!a.write_router.empty())
    if (Status st = write_router(*result, models, a.write_router); !st.ok()) return fail(st.error().message);
  if (a.json) {
    std::printf("%s\n", eval_json(*result, a.per_example).c_str());
  } else {
    print_text(*result);
  }
  return 0;
}

}  // namespace

void add_eval_command(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand("eval", "Score models on a JSONL dataset and decide whether the small one is enough");
  cmd->add_option("--data", a->data, "Examples, one JSON object per line: messages or prompt; expected, answer or label")
      ->required();
  cmd->add_option("--model,-m", a->models, "A local model (GGUF path or store name) or an upstream name; repeat")
      ->required()
      ->allow_extra_args(false);
  cmd->add_option("--metric", a->metric, "exact, label, f1, json, regex or judge (default: label when every example "
                                         "has a label, else exact)");
  cmd->add_option("--judge", a->judge, "The model that scores answers for --metric judge");
  cmd->add_option("--rubric", a->rubric, "The judge's rubric");
  cmd->add_option("--regex", a->regex, "The regex metric's pattern for examples without a 'regex' field");
  cmd->add_option("--upstreams", a->upstreams, "Upstream definitions (JSON; default $MINNOW_UPSTREAMS or ~/.minnow/upstreams.json)");
  cmd->add_option("--seed", a->seed, "Seed of the bootstrap resampling (and of sampling, with --temperature)");
  cmd->add_option("--threshold-pct", a->threshold_pct, "Switch when the small model is within this % of the best score")
      ->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--target-score", a->target_score, "The router curve's target score (default: the large model's "
                                                     "score less the switch margin)");
  cmd->add_option("--resamples", a->resamples, "Bootstrap resamples")->check(CLI::Range(100, 1000000));
  cmd->add_option("--report", a->report, "Write a self-contained HTML report here");
  cmd->add_option("--write-router", a->write_router,
                  "Write the calibrated cascade router (local model -> upstream at the target score) to this JSON "
                  "file, named after it");
  cmd->add_flag("--json", a->json, "Print the result as JSON");
  cmd->add_flag("--per-example", a->per_example, "With --json: each example's answers and scores too");
  cmd->add_option("--num-predict,-n", a->num_predict, "Local models: the longest answer in tokens")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--temperature", a->temperature, "Local models and upstreams: sampling temperature (0: greedy)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--threads,-t", a->threads, "Threads for local models (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->callback([a, exit_code] { *exit_code = run_eval_command(*a); });
}

}  // namespace minnow::cli

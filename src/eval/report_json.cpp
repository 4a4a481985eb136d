// The eval result as JSON (`minnow eval --json`). Non-finite numbers (the confidence of a local
// model that failed on an example, treated as -infinity by the cascade) are written as null.
#include <nlohmann/json.hpp>

#include "minnow/eval.h"

namespace minnow {
namespace {

using json = nlohmann::ordered_json;

json interval_json(const Interval& i) { return {{"mean", i.mean}, {"lo", i.lo}, {"hi", i.hi}}; }

json point_json(const CurvePoint& p) {
  return {{"threshold", p.threshold}, {"share_escalated", p.share_escalated}, {"score", p.score}, {"cost", p.cost}};
}

}  // namespace

std::string eval_json(const EvalResult& r, bool per_example) {
  json out;
  out["metric"] = metric_name(r.metric);
  out["seed"] = r.seed;
  out["threshold_pct"] = r.threshold_pct;
  out["examples"] = r.examples.size();
  out["skipped"] = json::array();
  for (const DatasetIssue& s : r.skipped) out["skipped"].push_back({{"line", s.line}, {"message", s.message}});
  out["models"] = json::array();
  for (const ModelResult& m : r.models) {
    json jm = {{"name", m.name},
               {"kind", m.local ? "local" : "upstream"},
               {"score", m.score.mean},
               {"ci95", {m.score.lo, m.score.hi}},
               {"errors", m.errors},
               {"latency_p50_s", m.latency_p50},
               {"latency_p95_s", m.latency_p95},
               {"prompt_tokens", m.prompt_tokens},
               {"completion_tokens", m.completion_tokens},
               {"mean_tokens", m.mean_tokens},
               {"cost_usd", m.cost}};
    if (m.errors > 0) jm["first_error"] = m.first_error;
    if (per_example) {
      jm["per_example"] = json::array();
      for (size_t i = 0; i < m.examples.size(); ++i) {
        const ExampleResult& e = m.examples[i];
        json je = {{"id", r.examples[i].id}, {"answer", e.answer}, {"score", e.score}, {"seconds", e.seconds},
                   {"prompt_tokens", e.prompt_tokens}, {"completion_tokens", e.completion_tokens}, {"cost_usd", e.cost}};
        if (e.has_confidence) je["confidence"] = e.confidence;
        if (!e.error.empty()) je["error"] = e.error;
        jm["per_example"].push_back(std::move(je));
      }
    }
    out["models"].push_back(std::move(jm));
  }
  out["verdicts"] = json::array();
  for (const Verdict& v : r.verdicts) {
    json jv = {{"small", v.small},
               {"reference", v.reference},
               {"decision", v.decision},
               {"margin", v.margin},
               {"difference", interval_json(v.difference)},
               {"n", v.n},
               {"text", v.text}};
    if (v.needed_n > 0) jv["needed_n"] = v.needed_n;
    out["verdicts"].push_back(std::move(jv));
  }
  if (r.has_curve) {
    const RouterCurve& c = r.curve;
    json jc = {{"local", c.local}, {"large", c.large}, {"target_score", c.target_score}, {"reached", c.reached}};
    if (c.reached) jc["at_target"] = point_json(c.at_target);
    jc["points"] = json::array();
    for (const CurvePoint& p : c.points) jc["points"].push_back(point_json(p));
    out["threshold_curve"] = std::move(jc);
  }
  // A local model may answer with bytes that are not UTF-8; the JSON shows them replaced.
  return out.dump(2, ' ', false, json::error_handler_t::replace);
}

}  // namespace minnow

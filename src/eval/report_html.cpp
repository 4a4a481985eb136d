// The eval report as one self-contained HTML file: inline CSS, inline SVG charts (no script, no
// external resource), so that it opens anywhere and can be mailed or archived as it is.
#include <algorithm>
#include <cmath>

#include "minnow/eval.h"

namespace minnow {
namespace {

constexpr int kMaxDisagreements = 100;  // rows of the disagreement table; more would bury the page

std::string esc(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// Long names (paths) keep their distinctive end, so that chart labels stay beside their bars.
std::string short_name(const std::string& name) {
  constexpr size_t kMax = 24;
  return name.size() <= kMax ? name : "\u2026" + name.substr(name.size() - kMax + 1);
}

std::string num(double v, int digits = 3) { return std::isfinite(v) ? strfmt("%.*f", digits, v) : "-"; }

// A horizontal bar chart, one row per model; whiskers (lo, hi) when given. Values scale to max_value.
struct Bar {
  std::string label;
  double value = 0;
  double lo = NAN, hi = NAN;
  std::string text;  // printed at the bar's end
  size_t color = 0;  // the model's index: its color in every chart
};

std::string bar_chart(const std::string& cls, const std::string& title, const std::vector<Bar>& bars, double max_value) {
  const int row = 28, left = 180, width = 420, top = 30;
  const int height = top + row * static_cast<int>(bars.size()) + 10;
  if (!(max_value > 0)) max_value = 1;
  auto x = [&](double v) { return left + width * std::clamp(v / max_value, 0.0, 1.0); };
  std::string s = strfmt("<svg class=\"chart %s\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                         "role=\"img\"><title>%s</title>",
                         cls.c_str(), left + width + 120, height, esc(title).c_str());
  s += strfmt("<text x=\"4\" y=\"18\" class=\"t\">%s</text>", esc(title).c_str());
  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    const int y = top + row * static_cast<int>(i);
    s += strfmt("<text x=\"4\" y=\"%d\">%s</text>", y + 17, esc(short_name(b.label)).c_str());
    s += strfmt("<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"18\" class=\"bar%zu\"/>", left, y + 4, x(b.value) - left,
                b.color % 6);
    if (std::isfinite(b.lo) && std::isfinite(b.hi)) {
      s += strfmt("<path d=\"M%.1f %d H%.1f M%.1f %d V%d M%.1f %d V%d\" class=\"whisker\"/>", x(b.lo), y + 13, x(b.hi),
                  x(b.lo), y + 7, y + 19, x(b.hi), y + 7, y + 19);
    }
    s += strfmt("<text x=\"%.1f\" y=\"%d\">%s</text>", std::max(x(b.value), std::isfinite(b.hi) ? x(b.hi) : 0.0) + 6,
                y + 17, esc(b.text).c_str());
  }
  return s + "</svg>\n";
}

// Score against share escalated as the cascade's threshold moves; the target as a dashed line.
std::string curve_chart(const RouterCurve& c) {
  const int left = 50, top = 30, w = 480, h = 260;
  double lo = c.target_score, hi = c.target_score;
  for (const CurvePoint& p : c.points) {
    lo = std::min(lo, p.score);
    hi = std::max(hi, p.score);
  }
  lo = std::max(0.0, lo - 0.05);
  hi = std::min(1.0, hi + 0.05);
  if (hi - lo < 0.1) hi = std::min(1.0, lo + 0.1), lo = hi - 0.1;
  auto px = [&](double share) { return left + w * share; };
  auto py = [&](double score) { return top + h * (1 - (score - lo) / (hi - lo)); };
  std::string s = strfmt("<svg class=\"chart curve\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                         "role=\"img\"><title>score vs share escalated</title>",
                         left + w + 40, top + h + 50);
  s += strfmt("<text x=\"4\" y=\"18\" class=\"t\">Cascade: %s escalating to %s</text>", esc(short_name(c.local)).c_str(),
              esc(short_name(c.large)).c_str());
  s += strfmt("<path d=\"M%d %d V%d H%d\" class=\"axis\"/>", left, top, top + h, left + w);
  for (int i = 0; i <= 4; ++i) {
    const double share = i / 4.0, score = lo + (hi - lo) * i / 4.0;
    s += strfmt("<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d%%</text>", px(share), top + h + 18, i * 25);
    s += strfmt("<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>", left - 4, py(score) + 4, score);
  }
  s += strfmt("<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">share escalated</text>", left + w / 2, top + h + 40);
  s += strfmt("<path d=\"M%d %.1f H%d\" class=\"target\"/>", left, py(c.target_score), left + w);
  std::string d;
  for (const CurvePoint& p : c.points) d += strfmt("%s%.1f %.1f ", d.empty() ? "M" : "L", px(p.share_escalated), py(p.score));
  s += "<path d=\"" + d + "\" class=\"line\"/>";
  if (c.reached) {
    s += strfmt("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" class=\"dot\"/>", px(c.at_target.share_escalated),
                py(c.at_target.score));
  }
  return s + "</svg>\n";
}

const char* kStyle = R"(body{font:14px/1.4 sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n{text-align:right}.err{color:#b00}
svg{display:block;margin:10px 0;font:12px sans-serif}svg .t{font-weight:bold;font-size:13px}
.bar0{fill:#4e79a7}.bar1{fill:#f28e2b}.bar2{fill:#59a14f}.bar3{fill:#e15759}.bar4{fill:#76b7b2}.bar5{fill:#edc948}
.whisker{stroke:#222;stroke-width:1.5;fill:none}.axis{stroke:#444;fill:none}
.line{stroke:#4e79a7;stroke-width:2;fill:none}.target{stroke:#e15759;stroke-dasharray:5 4;fill:none}.dot{fill:#e15759}
.verdict{font-size:15px;padding:8px 12px;background:#f6f8fa;border-left:4px solid #4e79a7}
pre{white-space:pre-wrap;margin:0;max-width:360px})";

}  // namespace

std::string eval_html(const EvalResult& r) {
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>minnow eval</title><style>";
  h += kStyle;
  h += "</style></head><body>\n<h1>minnow eval</h1>\n";
  h += strfmt("<p>%zu examples, metric <b>%s</b>, seed %llu, switch margin %g%% of the best score", r.examples.size(),
              metric_name(r.metric), static_cast<unsigned long long>(r.seed), r.threshold_pct);
  if (!r.skipped.empty()) h += strfmt("; <span class=\"err\">%zu malformed lines skipped</span>", r.skipped.size());
  h += ".</p>\n<h2>Verdict</h2>\n";
  if (r.verdicts.empty()) h += "<p>No verdict: it needs a local model and another model to compare with.</p>\n";
  for (const Verdict& v : r.verdicts) h += "<p class=\"verdict\">" + esc(v.text) + "</p>\n";

  h += "<h2>Models</h2>\n<table><tr><th>model</th><th>kind</th><th>score</th><th>95% interval</th><th>errors</th>"
       "<th>latency p50</th><th>p95</th><th>tokens (prompt + completion)</th><th>cost</th></tr>\n";
  std::vector<Bar> score_bars, latency_bars, cost_bars;
  double max_latency = 0, max_cost = 0;
  for (const ModelResult& m : r.models) {
    h += strfmt("<tr><td>%s</td><td>%s</td><td class=\"n\">%s</td><td class=\"n\">%s to %s</td><td class=\"n\">%d",
                esc(m.name).c_str(), m.local ? "local" : "upstream", num(m.score.mean).c_str(), num(m.score.lo).c_str(),
                num(m.score.hi).c_str(), m.errors);
    if (m.errors > 0) h += " <span class=\"err\">(" + esc(m.first_error) + ")</span>";
    h += strfmt("</td><td class=\"n\">%.3f s</td><td class=\"n\">%.3f s</td><td class=\"n\">%lld + %lld</td>"
                "<td class=\"n\">$%.4f</td></tr>\n",
                m.latency_p50, m.latency_p95, static_cast<long long>(m.prompt_tokens),
                static_cast<long long>(m.completion_tokens), m.cost);
    const size_t color = score_bars.size();
    score_bars.push_back({m.name, m.score.mean, m.score.lo, m.score.hi,
                          strfmt("%.3f [%.3f, %.3f]", m.score.mean, m.score.lo, m.score.hi), color});
    latency_bars.push_back({short_name(m.name) + " p50", m.latency_p50, NAN, NAN, strfmt("%.3f s", m.latency_p50), color});
    latency_bars.push_back({short_name(m.name) + " p95", m.latency_p95, NAN, NAN, strfmt("%.3f s", m.latency_p95), color});
    cost_bars.push_back({m.name, m.cost, NAN, NAN, strfmt("$%.4f", m.cost), color});
    max_latency = std::max(max_latency, m.latency_p95);
    max_cost = std::max(max_cost, m.cost);
  }
  h += "</table>\n";
  h += bar_chart("score", "Score (95% bootstrap interval)", score_bars, 1);
  h += bar_chart("latency", "Latency per example, p50 and p95", latency_bars, max_latency);
  h += bar_chart("cost", "Estimated cost (USD)", cost_bars, max_cost);

  if (r.has_curve) {
    const RouterCurve& c = r.curve;
    h += "<h2>Router threshold</h2>\n" + curve_chart(c);
    h += strfmt("<p>Target score %.3f: ", c.target_score);
    if (c.reached) {
      h += strfmt("reached at confidence threshold %s, escalating %.1f%% of requests (score %.3f, cost $%.4f).</p>\n",
                  num(c.at_target.threshold, 4).c_str(), 100 * c.at_target.share_escalated, c.at_target.score,
                  c.at_target.cost);
    } else {
      h += "not reached at any threshold.</p>\n";
    }
  }

  if (!r.skipped.empty()) {
    h += "<h2>Skipped lines</h2>\n<ul>\n";
    for (const DatasetIssue& s : r.skipped) h += "<li>" + esc(s.message) + "</li>\n";
    h += "</ul>\n";
  }

  if (r.models.size() >= 2) {
    std::string rows;
    int n_rows = 0, n_disagree = 0;
    for (size_t i = 0; i < r.examples.size(); ++i) {
      bool differ = false;
      for (const ModelResult& m : r.models) differ |= m.examples[i].score != r.models[0].examples[i].score;
      if (!differ) continue;
      if (++n_disagree > kMaxDisagreements) continue;
      ++n_rows;
      const EvalExample& ex = r.examples[i];
      rows += "<tr><td>" + esc(ex.id) + "</td><td><pre>" + esc(ex.messages.back().content) + "</pre></td><td><pre>" +
              esc(ex.expected.empty() ? ex.label : ex.expected) + "</pre></td>";
      for (const ModelResult& m : r.models) {
        const ExampleResult& e = m.examples[i];
        rows += "<td><pre>" + esc(e.error.empty() ? e.answer : "error: " + e.error) + "</pre>" + num(e.score, 2) + "</td>";
      }
      rows += "</tr>\n";
    }
    h += strfmt("<h2>Disagreements (%d examples", n_disagree);
    if (n_disagree > n_rows) h += strfmt(", the first %d shown", n_rows);
    h += ")</h2>\n";
    if (n_rows == 0) {
      h += "<p>The models score the same on every example.</p>\n";
    } else {
      h += "<table><tr><th>id</th><th>prompt</th><th>expected</th>";
      for (const ModelResult& m : r.models) h += "<th>" + esc(m.name) + "</th>";
      h += "</tr>\n" + rows + "</table>\n";
    }
  }
  return h + "</body></html>\n";
}

}  // namespace minnow

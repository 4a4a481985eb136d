// Scoring an answer against an example's expected text: exact match, label accuracy, SQuAD's
// token F1, JSON field match and regex (PCRE2, bounded). Each is documented, with its
// normalization, in eval.h.
#include <algorithm>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>

#include "minnow/eval.h"
#include "minnow/router.h"

namespace minnow {
namespace {

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r\n\f\v";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Quotes around a label and punctuation after it are how models dress a one-word answer.
std::string_view strip_dressing(std::string_view s) {
  s = trim(s);
  while (!s.empty() && std::string_view(".,!?;:\"'`*").find(s.back()) != std::string_view::npos) s.remove_suffix(1);
  while (!s.empty() && std::string_view("\"'`*").find(s.front()) != std::string_view::npos) s.remove_prefix(1);
  return trim(s);
}

std::vector<std::string> split_ws(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    size_t b = i;
    while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i > b) out.emplace_back(s.substr(b, i - b));
  }
  return out;
}

}  // namespace

const char* metric_name(Metric m) {
  switch (m) {
    case Metric::exact: return "exact";
    case Metric::label: return "label";
    case Metric::f1: return "f1";
    case Metric::json: return "json";
    case Metric::regex: return "regex";
    case Metric::judge: return "judge";
  }
  return "?";
}

Result<Metric> parse_metric(std::string_view name) {
  for (Metric m : {Metric::exact, Metric::label, Metric::f1, Metric::json, Metric::regex, Metric::judge})
    if (name == metric_name(m)) return m;
  return make_error("unknown metric '%.*s' (exact, label, f1, json, regex or judge)", static_cast<int>(name.size()),
                    name.data());
}

double exact_match(std::string_view answer, std::string_view expected) {
  return trim(answer) == trim(expected) ? 1 : 0;
}

double label_match(std::string_view answer, std::string_view label) {
  const std::string want = lower(strip_dressing(label));
  std::string_view a = trim(answer);
  a = a.substr(0, a.find('\n'));
  const std::string first_line = lower(strip_dressing(a));
  if (first_line == want) return 1;
  std::vector<std::string> words = split_ws(first_line);
  return !words.empty() && strip_dressing(words[0]) == want ? 1 : 0;
}

std::string squad_normalize(std::string_view text) {
  std::string s;
  for (char c : text) {
    if (std::ispunct(static_cast<unsigned char>(c))) continue;
    s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  std::string out;
  for (const std::string& w : split_ws(s)) {
    if (w == "a" || w == "an" || w == "the") continue;
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

double token_f1(std::string_view answer, std::string_view expected) {
  std::vector<std::string> pred = split_ws(squad_normalize(answer));
  std::vector<std::string> gold = split_ws(squad_normalize(expected));
  if (pred.empty() || gold.empty()) return pred.empty() && gold.empty() ? 1 : 0;
  std::map<std::string, int> counts;
  for (const std::string& w : gold) ++counts[w];
  int common = 0;
  for (const std::string& w : pred) {
    auto it = counts.find(w);
    if (it != counts.end() && it->second > 0) {
      --it->second;
      ++common;
    }
  }
  if (common == 0) return 0;
  const double precision = static_cast<double>(common) / pred.size();
  const double recall = static_cast<double>(common) / gold.size();
  return 2 * precision * recall / (precision + recall);
}

double json_field_match(std::string_view answer, std::string_view expected_json) {
  using json = nlohmann::json;
  json want = json::parse(expected_json, nullptr, false);
  json got = json::parse(trim(answer), nullptr, false);
  if (got.is_discarded()) return 0;
  if (want.is_discarded()) return 0;
  if (!want.is_object() || want.empty()) return want == got ? 1 : 0;
  if (!got.is_object()) return 0;
  int equal = 0;
  for (auto it = want.begin(); it != want.end(); ++it) {
    auto g = got.find(it.key());
    if (g != got.end() && *g == it.value()) ++equal;
  }
  return static_cast<double>(equal) / want.size();
}

Result<double> regex_match(std::string_view answer, const std::string& pattern) {
  // The router's patterns: PCRE2 with a match limit, so that a pattern backtracking without end
  // on a long answer stops (and scores 0) instead of hanging the run.
  auto set = PatternSet::compile({pattern}, "regex");
  if (!set) return set.error();
  return set->first_match(answer, /*on_limit=*/false) >= 0 ? 1.0 : 0.0;
}

}  // namespace minnow

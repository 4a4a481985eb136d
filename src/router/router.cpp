// Router definitions (JSON), their regex sets (PCRE2, bounded) and the decisions that need no
// model: the rules policy, the privacy hold, the classifier's prompt.
#include "minnow/router.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace minnow {
namespace {

using json = nlohmann::json;

// Backtracking steps one match may take: far more than any sane pattern needs on a prompt, far
// fewer than a catastrophic one would (it then stops, and counts as the caller says).
constexpr uint32_t kMatchLimit = 1'000'000;

constexpr const char* kDefaultInstruction =
    "Decide whether a small language model can answer the request below well. Answer \"easy\" when "
    "it is routine (short factual questions, classification, extraction, formatting, simple "
    "chat), \"hard\" when it needs deep reasoning, expert knowledge, long or careful writing, or "
    "multi-step math.";

}  // namespace

struct PatternSet::Impl {
  std::vector<std::string> patterns;
  std::vector<pcre2_code*> codes;
  pcre2_match_context* context = nullptr;
  ~Impl() {
    for (pcre2_code* c : codes) pcre2_code_free(c);
    pcre2_match_context_free(context);
  }
};

PatternSet::PatternSet() = default;
PatternSet::~PatternSet() = default;
PatternSet::PatternSet(PatternSet&&) noexcept = default;
PatternSet& PatternSet::operator=(PatternSet&&) noexcept = default;

Result<PatternSet> PatternSet::compile(const std::vector<std::string>& patterns, const std::string& what) {
  PatternSet s;
  s.impl_ = std::make_unique<Impl>();
  s.impl_->context = pcre2_match_context_create(nullptr);
  if (s.impl_->context == nullptr) return make_error("%s: out of memory", what.c_str());
  pcre2_set_match_limit(s.impl_->context, kMatchLimit);
  for (size_t i = 0; i < patterns.size(); ++i) {
    int err = 0;
    PCRE2_SIZE at = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(patterns[i].data()), patterns[i].size(),
                                     PCRE2_UTF | PCRE2_UCP, &err, &at, nullptr);
    if (code == nullptr) {
      std::string msg(256, '\0');
      pcre2_get_error_message(err, reinterpret_cast<PCRE2_UCHAR*>(msg.data()), msg.size());
      msg.resize(msg.find('\0'));
      // "escalate_patterns 2 ('x'): ..." in a list; "regex 'x': ..." for a pattern alone.
      const std::string which = patterns.size() > 1 ? strfmt("%s %zu ('%s')", what.c_str(), i + 1, patterns[i].c_str())
                                                    : strfmt("%s '%s'", what.c_str(), patterns[i].c_str());
      return make_error("%s: %s at offset %zu", which.c_str(), msg.c_str(), static_cast<size_t>(at));
    }
    s.impl_->codes.push_back(code);
    s.impl_->patterns.push_back(patterns[i]);
  }
  return s;
}

bool PatternSet::empty() const {
  return !impl_ || impl_->codes.empty();
}

const std::vector<std::string>& PatternSet::patterns() const {
  static const std::vector<std::string> none;
  return impl_ ? impl_->patterns : none;
}

int PatternSet::first_match(std::string_view text, bool on_limit) const {
  if (empty()) return -1;
  for (size_t i = 0; i < impl_->codes.size(); ++i) {
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(impl_->codes[i], nullptr);
    if (md == nullptr) return on_limit ? static_cast<int>(i) : -1;
    // Invalid UTF-8 is checked (PCRE2 without NO_UTF_CHECK) and counts like a hit limit.
    const int rc = pcre2_match(impl_->codes[i], reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0, 0,
                               md, impl_->context);
    pcre2_match_data_free(md);
    if (rc >= 0) return static_cast<int>(i);
    if (rc != PCRE2_ERROR_NOMATCH && on_limit) return static_cast<int>(i);
  }
  return -1;
}

const char* route_policy_name(RoutePolicy p) {
  switch (p) {
    case RoutePolicy::kLocal:
      return "local";
    case RoutePolicy::kRules:
      return "rules";
    case RoutePolicy::kClassifier:
      return "classifier";
    case RoutePolicy::kCascade:
      return "cascade";
  }
  return "?";
}

Result<RouterDef> parse_router(std::string_view json_text, const std::string& origin) {
  const json j = json::parse(json_text, nullptr, false);
  if (j.is_discarded()) return make_error("%s: not valid JSON", origin.c_str());
  if (!j.is_object()) return make_error("%s: a router definition is a JSON object", origin.c_str());
  RouterDef r;
  auto text = [&](const json& o, const char* key, std::string* out, bool required) -> Status {
    if (!o.contains(key))
      return required ? Status(make_error("%s: '%s' is missing", origin.c_str(), key)) : Status();
    if (!o[key].is_string() || o[key].get<std::string>().empty())
      return make_error("%s: '%s' must be a non-empty string", origin.c_str(), key);
    *out = o[key].get<std::string>();
    return {};
  };
  auto strings = [&](const json& o, const char* key, std::vector<std::string>* out) -> Status {
    if (!o.contains(key)) return {};
    if (!o[key].is_array()) return make_error("%s: '%s' must be an array of strings", origin.c_str(), key);
    for (const json& e : o[key]) {
      if (!e.is_string()) return make_error("%s: '%s' must be an array of strings", origin.c_str(), key);
      out->push_back(e.get<std::string>());
    }
    return {};
  };
  auto section = [&](const char* key) -> Result<json> {
    if (!j.contains(key)) return json::object();
    if (!j[key].is_object()) return make_error("%s: '%s' must be an object", origin.c_str(), key);
    return j[key];
  };
  std::string policy = "cascade";
  for (Status st : {text(j, "name", &r.name, true), text(j, "local", &r.local, true),
                    text(j, "upstream", &r.upstream, true), text(j, "policy", &policy, false)})
    if (!st.ok()) return st.error();
  if (policy == "local")
    r.policy = RoutePolicy::kLocal;
  else if (policy == "rules")
    r.policy = RoutePolicy::kRules;
  else if (policy == "classifier")
    r.policy = RoutePolicy::kClassifier;
  else if (policy == "cascade")
    r.policy = RoutePolicy::kCascade;
  else
    return make_error("%s: 'policy' must be local, rules, classifier or cascade, not '%s'", origin.c_str(),
                      policy.c_str());
  if (j.contains("threshold")) {
    if (!j["threshold"].is_number() || j["threshold"].get<double>() > 0)
      return make_error("%s: 'threshold' must be a number <= 0 (a mean log-probability)", origin.c_str());
    r.threshold = j["threshold"];
  }
  auto rules = section("rules");
  if (!rules) return rules.error();
  if (rules->contains("max_prompt_chars")) {
    const json& v = (*rules)["max_prompt_chars"];
    if (!v.is_number_integer() || v.get<int64_t>() < 0)
      return make_error("%s: 'rules.max_prompt_chars' must be an integer >= 0", origin.c_str());
    r.max_prompt_chars = v;
  }
  if (rules->contains("escalate_schema")) {
    if (!(*rules)["escalate_schema"].is_boolean())
      return make_error("%s: 'rules.escalate_schema' must be true or false", origin.c_str());
    r.escalate_schema = (*rules)["escalate_schema"];
  }
  std::vector<std::string> escalate, local;
  if (Status st = strings(*rules, "escalate_patterns", &escalate); !st.ok()) return st.error();
  auto classifier = section("classifier");
  if (!classifier) return classifier.error();
  if (Status st = text(*classifier, "instruction", &r.classifier_instruction, false); !st.ok())
    return st.error();
  auto privacy = section("privacy");
  if (!privacy) return privacy.error();
  if (Status st = strings(*privacy, "local_patterns", &local); !st.ok()) return st.error();
  auto esc = PatternSet::compile(escalate, origin + ": rules.escalate_patterns");
  if (!esc) return esc.error();
  auto loc = PatternSet::compile(local, origin + ": privacy.local_patterns");
  if (!loc) return loc.error();
  r.escalate_patterns = std::move(*esc);
  r.local_patterns = std::move(*loc);
  return r;
}

Result<RouterDef> load_router(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("%s: cannot read", path.c_str());
  std::ostringstream s;
  s << in.rdbuf();
  return parse_router(s.str(), path);
}

Result<std::vector<RouterDef>> load_router_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<RouterDef> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".json") files.push_back(e.path().string());
  if (ec) return make_error("%s: %s", dir.c_str(), ec.message().c_str());
  std::sort(files.begin(), files.end());
  for (const std::string& f : files) {
    auto r = load_router(f);
    if (!r) return r.error();
    out.push_back(std::move(*r));
  }
  return out;
}

std::string default_router_dir() {
  if (const char* p = std::getenv("MINNOW_ROUTERS"); p != nullptr && *p != '\0') return p;
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : ".") + "/.minnow/routers";
}

std::string rules_escalation(const RouterDef& r, std::string_view prompt_text, bool wants_schema) {
  if (r.max_prompt_chars > 0 && static_cast<int64_t>(prompt_text.size()) > r.max_prompt_chars)
    return strfmt("the prompt is longer than %lld characters", static_cast<long long>(r.max_prompt_chars));
  if (const int i = r.escalate_patterns.first_match(prompt_text, false); i >= 0)
    return "the prompt matches escalate pattern '" + r.escalate_patterns.patterns()[static_cast<size_t>(i)] +
           "'";
  if (r.escalate_schema && wants_schema) return "the request asks for a JSON schema";
  return "";
}

std::string privacy_hold(const RouterDef& r, std::string_view prompt_text, bool local_only) {
  if (local_only) return "the request is marked local_only";
  if (const int i = r.local_patterns.first_match(prompt_text, true); i >= 0)
    return "the prompt matches privacy pattern '" + r.local_patterns.patterns()[static_cast<size_t>(i)] + "'";
  return "";
}

std::string classifier_prompt(const RouterDef& r, std::string_view prompt_text) {
  const std::string& instruction =
      r.classifier_instruction.empty() ? std::string(kDefaultInstruction) : r.classifier_instruction;
  return instruction + "\n\nRequest:\n" + std::string(prompt_text) +
         "\n\nAnswer with one word, easy or hard.";
}

}  // namespace minnow

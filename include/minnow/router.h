// Routers: a model name that answers with a local model and escalates to an upstream
// (minnow/upstream.h) when its policy says the local model is not enough. `minnow serve` serves
// each router under its name through both APIs; this header holds the definition and the parts
// of the decision that need no model.
//
// A definition is a JSON file:
//   {"name": "support", "local": "smollm2", "upstream": "gpt-4o-mini",
//    "policy": "cascade", "threshold": -0.8,
//    "rules": {"max_prompt_chars": 2000, "escalate_patterns": ["(?i)\\blegal\\b"], "escalate_schema": true},
//    "classifier": {"instruction": "..."},
//    "privacy": {"local_patterns": ["\\b\\d{3}-\\d{2}-\\d{4}\\b"]}}
// Policies: "rules" (escalate a prompt longer than max_prompt_chars, one matching an
// escalate_pattern, or one asking for a JSON schema when escalate_schema), "classifier" (the
// local model labels the request "easy" or "hard" under an enum schema; "hard" escalates),
// "cascade" (the local model answers; an answer whose mean token log-probability is below
// threshold, or that does not parse as the JSON the request asked for, escalates). "local" never
// escalates. Privacy: a request matching a local_pattern, or marked local_only, stays local
// whatever the policy says; nothing goes upstream but what a policy sends there.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "minnow/error.h"

namespace minnow {

enum class RoutePolicy { kLocal, kRules, kClassifier, kCascade };

const char* route_policy_name(RoutePolicy p);

// Regexes (PCRE2 syntax, UTF-8) compiled once; matching is bounded (a pattern that backtracks
// without end stops, and counts as the caller says: a match for privacy patterns, none for
// escalation). Shared with `minnow eval`'s regex metric, which scores model output with them.
class PatternSet {
 public:
  static Result<PatternSet> compile(const std::vector<std::string>& patterns, const std::string& what);
  PatternSet();
  ~PatternSet();
  PatternSet(PatternSet&&) noexcept;
  PatternSet& operator=(PatternSet&&) noexcept;
  bool empty() const;
  // The index of the first pattern that matches text (or may match: see above), -1 for none.
  int first_match(std::string_view text, bool on_limit) const;
  const std::vector<std::string>& patterns() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

struct RouterDef {
  std::string name;
  std::string local;     // a store name or GGUF path the server can load
  std::string upstream;  // an upstream's name
  RoutePolicy policy = RoutePolicy::kCascade;
  // rules
  int64_t max_prompt_chars = 0;  // 0: no length rule
  PatternSet escalate_patterns;
  bool escalate_schema = false;
  // classifier: the instruction the local model labels the request under ("" for the default)
  std::string classifier_instruction;
  // cascade: mean token log-probability (natural log) below which the local answer escalates
  double threshold = -1.0;
  // privacy
  PatternSet local_patterns;
};

// A definition from JSON text (origin: the file, for messages). Errors name the field.
Result<RouterDef> parse_router(std::string_view json_text, const std::string& origin);
Result<RouterDef> load_router(const std::string& path);
// Every *.json in a directory (missing: none), sorted by file name.
Result<std::vector<RouterDef>> load_router_dir(const std::string& dir);
// Where `minnow serve` looks for definitions when not told: $MINNOW_ROUTERS, else ~/.minnow/routers.
std::string default_router_dir();

// What the rules policy says of a request: "" to answer locally, else why it escalates.
// prompt_text: the conversation's message contents; wants_schema: it asked for a JSON schema.
std::string rules_escalation(const RouterDef& r, std::string_view prompt_text, bool wants_schema);

// Why the privacy rules keep a request local ("" when they do not): local_only, or the pattern
// that matched.
std::string privacy_hold(const RouterDef& r, std::string_view prompt_text, bool local_only);

// The classifier's prompt for a conversation (its answer is constrained to "easy" or "hard").
std::string classifier_prompt(const RouterDef& r, std::string_view prompt_text);

}  // namespace minnow

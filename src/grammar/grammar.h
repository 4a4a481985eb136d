// Grammars for constrained decoding: GBNF text (the format llama.cpp made common) parsed into
// rules over Unicode code points, checked (every rule defined, no left recursion, root can
// finish), and flattened for the matcher (grammar/matcher.h). Not a general parser generator:
// the matcher runs the grammar as a pushdown automaton one code point at a time.
//
//   root   ::= "{" ws "\"label\":" ws label ws "}"
//   label  ::= "\"" ("spam" | "ham") "\""
//   ws     ::= [ \t\n]*
//
// Elements: "literal" (escapes \n \r \t \\ \" \xHH \uHHHH \UHHHHHHHH), [a-z0-9_] and [^...]
// character classes, . (any character), rule names, ( groups ), and the postfix operators
// * + ? {m} {m,} {m,n}. # starts a comment. Newlines are spaces; a rule ends where the next
// `name ::=` begins.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace minnow::grammar {

struct CharRange {
  uint32_t lo, hi;  // inclusive
};

// A terminal: one code point from a set of ranges (or from outside them when negated).
struct CharSet {
  std::vector<CharRange> ranges;
  bool negated = false;
  bool matches(uint32_t c) const;
  // Whether some code point in [lo, hi] matches (for a partly received UTF-8 sequence).
  bool matches_any(uint32_t lo, uint32_t hi) const;
};

struct Symbol {
  enum Kind : uint8_t { kEnd, kChar, kRule };
  Kind kind = kEnd;
  uint32_t index = 0;  // kChar: into Grammar::sets; kRule: the rule id
};

// The largest grammar accepted, in symbols after repetitions are expanded (a {m,n} makes up to
// n copies of its element): bounds the memory a request's grammar can take.
constexpr size_t kMaxSymbols = 1 << 20;

class Grammar {
 public:
  // Parses GBNF text whose start rule is `root`. Errors name the line and column, or the rule.
  static Result<Grammar> parse(std::string_view text, std::string_view root = "root");

  // Every alternative of every rule is a run of symbols in syms() ending with a kEnd symbol;
  // alternatives(r) lists where rule r's runs start (an empty alternative starts at its kEnd).
  const std::vector<Symbol>& syms() const { return syms_; }
  const std::vector<uint32_t>& alternatives(uint32_t rule) const { return alts_[rule]; }
  const CharSet& set(uint32_t i) const { return sets_[i]; }
  const std::string& rule_name(uint32_t rule) const { return names_[rule]; }
  uint32_t root() const { return root_; }
  size_t n_rules() const { return alts_.size(); }
  // The fewest code points that finish the alternative from symbol position pos on (to its
  // kEnd); kNever where no finite text does. For steering a generation that must end soon.
  static constexpr uint32_t kNever = UINT32_MAX;
  uint32_t rest_length(uint32_t pos) const { return rest_len_[pos]; }

 private:
  friend class Parser;
  std::vector<Symbol> syms_;
  std::vector<std::vector<uint32_t>> alts_;  // [n_rules] start offsets into syms_
  std::vector<CharSet> sets_;
  std::vector<std::string> names_;  // [n_rules]; generated rules are named after their parent
  std::vector<uint32_t> rest_len_;  // [syms_.size()] see rest_length
  uint32_t root_ = 0;
};

}  // namespace minnow::grammar

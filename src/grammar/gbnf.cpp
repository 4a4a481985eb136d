// GBNF text -> Grammar: a recursive-descent parser (repetitions become generated rules, right
// recursive so the matcher's stacks do not grow with them), then the checks that make a grammar
// safe to run: every rule defined, no left recursion, and a root that can finish.
#include <algorithm>
#include <cstdarg>
#include <functional>
#include <map>

#include "grammar/grammar.h"

namespace minnow::grammar {

bool CharSet::matches(uint32_t c) const {
  bool in = false;
  for (const CharRange& r : ranges) in = in || (r.lo <= c && c <= r.hi);
  return in != negated;
}

bool CharSet::matches_any(uint32_t lo, uint32_t hi) const {
  if (!negated) {
    for (const CharRange& r : ranges)
      if (r.lo <= hi && lo <= r.hi) return true;
    return false;
  }
  // Some c in [lo, hi] outside every range: walk up from lo past the ranges that cover it.
  uint32_t c = lo;
  for (bool moved = true; moved && c <= hi;) {
    moved = false;
    for (const CharRange& r : ranges) {
      if (r.lo <= c && c <= r.hi) {
        if (r.hi >= hi) return false;
        c = r.hi + 1;
        moved = true;
      }
    }
  }
  return c <= hi;
}

namespace {

constexpr uint32_t kMaxCodePoint = 0x10FFFF;
constexpr int kMaxNesting = 200;        // ( groups ) inside each other
constexpr uint64_t kMaxRepeat = 100000;  // the largest n of {m,n}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.';
}

using Alt = std::vector<Symbol>;

}  // namespace

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Result<Grammar> run(std::string_view root) {
    skip_space();
    while (ok() && pos_ < text_.size()) parse_rule();
    if (ok()) check(root);
    if (!ok()) return Error{error_};
    return flatten();
  }

 private:
  bool ok() const { return error_.empty(); }

  // Records the first error, at the current position.
  void fail(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
    if (!ok()) return;
    int line = 1, col = 1;
    for (size_t i = 0; i < pos_ && i < text_.size(); ++i) {
      if (text_[i] == '\n') ++line, col = 1;
      else ++col;
    }
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    error_ = strfmt("grammar: line %d, column %d: %s", line, col, msg);
  }

  char peek(size_t ahead = 0) const { return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0'; }

  void skip_space() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++pos_;
      } else if (c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
  }

  std::string_view name_at(size_t at) const {
    size_t end = at;
    while (end < text_.size() && is_name_char(text_[end])) ++end;
    return text_.substr(at, end - at);
  }

  // Whether `name ::=` starts here (the end of the rule being parsed).
  bool at_rule_start() const {
    const std::string_view name = name_at(pos_);
    if (name.empty()) return false;
    size_t p = pos_ + name.size();
    while (p < text_.size() && (text_[p] == ' ' || text_[p] == '\t' || text_[p] == '\n' || text_[p] == '\r')) ++p;
    return text_.substr(p, 3) == "::=";
  }

  uint32_t rule_id(std::string_view name) {
    auto it = ids_.find(name);
    if (it != ids_.end()) return it->second;
    const auto id = static_cast<uint32_t>(rules_.size());
    ids_.emplace(std::string(name), id);
    rules_.emplace_back();
    names_.emplace_back(name);
    defined_.push_back(false);
    first_use_.push_back(pos_);
    return id;
  }

  uint32_t new_rule(uint32_t parent, std::vector<Alt> alts) {
    const auto id = static_cast<uint32_t>(rules_.size());
    names_.push_back(strfmt("%s_%u", names_[parent].c_str(), id));
    rules_.push_back(std::move(alts));
    defined_.push_back(true);
    first_use_.push_back(pos_);
    return id;
  }

  void count_symbols(size_t n) {
    n_syms_ += n;
    if (n_syms_ > kMaxSymbols) fail("the grammar is too large (more than %zu symbols once repetitions are expanded)", kMaxSymbols);
  }

  uint32_t char_set(CharSet s) {
    if (!s.negated && s.ranges.size() == 1 && s.ranges[0].lo == s.ranges[0].hi) {
      auto it = single_.find(s.ranges[0].lo);
      if (it != single_.end()) return it->second;
      single_[s.ranges[0].lo] = static_cast<uint32_t>(sets_.size());
    }
    sets_.push_back(std::move(s));
    return static_cast<uint32_t>(sets_.size() - 1);
  }

  void parse_rule() {
    const std::string_view name = name_at(pos_);
    if (name.empty()) return fail("expected a rule name, found '%c'", peek());
    const uint32_t id = rule_id(name);
    if (defined_[id]) return fail("rule '%.*s' is defined twice", static_cast<int>(name.size()), name.data());
    defined_[id] = true;
    pos_ += name.size();
    skip_space();
    if (text_.substr(pos_, 3) != "::=") return fail("expected '::=' after '%.*s'", static_cast<int>(name.size()), name.data());
    pos_ += 3;
    std::vector<Alt> alts;
    parse_alternatives(id, &alts, 0);
    if (!ok()) return;
    if (pos_ < text_.size() && peek() == ')') return fail("unexpected ')'");
    rules_[id] = std::move(alts);
  }

  void parse_alternatives(uint32_t owner, std::vector<Alt>* alts, int depth) {
    alts->emplace_back();
    parse_sequence(owner, &alts->back(), depth);
    while (ok() && peek() == '|') {
      ++pos_;
      alts->emplace_back();
      parse_sequence(owner, &alts->back(), depth);
    }
  }

  void parse_sequence(uint32_t owner, Alt* seq, int depth) {
    for (;;) {
      skip_space();
      if (!ok() || pos_ >= text_.size() || peek() == '|' || peek() == ')') return;
      if (at_rule_start()) {
        if (depth > 0) fail("missing ')' before the next rule");
        return;
      }
      const size_t start = seq->size();
      parse_element(owner, seq, depth);
      if (!ok()) return;
      parse_postfix(owner, seq, start);
    }
  }

  void parse_element(uint32_t owner, Alt* seq, int depth) {
    const char c = peek();
    if (c == '"') {
      ++pos_;
      while (ok() && peek() != '"') {
        if (pos_ >= text_.size()) return fail("unterminated string literal");
        const uint32_t cp = parse_char();
        seq->push_back({Symbol::kChar, char_set({{{cp, cp}}, false})});
        count_symbols(1);
      }
      ++pos_;
    } else if (c == '[') {
      ++pos_;
      CharSet s;
      if (peek() == '^') s.negated = true, ++pos_;
      while (ok() && peek() != ']') {
        if (pos_ >= text_.size()) return fail("unterminated character class");
        const uint32_t lo = parse_char();
        uint32_t hi = lo;
        if (peek() == '-' && peek(1) != ']' && pos_ + 1 < text_.size()) {
          ++pos_;
          hi = parse_char();
          if (ok() && hi < lo) return fail("character range is backwards (U+%04X-U+%04X)", lo, hi);
        }
        s.ranges.push_back({lo, hi});
      }
      ++pos_;
      seq->push_back({Symbol::kChar, char_set(std::move(s))});
      count_symbols(1);
    } else if (c == '.') {
      ++pos_;
      seq->push_back({Symbol::kChar, char_set({{}, true})});
      count_symbols(1);
    } else if (c == '(') {
      if (depth >= kMaxNesting) return fail("groups nested more than %d deep", kMaxNesting);
      ++pos_;
      std::vector<Alt> alts;
      parse_alternatives(owner, &alts, depth + 1);
      if (!ok()) return;
      if (peek() != ')') return fail("missing ')'");
      ++pos_;
      if (alts.size() == 1) {  // a plain sequence stays inline
        seq->insert(seq->end(), alts[0].begin(), alts[0].end());
      } else {
        seq->push_back({Symbol::kRule, new_rule(owner, std::move(alts))});
        count_symbols(1);
      }
    } else if (is_name_char(c)) {
      const std::string_view name = name_at(pos_);
      seq->push_back({Symbol::kRule, rule_id(name)});
      pos_ += name.size();
      count_symbols(1);
    } else {
      fail("unexpected '%c'", c);
    }
  }

  // One character of a literal or class: a UTF-8 sequence or an escape.
  uint32_t parse_char() {
    const auto b = static_cast<unsigned char>(peek());
    if (b == '\\') {
      const char e = peek(1);
      pos_ += 2;
      switch (e) {
        case 'n': return '\n';
        case 'r': return '\r';
        case 't': return '\t';
        case '\\': case '"': case '[': case ']': case '-': case '^': case '/': return static_cast<uint32_t>(e);
        case 'x': return parse_hex(2);
        case 'u': return parse_hex(4);
        case 'U': return parse_hex(8);
        default:
          pos_ -= 2;
          fail("unknown escape '\\%c'", e);
          return 0;
      }
    }
    const int len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (len == 0 || pos_ + len > text_.size()) {
      fail("invalid UTF-8");
      return 0;
    }
    uint32_t cp = len == 1 ? b : b & (0x7F >> len);
    for (int i = 1; i < len; ++i) {
      const auto cb = static_cast<unsigned char>(text_[pos_ + i]);
      if ((cb & 0xC0) != 0x80) {
        fail("invalid UTF-8");
        return 0;
      }
      cp = cp << 6 | (cb & 0x3F);
    }
    pos_ += len;
    return cp;
  }

  uint32_t parse_hex(int digits) {
    uint32_t v = 0;
    for (int i = 0; i < digits; ++i) {
      const char h = peek();
      const int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
      if (d < 0) {
        fail("expected %d hex digits", digits);
        return 0;
      }
      v = v << 4 | static_cast<uint32_t>(d);
      ++pos_;
    }
    if (v > kMaxCodePoint) fail("U+%X is not a Unicode code point", v);
    return v;
  }

  bool parse_count(uint64_t* n) {
    if (peek() < '0' || peek() > '9') return false;
    *n = 0;
    while (peek() >= '0' && peek() <= '9') {
      *n = *n * 10 + static_cast<uint64_t>(peek() - '0');
      if (*n > kMaxRepeat) {
        fail("repetition count above %llu", static_cast<unsigned long long>(kMaxRepeat));
        return false;
      }
      ++pos_;
    }
    return true;
  }

  // Applies * + ? {m,n} to the element at seq[start..]; a second operator applies to the
  // expansion of the first (x{2}* is (x x)*).
  void parse_postfix(uint32_t owner, Alt* seq, size_t start) {
    for (;;) {
      const char c = peek();
      if (c != '*' && c != '+' && c != '?' && c != '{') return;
      ++pos_;
      uint64_t lo = 0, hi = 0;
      bool bounded = true;
      if (c == '*') bounded = false;
      else if (c == '+') lo = 1, bounded = false;
      else if (c == '?') hi = 1;
      else {
        skip_space();
        if (!parse_count(&lo)) return fail("expected a number after '{'");
        skip_space();
        hi = lo;
        if (peek() == ',') {
          ++pos_;
          skip_space();
          bounded = parse_count(&hi);
          if (!ok()) return;
          skip_space();
        }
        if (peek() != '}') return fail("expected '}'");
        ++pos_;
        if (bounded && hi < lo) return fail("repetition {%llu,%llu}: the maximum is below the minimum",
                                            static_cast<unsigned long long>(lo), static_cast<unsigned long long>(hi));
      }
      const Alt elem(seq->begin() + static_cast<std::ptrdiff_t>(start), seq->end());
      if (elem.empty()) continue;  // repeating nothing (after x{0}) is nothing
      seq->resize(start);
      count_symbols(elem.size() * (lo + (bounded ? hi - lo : 1)) + 2);
      if (!ok()) return;
      for (uint64_t i = 0; i < lo; ++i) seq->insert(seq->end(), elem.begin(), elem.end());
      if (!bounded) {  // R ::= elem R | (empty)
        const uint32_t r = new_rule(owner, {});
        Alt again = elem;
        again.push_back({Symbol::kRule, r});
        rules_[r] = {std::move(again), Alt{}};
        seq->push_back({Symbol::kRule, r});
      } else if (hi > lo) {  // R_1 ::= elem | (empty);  R_k ::= elem R_(k-1) | (empty)
        uint32_t inner = 0;
        for (uint64_t k = 0; k < hi - lo; ++k) {
          Alt first = elem;
          if (k > 0) first.push_back({Symbol::kRule, inner});
          inner = new_rule(owner, {std::move(first), Alt{}});
        }
        seq->push_back({Symbol::kRule, inner});
      }
      // A further operator applies to all of this one's expansion (seq[start..]).
    }
  }

  void check(std::string_view root) {
    auto it = ids_.find(root);
    if (it == ids_.end() || !defined_[it->second]) {
      error_ = strfmt("grammar: no '%.*s' rule (the start rule)", static_cast<int>(root.size()), root.data());
      return;
    }
    root_ = it->second;
    for (size_t r = 0; r < rules_.size(); ++r) {
      if (!defined_[r]) {
        pos_ = first_use_[r];
        return fail("rule '%s' is used but not defined", names_[r].c_str());
      }
    }
    const size_t n = rules_.size();
    // Nullable rules (can match nothing) and productive ones (can finish), by fixpoint.
    std::vector<bool> nullable(n, false), productive(n, false);
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t r = 0; r < n; ++r) {
        for (const Alt& a : rules_[r]) {
          bool null = true, prod = true;
          for (const Symbol& s : a) {
            null = null && s.kind == Symbol::kRule && nullable[s.index];
            prod = prod && (s.kind == Symbol::kChar || productive[s.index]);
          }
          if (null && !nullable[r]) nullable[r] = changed = true;
          if (prod && !productive[r]) productive[r] = changed = true;
        }
      }
    }
    if (!productive[root_]) {
      error_ = strfmt("grammar: rule '%s' can never finish (every alternative recurses without end)",
                      names_[root_].c_str());
      return;
    }
    // Left recursion: a rule reachable from itself through leading symbols that may be empty.
    std::vector<int> state(n, 0);  // 0 unvisited, 1 on the path, 2 done
    std::vector<uint32_t> path;
    std::function<bool(uint32_t)> visit = [&](uint32_t r) {
      state[r] = 1;
      path.push_back(r);
      for (const Alt& a : rules_[r]) {
        for (const Symbol& s : a) {
          if (s.kind != Symbol::kRule) break;
          if (state[s.index] == 1) {
            std::string cycle;
            for (auto p = std::find(path.begin(), path.end(), s.index); p != path.end(); ++p)
              cycle += names_[*p] + " -> ";
            error_ = strfmt("grammar: rule '%s' is left-recursive (%s%s)", names_[s.index].c_str(), cycle.c_str(),
                            names_[s.index].c_str());
            return false;
          }
          if (state[s.index] == 0 && !visit(s.index)) return false;
          if (!nullable[s.index]) break;
        }
      }
      path.pop_back();
      state[r] = 2;
      return true;
    };
    for (uint32_t r = 0; r < n && ok(); ++r)
      if (state[r] == 0) visit(r);
  }

  Grammar flatten() {
    Grammar g;
    g.names_ = std::move(names_);
    g.sets_ = std::move(sets_);
    g.root_ = root_;
    g.alts_.resize(rules_.size());
    for (size_t r = 0; r < rules_.size(); ++r) {
      for (const Alt& a : rules_[r]) {
        g.alts_[r].push_back(static_cast<uint32_t>(g.syms_.size()));
        g.syms_.insert(g.syms_.end(), a.begin(), a.end());
        g.syms_.push_back({Symbol::kEnd, 0});
      }
    }
    // Shortest completions by fixpoint: a rule's is its shortest alternative's.
    std::vector<uint32_t> rule_len(g.alts_.size(), Grammar::kNever);
    g.rest_len_.assign(g.syms_.size(), Grammar::kNever);
    auto add = [](uint32_t a, uint32_t b) { return a == Grammar::kNever || b == Grammar::kNever ? Grammar::kNever : a + b; };
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t p = g.syms_.size(); p-- > 0;) {
        const Symbol& s = g.syms_[p];
        const uint32_t len = s.kind == Symbol::kEnd   ? 0
                             : s.kind == Symbol::kChar ? add(1, g.rest_len_[p + 1])
                                                       : add(rule_len[s.index], g.rest_len_[p + 1]);
        if (len < g.rest_len_[p]) g.rest_len_[p] = len, changed = true;
      }
      for (size_t r = 0; r < g.alts_.size(); ++r) {
        for (uint32_t a : g.alts_[r]) {
          if (g.rest_len_[a] < rule_len[r]) rule_len[r] = g.rest_len_[a], changed = true;
        }
      }
    }
    return g;
  }

  std::string_view text_;
  size_t pos_ = 0;
  std::string error_;
  size_t n_syms_ = 0;
  std::vector<std::vector<Alt>> rules_;
  std::vector<std::string> names_;
  std::vector<bool> defined_;
  std::vector<size_t> first_use_;  // where each rule was first named
  std::map<std::string, uint32_t, std::less<>> ids_;
  std::map<uint32_t, uint32_t> single_;  // code point -> its one-character set
  std::vector<CharSet> sets_;
  uint32_t root_ = 0;
};

Result<Grammar> Grammar::parse(std::string_view text, std::string_view root) {
  return Parser(text).run(root);
}

}  // namespace minnow::grammar

// Runs a Grammar over generated text, and says which tokens of a vocabulary may come next.
//
// The matcher is a pushdown automaton: its state is a set of stacks of positions in the
// grammar's symbols (the top is a character set to match next; the entries below are where to
// continue when a rule's alternative ends). A code point advances every stack whose
// top matches it; stacks that cannot take it drop out; no stack left means the text is not a
// prefix of any sentence. Text arrives as bytes: a UTF-8 sequence split across tokens is held
// as a partial code point, kept only while some stack could accept a code point it begins.
//
// TokenFilter finds the allowed tokens by walking a trie of the vocabulary's pieces (VocabTrie)
// with the state, cutting a subtree at the first byte no stack takes, and remembers the result
// per state (inside a JSON string or number the same state repeats token after token).
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "grammar/grammar.h"

namespace minnow::grammar {

// Stacks are interned: a stack is an id for (top position, the stack below), so equal stacks
// are equal ids, a state is a few integers, and what a stack does with a code point is worked
// out once and remembered. Id 0 is the empty stack: the sentence is complete.
class Automaton {
 public:
  static constexpr uint32_t kEmpty = 0;
  explicit Automaton(std::shared_ptr<const Grammar> grammar);
  const Grammar& grammar() const { return *grammar_; }

  // The stacks the grammar starts with (sorted).
  const std::vector<uint32_t>& start() const { return start_; }
  // The stacks (sorted, no duplicates) after each of `in` takes code point c; false when none
  // can, or when a bound is exceeded.
  bool advance(const std::vector<uint32_t>& in, uint32_t c, std::vector<uint32_t>* out);
  // Whether some stack takes a code point in [lo, hi] (a UTF-8 sequence still arriving).
  bool any_takes(const std::vector<uint32_t>& stacks, uint32_t lo, uint32_t hi) const;
  // The fewest code points that empty stack id (finish the sentence); Grammar::kNever if none.
  uint32_t distance(uint32_t id) const;
  size_t n_stacks() const { return nodes_.size(); }

 private:
  struct Node {
    uint32_t pos;     // position in Grammar::syms() of the top
    uint32_t below;   // the stack under it
    uint32_t depth;   // entries
  };
  uint32_t intern(uint32_t pos, uint32_t below);
  // The stacks with a character set (or nothing) on top that stack id stands for.
  bool expand(uint32_t id, std::vector<uint32_t>* out);
  // Memoized: the stacks after stack id takes c, as a run of results_.
  struct Run {
    uint32_t first, count;
    bool ok;
  };
  Run step_one(uint32_t id, uint32_t c);

  std::shared_ptr<const Grammar> grammar_;
  std::vector<Node> nodes_;                        // [0]: the empty stack
  std::unordered_map<uint64_t, uint32_t> ids_;     // (pos, below) -> id
  std::unordered_map<uint64_t, Run> steps_;        // (id, code point) -> its results
  // A direct-mapped copy of recent steps_ entries in front of it (the trie walk asks the same
  // few stacks about every byte value, millions of times).
  static constexpr size_t kRecent = 1 << 14;
  struct Recent {
    uint64_t key = ~uint64_t{0};
    Run run{};
  };
  std::vector<Recent> recent_ = std::vector<Recent>(kRecent);
  std::vector<uint32_t> results_;
  std::vector<uint32_t> start_;
  std::vector<uint32_t> scratch_;
};

// A matcher's state after some bytes: the live stacks (sorted ids) and the UTF-8 sequence in
// progress, if any.
struct MatchState {
  std::vector<uint32_t> stacks;
  uint32_t partial = 0;  // bits of the code point so far
  int partial_left = 0;  // continuation bytes still to come (0: none in progress)
  int partial_len = 0;   // length of the sequence in progress
  bool operator==(const MatchState& o) const {
    return stacks == o.stacks && partial == o.partial && partial_left == o.partial_left &&
           partial_len == o.partial_len;
  }
};

// Bounds that keep a hostile grammar from taking unbounded time or memory.
constexpr size_t kMaxStacks = 1024;        // live stacks in one state
constexpr size_t kMaxStackDepth = 512;     // entries in one stack
constexpr size_t kMaxInterned = 1u << 22;  // distinct stacks an automaton remembers

// One generation's grammar state. Copies share the automaton (and its memory of steps): a
// matcher and its copies belong to one thread at a time.
class Matcher {
 public:
  explicit Matcher(std::shared_ptr<const Grammar> grammar);

  // Appends bytes (a token's piece). false, leaving the state as it was, when the grammar cannot
  // continue with them.
  bool accept(std::string_view bytes);
  // Whether the text so far is a whole sentence of the grammar (generation may end here).
  bool complete() const;
  // Whether some text may still follow.
  bool can_continue() const;
  // The fewest code points that complete the sentence from here, plus the bytes a character in
  // progress still needs (0 when complete; Grammar::kNever when nothing can).
  uint32_t distance() const;
  const MatchState& state() const { return state_; }
  const Grammar& grammar() const { return automaton_->grammar(); }
  Automaton& automaton() const { return *automaton_; }
  void reset();

  // The state after one more byte; false when no stack can take it.
  static bool step(Automaton& a, const MatchState& in, uint8_t byte, MatchState* out);

 private:
  std::shared_ptr<Automaton> automaton_;
  MatchState state_;
};

// A vocabulary's pieces as a byte trie, built once per model and shared by the filters.
class VocabTrie {
 public:
  // pieces[id]: the bytes token id stands for; text_token[id] false for tokens that are never
  // text (control tokens, end of generation): those stay out of the trie, for the caller.
  VocabTrie(const std::vector<std::string>& pieces, const std::vector<bool>& text_token);
  size_t n_vocab() const { return pieces_.size(); }
  const std::string& piece(int32_t id) const { return pieces_[static_cast<size_t>(id)]; }

 private:
  friend class TokenFilter;
  struct Node {
    uint32_t first_child = 0, n_children = 0;  // into nodes_, sorted by byte
    uint32_t first_token = 0, n_tokens = 0;    // into tokens_: the ids whose piece ends here
    uint8_t byte = 0;
  };
  std::vector<std::string> pieces_;  // [n_vocab]
  std::vector<Node> nodes_;          // [0] is the root (the empty prefix)
  std::vector<int32_t> tokens_;
};

// The allowed tokens for a matcher's state, remembered per state (one filter per grammar).
// TODO(#8): a fresh state inside a JSON string still walks most of the trie (~10-20 ms on a
// 49k vocabulary; grammar_bench): share masks between states (per stack top, as XGrammar does).
class TokenFilter {
 public:
  explicit TokenFilter(std::shared_ptr<const VocabTrie> trie) : trie_(std::move(trie)) {}

  // mask[id] = 1 for every text token whose piece the state can take next (as a prefix of a
  // sentence), 0 for the others; one entry per token.
  const std::vector<uint8_t>& allowed(const Matcher& m);
  // Whether one piece can come next (cheaper than a mask when checking a sampled token).
  static bool allows(const Matcher& m, std::string_view piece);
  size_t cached_states() const { return cache_.size(); }

 private:
  // Marks the tokens under trie node `node` that the state at depth `depth` of path_ takes.
  void walk(Automaton& a, uint32_t node, size_t depth, std::vector<uint8_t>* mask);

  std::shared_ptr<const VocabTrie> trie_;
  std::vector<MatchState> path_;  // [depth] the states along the walk, reused (no allocation per node)
  struct StateHash {
    size_t operator()(const MatchState& s) const;
  };
  // Masks by state, most recently used first; bounded so that a long generation through ever
  // new states cannot grow it without end.
  static constexpr size_t kCacheStates = 256;
  std::list<std::pair<MatchState, std::vector<uint8_t>>> lru_;
  std::unordered_map<MatchState, std::list<std::pair<MatchState, std::vector<uint8_t>>>::iterator, StateHash> cache_;
};

}  // namespace minnow::grammar

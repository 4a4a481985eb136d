// The grammar's pushdown automaton over bytes, and the vocabulary trie walk (see matcher.h).
#include "grammar/matcher.h"

#include <algorithm>
#include <map>

namespace minnow::grammar {
namespace {

// The code points a UTF-8 sequence of `len` bytes can encode, past the overlong forms.
uint32_t min_code_point(int len) { return len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000; }

// Whether some code point in [lo, hi] can still be encoded: not an empty range, not only
// surrogates (a sequence begun with ED A0..BF can never complete).
bool possible(uint32_t lo, uint32_t hi) { return lo <= hi && !(lo >= 0xD800 && hi <= 0xDFFF); }

void sort_unique(std::vector<uint32_t>* v) {
  std::sort(v->begin(), v->end());
  v->erase(std::unique(v->begin(), v->end()), v->end());
}

}  // namespace

Automaton::Automaton(std::shared_ptr<const Grammar> grammar) : grammar_(std::move(grammar)) {
  nodes_.push_back({0, 0, 0});  // the empty stack
  for (uint32_t alt : grammar_->alternatives(grammar_->root())) {
    const uint32_t s = grammar_->syms()[alt].kind == Symbol::kEnd ? kEmpty : intern(alt, kEmpty);
    if (!expand(s, &start_)) break;  // a bound: the matcher then accepts nothing
  }
  sort_unique(&start_);
}

uint32_t Automaton::intern(uint32_t pos, uint32_t below) {
  const uint64_t key = static_cast<uint64_t>(pos) << 32 | below;
  auto [it, fresh] = ids_.try_emplace(key, static_cast<uint32_t>(nodes_.size()));
  if (fresh) nodes_.push_back({pos, below, nodes_[below].depth + 1});
  return it->second;
}

bool Automaton::expand(uint32_t id, std::vector<uint32_t>* out) {
  if (out->size() >= kMaxStacks || nodes_[id].depth > kMaxStackDepth || nodes_.size() > kMaxInterned) return false;
  const std::vector<Symbol>& syms = grammar_->syms();
  if (id == kEmpty || syms[nodes_[id].pos].kind == Symbol::kChar) {
    out->push_back(id);
    return true;
  }
  // A rule on top: each alternative in its place, over its continuation.
  const uint32_t pos = nodes_[id].pos;
  const uint32_t base = syms[pos + 1].kind == Symbol::kEnd ? nodes_[id].below : intern(pos + 1, nodes_[id].below);
  for (uint32_t alt : grammar_->alternatives(syms[pos].index)) {
    if (!expand(syms[alt].kind == Symbol::kEnd ? base : intern(alt, base), out)) return false;
  }
  return true;
}

Automaton::Run Automaton::step_one(uint32_t id, uint32_t c) {
  const uint64_t key = static_cast<uint64_t>(id) << 32 | c;
  Recent& recent = recent_[(id * 0x9E3779B1u ^ c) & (kRecent - 1)];
  if (recent.key == key) return recent.run;
  auto it = steps_.find(key);
  if (it != steps_.end()) {
    recent = {key, it->second};
    return it->second;
  }
  Run run{static_cast<uint32_t>(results_.size()), 0, true};
  const std::vector<Symbol>& syms = grammar_->syms();
  const Node n = nodes_[id];
  if (id != kEmpty && grammar_->set(syms[n.pos].index).matches(c)) {
    // Past the character: the rest of the alternative, or what was under it when it ends.
    const uint32_t next = syms[n.pos + 1].kind == Symbol::kEnd ? n.below : intern(n.pos + 1, n.below);
    scratch_.clear();
    run.ok = expand(next, &scratch_);
    sort_unique(&scratch_);
    results_.insert(results_.end(), scratch_.begin(), scratch_.end());
    run.count = static_cast<uint32_t>(scratch_.size());
  }
  steps_.emplace(key, run);
  recent = {key, run};
  return run;
}

bool Automaton::advance(const std::vector<uint32_t>& in, uint32_t c, std::vector<uint32_t>* out) {
  out->clear();
  for (uint32_t id : in) {
    const Run r = step_one(id, c);
    if (!r.ok) return false;
    out->insert(out->end(), results_.begin() + r.first, results_.begin() + r.first + r.count);
  }
  if (in.size() > 1) sort_unique(out);
  return !out->empty() && out->size() <= kMaxStacks;
}

bool Automaton::any_takes(const std::vector<uint32_t>& stacks, uint32_t lo, uint32_t hi) const {
  for (uint32_t id : stacks)
    if (id != kEmpty && grammar_->set(grammar_->syms()[nodes_[id].pos].index).matches_any(lo, hi)) return true;
  return false;
}

uint32_t Automaton::distance(uint32_t id) const {
  uint64_t total = 0;  // the stack's entries' rests, top to bottom
  for (; id != kEmpty; id = nodes_[id].below) {
    const uint32_t r = grammar_->rest_length(nodes_[id].pos);
    if (r == Grammar::kNever) return Grammar::kNever;
    total += r;
  }
  return total >= Grammar::kNever ? Grammar::kNever - 1 : static_cast<uint32_t>(total);
}

Matcher::Matcher(std::shared_ptr<const Grammar> grammar)
    : automaton_(std::make_shared<Automaton>(std::move(grammar))) {
  reset();
}

void Matcher::reset() {
  state_ = MatchState{};
  state_.stacks = automaton_->start();
}

bool Matcher::step(Automaton& a, const MatchState& in, uint8_t byte, MatchState* out) {
  if (in.partial_left == 0) {
    if (byte < 0x80) {
      out->partial = 0, out->partial_left = 0, out->partial_len = 0;
      return a.advance(in.stacks, byte, &out->stacks);
    }
    const int len = (byte >> 5) == 6 ? 2 : (byte >> 4) == 14 ? 3 : (byte >> 3) == 30 ? 4 : 0;
    if (len == 0) return false;  // a continuation byte or 0xF8..0xFF: not UTF-8
    const uint32_t bits = byte & (0x7Fu >> len);
    const int shift = 6 * (len - 1);
    const uint32_t lo = std::max(bits << shift, min_code_point(len));
    const uint32_t hi = std::min((bits << shift) | ((1u << shift) - 1), 0x10FFFFu);
    if (!possible(lo, hi) || !a.any_takes(in.stacks, lo, hi)) return false;
    out->stacks = in.stacks;
    out->partial = bits, out->partial_left = len - 1, out->partial_len = len;
    return true;
  }
  if ((byte & 0xC0) != 0x80) return false;
  const uint32_t bits = in.partial << 6 | (byte & 0x3F);
  const int left = in.partial_left - 1;
  if (left > 0) {
    const int shift = 6 * left;
    const uint32_t lo = std::max(bits << shift, min_code_point(in.partial_len));
    const uint32_t hi = std::min((bits << shift) | ((1u << shift) - 1), 0x10FFFFu);
    if (!possible(lo, hi) || !a.any_takes(in.stacks, lo, hi)) return false;
    out->stacks = in.stacks;
    out->partial = bits, out->partial_left = left, out->partial_len = in.partial_len;
    return true;
  }
  if (bits < min_code_point(in.partial_len) || bits > 0x10FFFF || (bits >= 0xD800 && bits <= 0xDFFF)) return false;
  out->partial = 0, out->partial_left = 0, out->partial_len = 0;
  return a.advance(in.stacks, bits, &out->stacks);
}

bool Matcher::accept(std::string_view bytes) {
  MatchState cur = state_, next;
  for (char b : bytes) {
    if (!step(*automaton_, cur, static_cast<uint8_t>(b), &next)) return false;
    std::swap(cur, next);
  }
  state_ = std::move(cur);
  return true;
}

bool Matcher::complete() const {
  return state_.partial_left == 0 && !state_.stacks.empty() && state_.stacks.front() == Automaton::kEmpty;
}

uint32_t Matcher::distance() const {
  uint32_t best = Grammar::kNever;
  for (uint32_t id : state_.stacks) best = std::min(best, automaton_->distance(id));
  // A character in progress must be finished before anything else: its bytes still to come
  // count too (a byte at a time is the slowest a vocabulary with byte tokens can go).
  return best == Grammar::kNever ? best : best + static_cast<uint32_t>(state_.partial_left);
}

bool Matcher::can_continue() const {
  return !state_.stacks.empty() && state_.stacks.back() != Automaton::kEmpty;
}

VocabTrie::VocabTrie(const std::vector<std::string>& pieces, const std::vector<bool>& text_token)
    : pieces_(pieces) {
  // Ids sorted by piece: each trie node's subtree is then a contiguous run, built level by level.
  std::vector<int32_t> ids;
  for (size_t i = 0; i < pieces.size(); ++i)
    if (i < text_token.size() && text_token[i] && !pieces[i].empty()) ids.push_back(static_cast<int32_t>(i));
  std::sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return pieces[a] < pieces[b]; });
  tokens_ = ids;
  // Node for the run ids[b, e) sharing a prefix of `depth` bytes; ids whose piece is exactly
  // that prefix come first in the run (they sort before their extensions).
  struct Pending {
    uint32_t node;
    size_t b, e, depth;
  };
  nodes_.push_back(Node{});
  std::vector<Pending> queue = {{0, 0, ids.size(), 0}};
  for (size_t q = 0; q < queue.size(); ++q) {
    const Pending p = queue[q];
    size_t i = p.b;
    while (i < p.e && pieces[ids[i]].size() == p.depth) ++i;
    nodes_[p.node].first_token = static_cast<uint32_t>(p.b);
    nodes_[p.node].n_tokens = static_cast<uint32_t>(i - p.b);
    nodes_[p.node].first_child = static_cast<uint32_t>(nodes_.size());
    while (i < p.e) {
      const auto byte = static_cast<uint8_t>(pieces[ids[i]][p.depth]);
      size_t j = i;
      while (j < p.e && static_cast<uint8_t>(pieces[ids[j]][p.depth]) == byte) ++j;
      Node child;
      child.byte = byte;
      nodes_.push_back(child);
      queue.push_back({static_cast<uint32_t>(nodes_.size() - 1), i, j, p.depth + 1});
      ++nodes_[p.node].n_children;
      i = j;
    }
  }
}

size_t TokenFilter::StateHash::operator()(const MatchState& s) const {
  size_t h = std::hash<uint32_t>()(s.partial) ^ (static_cast<size_t>(s.partial_left) << 20);
  for (uint32_t id : s.stacks) h = h * 1000003u ^ id;
  return h;
}

void TokenFilter::walk(Automaton& a, uint32_t node, size_t depth, std::vector<uint8_t>* mask) {
  if (path_.size() < depth + 2) path_.resize(depth + 2);
  const VocabTrie::Node& n = trie_->nodes_[node];
  for (uint32_t c = n.first_child; c < n.first_child + n.n_children; ++c) {
    const VocabTrie::Node& child = trie_->nodes_[c];
    if (!Matcher::step(a, path_[depth], child.byte, &path_[depth + 1])) continue;
    for (uint32_t t = child.first_token; t < child.first_token + child.n_tokens; ++t) (*mask)[trie_->tokens_[t]] = 1;
    if (child.n_children > 0) walk(a, c, depth + 1, mask);
  }
}

const std::vector<uint8_t>& TokenFilter::allowed(const Matcher& m) {
  auto hit = cache_.find(m.state());
  if (hit != cache_.end()) {
    lru_.splice(lru_.begin(), lru_, hit->second);
    return hit->second->second;
  }
  std::vector<uint8_t> mask(trie_->n_vocab(), 0);
  if (path_.empty()) path_.resize(1);
  path_[0] = m.state();
  walk(m.automaton(), 0, 0, &mask);
  if (cache_.size() >= kCacheStates) {
    cache_.erase(lru_.back().first);
    lru_.pop_back();
  }
  lru_.emplace_front(m.state(), std::move(mask));
  cache_.emplace(lru_.front().first, lru_.begin());
  return lru_.front().second;
}

bool TokenFilter::allows(const Matcher& m, std::string_view piece) {
  if (piece.empty()) return false;
  MatchState cur = m.state(), next;
  for (char b : piece) {
    if (!Matcher::step(m.automaton(), cur, static_cast<uint8_t>(b), &next)) return false;
    std::swap(cur, next);
  }
  return true;
}

}  // namespace minnow::grammar

#include "engine/generation.h"

#include <algorithm>
#include <climits>
#include <cmath>

namespace minnow {

void fill_logprobs(std::span<const float> logits, int top_n, const Tokenizer& tok, GeneratedToken& t) {
  float mx = -INFINITY;
  for (float x : logits)
    if (std::isfinite(x)) mx = std::max(mx, x);
  double sum = 0;
  for (float x : logits)
    if (std::isfinite(x)) sum += std::exp(static_cast<double>(x) - mx);
  const double log_z = mx + std::log(sum);
  auto lp = [&](int32_t id) {
    const float x = logits[static_cast<size_t>(id)];
    return std::isfinite(x) ? static_cast<float>(x - log_z) : -INFINITY;
  };
  t.logprob = lp(t.id);
  if (top_n <= 0) return;
  std::vector<int32_t> ids(logits.size());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i);
  const size_t n = std::min(static_cast<size_t>(top_n), ids.size());
  std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(n), ids.end(),
                    [&](int32_t a, int32_t b) { return lp(a) > lp(b) || (lp(a) == lp(b) && a < b); });
  for (size_t i = 0; i < n; ++i) t.top.push_back({ids[i], tok.token_to_piece(ids[i]), lp(ids[i])});
}

Status check_generation(std::span<const int32_t> prompt, const GenerateOptions& options, int n_ctx, int n_vocab) {
  if (prompt.empty()) return make_error("the prompt is empty");
  if (static_cast<int64_t>(prompt.size()) > n_ctx) {
    return make_error("the prompt is %zu tokens, longer than the context of %d (raise --ctx-size)", prompt.size(),
                      n_ctx);
  }
  for (int32_t id : prompt) {
    if (id < 0 || id >= n_vocab) return make_error("the prompt has token id %d, outside the vocabulary of %d", id, n_vocab);
  }
  if (options.top_logprobs < 0 || options.top_logprobs > kMaxTopLogprobs)
    return make_error("top_logprobs must be between 0 and %d, not %d", kMaxTopLogprobs, options.top_logprobs);
  if (!options.grammar.empty()) {
    auto g = grammar::Grammar::parse(options.grammar);
    if (!g.ok()) return g.error();
  }
  return Status();
}

std::shared_ptr<const grammar::VocabTrie> build_vocab_trie(const Tokenizer& tok) {
  std::vector<std::string> pieces(static_cast<size_t>(tok.n_vocab()));
  std::vector<bool> text(pieces.size());
  for (int32_t id = 0; id < tok.n_vocab(); ++id) {
    const TokenType t = tok.token_type(id);
    text[id] = (t == TokenType::kNormal || t == TokenType::kUserDefined || t == TokenType::kByte) && !tok.is_eog(id);
    if (text[id]) pieces[id] = tok.token_to_piece(id);
  }
  return std::make_shared<const grammar::VocabTrie>(pieces, text);
}

int reusable_prefix(std::span<const int32_t> held, std::span<const int32_t> prompt, const KvCache& cache) {
  if (prompt.empty()) return 0;
  size_t keep = std::mismatch(held.begin(), held.end(), prompt.begin(), prompt.end()).first - held.begin();
  keep = std::min(keep, prompt.size() - 1);
  // A sliding-window layer's ring has already dropped keys a rewind far back would need.
  return cache.can_rewind_to(static_cast<int>(keep)) ? static_cast<int>(keep) : 0;
}

Generation::Generation(const Tokenizer& tok, const GenerateOptions& options, int n_vocab,
                       std::span<const int32_t> prompt, std::shared_ptr<const grammar::VocabTrie> trie, Emit emit)
    : tok_(tok),
      options_(options),
      emit_(std::move(emit)),
      sampler_(options.sampling, n_vocab),
      stop_(options.stop),
      t0_(std::chrono::steady_clock::now()) {
  for (int32_t t : prompt) sampler_.accept(t);
  if (!options.grammar.empty() && trie) {
    auto g = grammar::Grammar::parse(options.grammar);  // check_generation parsed it already
    if (g.ok()) {
      matcher_.emplace(std::make_shared<const grammar::Grammar>(std::move(*g)));
      filter_.emplace(std::move(trie));
      masked_.resize(static_cast<size_t>(n_vocab));
    }
  }
  stats_.done_reason = "length";
  if (options.num_predict == 0) finish(false);
}

// The rule that keeps a constrained output finishable: after a token, the characters still
// needed to complete the sentence (the grammar's shortest way) must fit the tokens left, one
// character per token at worst (single characters are in every vocabulary this runs with). A
// token that opens more than the budget can close is not taken, so the output is whole when
// num_predict or the context ends it.
bool Generation::feasible(int32_t id, int64_t budget, uint32_t* dist_after) const {
  if (tok_.is_eog(id)) {
    *dist_after = 0;
    return matcher_->complete();
  }
  grammar::Matcher probe = *matcher_;
  if (!probe.accept(tok_.token_to_piece(id))) return false;
  *dist_after = probe.distance();
  return *dist_after != grammar::Grammar::kNever && static_cast<int64_t>(*dist_after) <= budget - 1;
}

bool Generation::constrain(std::span<const float> logits) {
  const std::vector<uint8_t>& allowed = filter_->allowed(*matcher_);
  const bool complete = matcher_->complete();
  bool any = false;
  for (size_t id = 0; id < masked_.size(); ++id) {
    const bool ok = id < allowed.size() && allowed[id] ? true : complete && tok_.is_eog(static_cast<int32_t>(id));
    masked_[id] = ok ? logits[id] : -INFINITY;
    any = any || ok;
  }
  return any;
}

void Generation::keep_feasible(int64_t budget) {
  // The likeliest allowed tokens that keep the output finishable (up to kNear of them); when
  // none does (a budget already too short), the one that leaves the least to write.
  constexpr size_t kNear = 16;
  std::vector<int32_t> order;
  for (size_t id = 0; id < masked_.size(); ++id)
    if (masked_[id] != -INFINITY) order.push_back(static_cast<int32_t>(id));
  std::sort(order.begin(), order.end(),
            [&](int32_t a, int32_t b) { return masked_[a] > masked_[b] || (masked_[a] == masked_[b] && a < b); });
  std::vector<int32_t> keep;
  int32_t best = order.empty() ? -1 : order.front();
  uint32_t best_dist = grammar::Grammar::kNever;
  for (int32_t id : order) {
    if (keep.size() >= kNear) break;
    uint32_t d = grammar::Grammar::kNever;
    if (feasible(id, budget, &d)) keep.push_back(id);
    if (d < best_dist) best = id, best_dist = d;
  }
  if (keep.empty() && best >= 0) keep.push_back(best);
  std::vector<float> kept(keep.size());
  for (size_t i = 0; i < keep.size(); ++i) kept[i] = masked_[keep[i]];
  std::fill(masked_.begin(), masked_.end(), -INFINITY);
  for (size_t i = 0; i < keep.size(); ++i) masked_[keep[i]] = kept[i];
}

std::optional<int32_t> Generation::step(std::span<const float> logits, int context_left) {
  int32_t id = 0;
  if (matcher_) {
    if (!matcher_->can_continue()) {  // a complete sentence that nothing may follow
      stats_.done_reason = "stop";
      finish(false);
      return std::nullopt;
    }
    const int64_t predict_left = options_.num_predict >= 0 ? options_.num_predict - stats_.generated_tokens : INT64_MAX;
    const int64_t budget = std::min<int64_t>(predict_left, int64_t{context_left} + 1);
    // The model's own choice first: when the grammar allows it and it keeps the output
    // finishable (the common case with a model that follows the instructions), no mask is
    // needed; a whole mask over a large vocabulary costs milliseconds for every state not seen
    // before. Otherwise the choice is made again among the allowed tokens, and if that one
    // cannot finish in time either, among the likeliest that can. The draws are seeded.
    uint32_t dist = 0;
    id = sampler_.sample(logits.data());
    if (!feasible(id, budget, &dist)) {
      if (!constrain(logits)) {
        // No token of the vocabulary continues the grammar: the output stops where it is.
        stats_.done_reason = "stop";
        finish(false);
        return std::nullopt;
      }
      id = sampler_.sample(masked_.data());
      if (!feasible(id, budget, &dist)) {
        keep_feasible(budget);
        id = sampler_.sample(masked_.data());
      }
    }
    if (!tok_.is_eog(id)) matcher_->accept(tok_.token_to_piece(id));
  } else {
    id = sampler_.sample(logits.data());
  }
  if (tok_.is_eog(id)) {
    stats_.done_reason = "stop";
    finish(false);
    return std::nullopt;
  }
  sampler_.accept(id);
  ++stats_.generated_tokens;
  GeneratedToken g;
  g.id = id;
  g.text = tok_.token_to_piece(id);
  if (options_.logprobs || options_.top_logprobs > 0) fill_logprobs(logits, options_.top_logprobs, tok_, g);
  const std::string piece = utf8_.push(g.text);
  const std::string text = stop_.push(std::move(g), piece, out_tokens_);
  bool more = true;
  if (!text.empty() || !out_tokens_.empty()) {
    more = emit_(GeneratedPiece{text, out_tokens_}, false);
    out_tokens_.clear();
  }
  if (!more || stop_.matched()) {
    stats_.done_reason = "stop";
    finish(true);
    return std::nullopt;
  }
  const bool enough = options_.num_predict >= 0 && stats_.generated_tokens >= options_.num_predict;
  if (enough || context_left <= 0) {
    finish(false);
    return std::nullopt;
  }
  return id;
}

void Generation::cancel() {
  stats_.done_reason = "stop";
  finish(true);
}

void Generation::finish(bool stopped) {
  if (done_) return;
  done_ = true;
  stats_.generate_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  if (stopped) return;
  // Whatever was held back: the end of a UTF-8 character, a partial stop string that never
  // completed.
  std::string rest = stop_.push_text(utf8_.flush(), out_tokens_);
  if (!stop_.matched()) rest += stop_.flush(out_tokens_);
  if (!rest.empty() || !out_tokens_.empty()) emit_(GeneratedPiece{rest, out_tokens_}, true);
  out_tokens_.clear();
}

}  // namespace minnow

#include "engine/generation.h"

#include <algorithm>
#include <cmath>

namespace minnow {
namespace {

// Fills t's logprob (and top alternatives) from the logits: log-softmax at temperature 1.
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

}  // namespace

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
  return Status();
}

int reusable_prefix(std::span<const int32_t> held, std::span<const int32_t> prompt, const KvCache& cache) {
  if (prompt.empty()) return 0;
  size_t keep = std::mismatch(held.begin(), held.end(), prompt.begin(), prompt.end()).first - held.begin();
  keep = std::min(keep, prompt.size() - 1);
  // A sliding-window layer's ring has already dropped keys a rewind far back would need.
  return cache.can_rewind_to(static_cast<int>(keep)) ? static_cast<int>(keep) : 0;
}

Generation::Generation(const Tokenizer& tok, const GenerateOptions& options, int n_vocab,
                       std::span<const int32_t> prompt, Emit emit)
    : tok_(tok),
      options_(options),
      emit_(std::move(emit)),
      sampler_(options.sampling, n_vocab),
      stop_(options.stop),
      t0_(std::chrono::steady_clock::now()) {
  for (int32_t t : prompt) sampler_.accept(t);
  stats_.done_reason = "length";
  if (options.num_predict == 0) finish(false);
}

std::optional<int32_t> Generation::step(std::span<const float> logits, bool context_full) {
  const int32_t id = sampler_.sample(logits.data());
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
  if (enough || context_full) {
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

#include "models/batch.h"

#include <algorithm>

#include "models/loader.h"

namespace minnow::models {

Result<int64_t> check_seqs(const HParams& hp, const int32_t* tokens, const int32_t* positions,
                           std::span<const SeqTokens> seqs) {
  if (seqs.empty()) return make_error("model: a batch with no sequences");
  int64_t n_tokens = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    const SeqTokens& s = seqs[i];
    if (s.cache == nullptr || s.n_tokens <= 0) return make_error("model: sequence %zu of the batch has no tokens", i);
    for (size_t j = 0; j < i; ++j) {
      // Two parts of one batch writing one cache would each attend without the other's keys.
      if (seqs[j].cache == s.cache) return make_error("model: sequences %zu and %zu of the batch share a cache", j, i);
    }
    MINNOW_CHECK_OK(check_batch(hp, *s.cache, tokens + n_tokens, positions + n_tokens, s.n_tokens));
    n_tokens += s.n_tokens;
  }
  return n_tokens;
}

void self_attention(const nn::Compute& c, const nn::AttentionParams& p, std::span<const SeqTokens> seqs,
                    int layer, const float* k, const float* v, const float* q, const int32_t* positions,
                    float* out) {
  const int64_t kv_dim = static_cast<int64_t>(p.n_head_kv) * p.head_dim;
  const int64_t q_dim = static_cast<int64_t>(p.n_head) * p.head_dim;
  thread_local std::vector<nn::SeqAttention> parts;  // kept: decoding allocates nothing
  parts.clear();
  int64_t t = 0;
  for (const SeqTokens& s : seqs) {
    parts.push_back({s.cache, s.n_tokens, positions + t, k + t * kv_dim, v + t * kv_dim, q + t * q_dim, out + t * q_dim});
    t += s.n_tokens;
  }
  nn::self_attention(c, p, layer, parts);
}

int64_t output_logits(const nn::Compute& c, std::span<const SeqTokens> seqs, const float* x,
                      const std::vector<float>& norm, float eps, const nn::Weight& output, float* h,
                      float* logits) {
  const int64_t E = output.n_in;
  // The wanted rows, gathered into h as they are normed (each row on its own, so gathering
  // changes nothing): the (large) output matrix multiplies only those.
  int64_t t = 0, rows = 0;
  for (const SeqTokens& s : seqs) {
    const int64_t first = s.logits == LogitRows::kAll ? 0 : s.n_tokens - 1;
    const int64_t n = s.logits == LogitRows::kNone ? 0 : s.n_tokens - first;
    nn::rms_norm(x + (t + first) * E, norm.data(), E, n, eps, h + rows * E);
    rows += n;
    t += s.n_tokens;
  }
  nn::linear(c, output, h, rows, logits);
  return rows;
}

void advance_caches(std::span<const SeqTokens> seqs, const int32_t* positions) {
  int64_t t = 0;
  for (const SeqTokens& s : seqs) {
    t += s.n_tokens;
    s.cache->set_n_past(std::max(s.cache->n_past(), positions[t - 1] + 1));
  }
}

}  // namespace minnow::models

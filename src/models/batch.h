// What the architectures' forward_batch passes share: checking a batch of sequences, each
// sequence's attention over its own KV cache, and the final norm and output matrix for just the
// rows whose logits are wanted. The linear layers in between run over the whole batch.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "models/model.h"

namespace minnow::models {

// The batch's token count (the sequences' sum), once it is checked: at least one sequence,
// none empty, no cache named twice, and each sequence's tokens, positions and cache as
// check_batch (loader.h) wants them.
Result<int64_t> check_seqs(const HParams& hp, const int32_t* tokens, const int32_t* positions,
                           std::span<const SeqTokens> seqs);

// nn::self_attention of each sequence's rows over its own cache, one pool pass for all (a
// row's result depends on its own query and its cache only).
//   k, v: [n_tokens][n_kv_dim], q and out: [n_tokens][n_head][head_dim], positions: [n_tokens]
void self_attention(const nn::Compute& c, const nn::AttentionParams& p, std::span<const SeqTokens> seqs,
                    int layer, const float* k, const float* v, const float* q, const int32_t* positions,
                    float* out);

// RMSNorm with norm, then the output matrix, of the rows the sequences want logits for (in
// their order). Returns the number of rows written.
//   x: [n_tokens][n_embd]; h: [n_tokens][n_embd] scratch; logits: [rows][output.n_out]
int64_t output_logits(const nn::Compute& c, std::span<const SeqTokens> seqs, const float* x,
                      const std::vector<float>& norm, float eps, const nn::Weight& output, float* h,
                      float* logits);

// After a pass: each sequence's cache holds positions up to its last one.
void advance_caches(std::span<const SeqTokens> seqs, const int32_t* positions);

}  // namespace minnow::models

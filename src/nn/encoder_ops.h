// The blocks an encoder (BERT) needs beyond ops.h: layer norm with a bias, the exact (erf) GELU,
// and attention in which each query sees its own span of keys held in plain f32 buffers, which
// gives bidirectional attention over one input and keeps inputs packed into one batch apart.
// No KV cache: an encoder sees its whole input at once.
#pragma once

#include <cstdint>

#include "nn/ops.h"

namespace minnow::nn {

// out[t] = (x[t] - mean(x[t])) / sqrt(var(x[t]) + eps) * weight + bias (the biased variance, as
// torch.nn.LayerNorm).  x, out: [n_tokens][n]; may alias.
void layer_norm(const float* x, const float* weight, const float* bias, int64_t n, int64_t n_tokens,
                float eps, float* out);

// x[i] = x[i]/2 * (1 + erf(x[i] / sqrt(2))): BERT's hidden_act "gelu", the exact form (geglu_inplace
// uses the tanh approximation Gemma was trained with).
void gelu_inplace(float* x, int64_t n);

// Attention of query token t over the keys and values at rows [first[t], last[t]] of k and v
// (GQA as in attention(); p.window and p.softcap must be 0).
//   k, v: [n_rows][n_head_kv * head_dim] f32;  q, out: [n_tokens][n_head][head_dim]
// A row's result depends on its query and its span's keys and values only, never on the other
// tokens of the batch or the thread count, where every span starts at a multiple of
// kernels::kAttnKeyBlock (the flash-attention kernels group keys in blocks aligned there): an
// input placed at such a row computes the same bits alone or packed with others.
void attention_spans(const Compute& c, const AttentionParams& p, const float* k, const float* v,
                     int64_t n_rows, const float* q, int64_t n_tokens, const int32_t* first,
                     const int32_t* last, float* out);

}  // namespace minnow::nn

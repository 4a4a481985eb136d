#include "models/decoder.h"

#include <algorithm>
#include <cmath>

#include "kernels/kernel_table.h"
#include "models/batch.h"
#include "tensor/dtype.h"

namespace minnow::models {

Status Decoder::load_embeddings(WeightLoader& w) {
  const int E = hp_.n_embd, V = hp_.n_vocab;
  MINNOW_ASSIGN_OR_RETURN(tok_embd_, w.matrix("token_embd.weight", E, V));
  MINNOW_ASSIGN_OR_RETURN(output_norm_, w.vector("output_norm.weight", E));
  MINNOW_ASSIGN_OR_RETURN(output_, w.optional_matrix("output.weight", E, V));
  if (!output_.data) output_ = tok_embd_;  // tied embeddings
  return Status();
}

Status Decoder::load_layer(WeightLoader& w, int il, bool biases) {
  const int E = hp_.n_embd, F = hp_.n_ff;
  const int q_dim = hp_.n_head * hp_.head_dim, kv_dim = hp_.n_head_kv * hp_.head_dim;
  DecoderLayer& l = layers_[il];
  MINNOW_ASSIGN_OR_RETURN(l.attn_norm, w.vector(layer_tensor(il, "attn_norm.weight"), E));
  MINNOW_ASSIGN_OR_RETURN(l.wq, w.matrix(layer_tensor(il, "attn_q.weight"), E, q_dim));
  MINNOW_ASSIGN_OR_RETURN(l.wk, w.matrix(layer_tensor(il, "attn_k.weight"), E, kv_dim));
  MINNOW_ASSIGN_OR_RETURN(l.wv, w.matrix(layer_tensor(il, "attn_v.weight"), E, kv_dim));
  if (biases) {
    MINNOW_ASSIGN_OR_RETURN(l.bq, w.vector(layer_tensor(il, "attn_q.bias"), q_dim));
    MINNOW_ASSIGN_OR_RETURN(l.bk, w.vector(layer_tensor(il, "attn_k.bias"), kv_dim));
    MINNOW_ASSIGN_OR_RETURN(l.bv, w.vector(layer_tensor(il, "attn_v.bias"), kv_dim));
  }
  MINNOW_ASSIGN_OR_RETURN(l.wo, w.matrix(layer_tensor(il, "attn_output.weight"), q_dim, E));
  MINNOW_ASSIGN_OR_RETURN(l.ffn_norm, w.vector(layer_tensor(il, "ffn_norm.weight"), E));
  MINNOW_ASSIGN_OR_RETURN(l.w_gate, w.matrix(layer_tensor(il, "ffn_gate.weight"), E, F));
  MINNOW_ASSIGN_OR_RETURN(l.w_up, w.matrix(layer_tensor(il, "ffn_up.weight"), E, F));
  MINNOW_ASSIGN_OR_RETURN(l.w_down, w.matrix(layer_tensor(il, "ffn_down.weight"), F, E));
  return Status();
}

void Decoder::finish_load(const WeightLoader& w) {
  const int E = hp_.n_embd, V = hp_.n_vocab;
  n_params_ = w.params();
  // Per token, every matrix is read once; the embedding table only for one row.
  const uint64_t embd_bytes = *row_bytes(tok_embd_.type, E) * static_cast<uint64_t>(V);
  weight_bytes_ = w.bytes() - embd_bytes + (output_.data == tok_embd_.data ? embd_bytes : 0);
  uint64_t matmul_params = static_cast<uint64_t>(V) * E;  // the output matrix
  for (const DecoderLayer& l : layers_) {
    for (const nn::Weight* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) {
      matmul_params += static_cast<uint64_t>(m->n_in * m->n_out);
    }
  }
  flops_per_token_ = 2 * matmul_params;
}

std::vector<nn::Weight*> Decoder::linear_weights() {
  std::vector<nn::Weight*> out = {&output_};
  for (DecoderLayer& l : layers_)
    out.insert(out.end(), {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down});
  return out;
}

Status Decoder::forward_batch(const nn::Compute& c, const int32_t* tokens, const int32_t* positions,
                              std::span<const SeqTokens> seqs, float* logits) const {
  return run(c, tokens, positions, seqs, false, logits);
}

Status Decoder::forward_hidden(const nn::Compute& c, const int32_t* tokens, const int32_t* positions,
                               int64_t n_tokens, KvCache& cache, float* hidden) const {
  const SeqTokens seq{&cache, n_tokens, LogitRows::kNone};
  return run(c, tokens, positions, std::span<const SeqTokens>(&seq, 1), true, hidden);
}

Status Decoder::run(const nn::Compute& c, const int32_t* tokens, const int32_t* positions,
                    std::span<const SeqTokens> seqs, bool normed_hidden, float* out) const {
  const int E = hp_.n_embd, F = hp_.n_ff, hd = hp_.head_dim;
  const int q_dim = hp_.n_head * hd, kv_dim = hp_.n_head_kv * hd;
  int64_t n_tokens = 0;
  MINNOW_ASSIGN_OR_RETURN(n_tokens, check_seqs(hp_, tokens, positions, seqs));
  nn::Scratch own;  // used when the caller keeps no scratch
  const auto [x, h, q, k, v, att, gate, up] =
      (c.scratch != nullptr ? *c.scratch : own)
          .take<8>({n_tokens * E,       // x: [n_tokens][n_embd] residual stream
                    n_tokens * E,       // h: [n_tokens][n_embd] normed input of a block
                    n_tokens * q_dim,   // q: [n_tokens][n_head][head_dim]
                    n_tokens * kv_dim,  // k: [n_tokens][n_head_kv][head_dim]
                    n_tokens * kv_dim,  // v: [n_tokens][n_head_kv][head_dim]
                    n_tokens * q_dim,   // att: [n_tokens][n_head][head_dim]
                    n_tokens * F,       // gate: [n_tokens][n_ff]
                    n_tokens * F});     // up: [n_tokens][n_ff]

  const size_t embd_row = *row_bytes(tok_embd_.type, E);
  for (int64_t t = 0; t < n_tokens; ++t) {
    const auto* row = static_cast<const uint8_t*>(tok_embd_.data) + embd_row * tokens[t];
    c.kt.to_float[static_cast<int>(tok_embd_.type)](row, x + t * E, E);
  }

  // Each sequence's rotation angles: LongRoPE picks its factors by the context its cache was
  // made for.
  std::vector<nn::RopeAngles> angles;
  angles.reserve(seqs.size());
  for (int64_t t = 0; const SeqTokens& s : seqs) {
    nn::RopeParams rope = hp_.rope;
    const bool long_ctx = !rope_factors_long_.empty() && s.cache->n_ctx() > rope_long_after_;
    const std::vector<float>& factors = long_ctx ? rope_factors_long_ : rope_factors_;
    rope.freq_factors = factors.empty() ? nullptr : factors.data();
    angles.emplace_back(rope, positions + t, s.n_tokens);
    t += s.n_tokens;
  }
  auto rotate = [&](float* rows, int n_heads) {
    int64_t t = 0;
    for (size_t i = 0; i < seqs.size(); ++i) {
      angles[i].rotate(rows + t * n_heads * hd, n_heads, hd);
      t += seqs[i].n_tokens;
    }
  };
  nn::AttentionParams ap{hp_.n_head, hp_.n_head_kv, hd, 1.0f / std::sqrt(static_cast<float>(hd))};

  for (int il = 0; il < hp_.n_layer; ++il) {
    const DecoderLayer& l = layers_[il];
    nn::rms_norm(c, x, l.attn_norm.data(), E, n_tokens, hp_.rms_eps, h);
    c.emit("attn_norm", il, h, n_tokens * E);
    const nn::Weight* const qkv_w[] = {&l.wq, &l.wk, &l.wv};
    float* const qkv_y[] = {q, k, v};
    nn::linear(c, qkv_w, h, n_tokens, qkv_y);
    if (!l.bq.empty()) nn::add_bias(q, l.bq.data(), q_dim, n_tokens);
    if (!l.bk.empty()) nn::add_bias(k, l.bk.data(), kv_dim, n_tokens);
    if (!l.bv.empty()) nn::add_bias(v, l.bv.data(), kv_dim, n_tokens);
    rotate(q, hp_.n_head);
    rotate(k, hp_.n_head_kv);
    c.emit("q", il, q, n_tokens * q_dim);
    c.emit("k", il, k, n_tokens * kv_dim);
    c.emit("v", il, v, n_tokens * kv_dim);
    ap.window = hp_.layer_window.empty() ? 0 : hp_.layer_window[il];
    self_attention(c, ap, seqs, il, k, v, q, positions, att);
    c.emit("attn", il, att, n_tokens * q_dim);
    nn::linear(c, l.wo, att, n_tokens, h);
    nn::add_inplace(x, h, n_tokens * E);

    c.emit("attn_out", il, x, n_tokens * E);
    nn::rms_norm(c, x, l.ffn_norm.data(), E, n_tokens, hp_.rms_eps, h);
    const nn::Weight* const ffn_w[] = {&l.w_gate, &l.w_up};
    float* const ffn_y[] = {gate, up};
    nn::linear(c, ffn_w, h, n_tokens, ffn_y);
    nn::swiglu_inplace(c, gate, up, n_tokens * F);
    c.emit("ffn_act", il, gate, n_tokens * F);
    nn::linear(c, l.w_down, gate, n_tokens, h);
    nn::add_inplace(x, h, n_tokens * E);
    c.emit("ffn_out", il, x, n_tokens * E);
  }

  if (normed_hidden) {
    nn::rms_norm(c, x, output_norm_.data(), E, n_tokens, hp_.rms_eps, out);
  } else {
    output_logits(c, seqs, x, output_norm_, hp_.rms_eps, output_, h, out);
  }
  advance_caches(seqs, positions);
  return Status();
}

}  // namespace minnow::models

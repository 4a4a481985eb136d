// The bert architecture as llama.cpp's converter writes it: BERT and the sentence-embedding
// models built on it (bge, all-MiniLM, e5, ...). Token + token type 0 + learned absolute position
// embeddings, layer norm; then post-norm blocks: attention over the whole input (q/k/v/output
// with biases) -> residual -> layer norm -> GELU FFN (biases) -> residual -> layer norm. An
// encoder: forward_hidden gives the last block's output; there is no output matrix to generate with.
#include <algorithm>
#include <cmath>

#include "gguf/gguf.h"
#include "kernels/kernel_table.h"
#include "models/decoder.h"  // MINNOW_ASSIGN_OR_RETURN
#include "models/registry.h"
#include "nn/encoder_ops.h"
#include "tensor/dtype.h"
#include "tensor/quants.h"

namespace minnow::models {
namespace {

struct BertLayer {
  // [n_head*head_dim][n_embd], [n_kv_dim][n_embd] x2, [n_embd][n_head*head_dim]
  nn::Weight wq, wk, wv, wo;
  std::vector<float> bq, bk, bv, bo;            // [n_head*head_dim], [n_kv_dim] x2, [n_embd]
  std::vector<float> attn_norm_w, attn_norm_b;  // [n_embd] each (attn_output_norm)
  nn::Weight w_up, w_down;                      // [n_ff][n_embd], [n_embd][n_ff]
  std::vector<float> b_up, b_down;              // [n_ff], [n_embd]
  std::vector<float> out_norm_w, out_norm_b;    // [n_embd] each (layer_output_norm)
};

class Bert final : public Model {
 public:
  Status load(const gguf::File& f) {
    auto hp = read_common_hparams(f, "bert");
    if (!hp) return hp.error();
    hp_ = *hp;
    hp_.encoder = true;
    auto eps = f.get_float("bert.attention.layer_norm_epsilon");
    if (!eps) return eps.error();
    if (!(*eps > 0 && *eps < 1))
      return make_error("model: bert.attention.layer_norm_epsilon %g is out of range", *eps);
    eps_ = static_cast<float>(*eps);
    // Encoders attend both ways; the key exists for the few trained causally.
    auto causal = f.get_bool_or("bert.attention.causal", false);
    if (!causal) return causal.error();
    causal_ = *causal;

    const int E = hp_.n_embd, V = hp_.n_vocab, F = hp_.n_ff;
    const int q_dim = hp_.n_head * hp_.head_dim, kv_dim = hp_.n_head_kv * hp_.head_dim;
    WeightLoader w(f);
    MINNOW_ASSIGN_OR_RETURN(tok_embd_, w.matrix("token_embd.weight", E, V));
    // One learned row per position the model was trained for: the context cannot exceed it.
    MINNOW_ASSIGN_OR_RETURN(pos_embd_, w.matrix("position_embd.weight", E, hp_.n_ctx_train));
    // Token types (BERT's sentence A/B); every input here is type 0. DistilBERT has none.
    if (const gguf::TensorInfo* t = f.find_tensor("token_types.weight")) {
      nn::Weight types;
      MINNOW_ASSIGN_OR_RETURN(types, w.matrix("token_types.weight", E, std::max<int64_t>(1, t->ne[1])));
      type0_.resize(E);
      if (!dequantize_row(types.type, types.data, type0_.data(), E))
        return make_error("model: token_types.weight: type %s cannot be read", dtype_name(types.type));
    }
    MINNOW_ASSIGN_OR_RETURN(tok_norm_w_, w.vector("token_embd_norm.weight", E));
    MINNOW_ASSIGN_OR_RETURN(tok_norm_b_, w.vector("token_embd_norm.bias", E));
    layers_.resize(hp_.n_layer);
    for (int il = 0; il < hp_.n_layer; ++il) {
      BertLayer& l = layers_[il];
      auto name = [il](const char* suffix) { return layer_tensor(il, suffix); };
      MINNOW_ASSIGN_OR_RETURN(l.wq, w.matrix(name("attn_q.weight"), E, q_dim));
      MINNOW_ASSIGN_OR_RETURN(l.bq, w.vector(name("attn_q.bias"), q_dim));
      MINNOW_ASSIGN_OR_RETURN(l.wk, w.matrix(name("attn_k.weight"), E, kv_dim));
      MINNOW_ASSIGN_OR_RETURN(l.bk, w.vector(name("attn_k.bias"), kv_dim));
      MINNOW_ASSIGN_OR_RETURN(l.wv, w.matrix(name("attn_v.weight"), E, kv_dim));
      MINNOW_ASSIGN_OR_RETURN(l.bv, w.vector(name("attn_v.bias"), kv_dim));
      MINNOW_ASSIGN_OR_RETURN(l.wo, w.matrix(name("attn_output.weight"), q_dim, E));
      MINNOW_ASSIGN_OR_RETURN(l.bo, w.vector(name("attn_output.bias"), E));
      MINNOW_ASSIGN_OR_RETURN(l.attn_norm_w, w.vector(name("attn_output_norm.weight"), E));
      MINNOW_ASSIGN_OR_RETURN(l.attn_norm_b, w.vector(name("attn_output_norm.bias"), E));
      MINNOW_ASSIGN_OR_RETURN(l.w_up, w.matrix(name("ffn_up.weight"), E, F));
      MINNOW_ASSIGN_OR_RETURN(l.b_up, w.vector(name("ffn_up.bias"), F));
      MINNOW_ASSIGN_OR_RETURN(l.w_down, w.matrix(name("ffn_down.weight"), F, E));
      MINNOW_ASSIGN_OR_RETURN(l.b_down, w.vector(name("ffn_down.bias"), E));
      MINNOW_ASSIGN_OR_RETURN(l.out_norm_w, w.vector(name("layer_output_norm.weight"), E));
      MINNOW_ASSIGN_OR_RETURN(l.out_norm_b, w.vector(name("layer_output_norm.bias"), E));
    }

    n_params_ = w.params();
    // Per token, every matrix is read once; the embedding tables only for a row each.
    const uint64_t tables = *row_bytes(tok_embd_.type, E) * static_cast<uint64_t>(V) +
                            *row_bytes(pos_embd_.type, E) * static_cast<uint64_t>(hp_.n_ctx_train);
    weight_bytes_ = w.bytes() - tables;
    uint64_t matmul_params = 0;
    for (const BertLayer& l : layers_) {
      for (const nn::Weight* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_up, &l.w_down})
        matmul_params += static_cast<uint64_t>(m->n_in * m->n_out);
    }
    flops_per_token_ = 2 * matmul_params;
    return Status();
  }

  std::vector<nn::Weight*> linear_weights() override {
    std::vector<nn::Weight*> out;
    for (BertLayer& l : layers_) out.insert(out.end(), {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_up, &l.w_down});
    return out;
  }

  Status forward_batch(const nn::Compute&, const int32_t*, const int32_t*, std::span<const SeqTokens>,
                       float*) const override {
    return make_error(
        "model: %s is an encoder: it computes embeddings and has no output layer to generate text with",
        hp_.arch.c_str());
  }

  Status forward_hidden(const nn::Compute& c, const int32_t* tokens, const int32_t* positions,
                        int64_t n_tokens, KvCache&, float* hidden) const override {
    MINNOW_CHECK_OK(check_inputs(tokens, positions, n_tokens));
    const int E = hp_.n_embd, F = hp_.n_ff, hd = hp_.head_dim;
    const int q_dim = hp_.n_head * hd, kv_dim = hp_.n_head_kv * hd;
    // Each input's keys and values start at a row that is a multiple of the attention kernels'
    // key block, so that an input computes the same bits alone or packed with others.
    const int64_t align = kernels::kAttnKeyBlock;
    std::vector<int32_t> first(n_tokens), last(n_tokens);  // [n_tokens] each token's key rows
    std::vector<int64_t> key_row(n_tokens);                // [n_tokens] where its key and value go
    int64_t n_rows = 0;
    for (int64_t b = 0, e = 0; b < n_tokens; b = e) {
      for (e = b + 1; e < n_tokens && positions[e] != 0;) ++e;  // [b, e): one input
      const int64_t start = (n_rows + align - 1) / align * align;
      for (int64_t t = b; t < e; ++t) {
        key_row[t] = start + (t - b);
        first[t] = static_cast<int32_t>(start);
        last[t] = static_cast<int32_t>(causal_ ? key_row[t] : start + (e - 1 - b));
      }
      n_rows = start + (e - b);
    }

    nn::Scratch own;  // used when the caller keeps no scratch
    const auto [x, h, q, k, v, kr, vr, att, up] =
        (c.scratch != nullptr ? *c.scratch : own)
            .take<9>({n_tokens * E,       // x: [n_tokens][n_embd] residual stream
                      n_tokens * E,       // h: [n_tokens][n_embd] a sub-block's output
                      n_tokens * q_dim,   // q: [n_tokens][n_head][head_dim]
                      n_tokens * kv_dim,  // k: [n_tokens][n_head_kv][head_dim]
                      n_tokens * kv_dim,  // v: [n_tokens][n_head_kv][head_dim]
                      n_rows * kv_dim,    // kr: [n_rows][n_kv_dim] keys at their rows
                      n_rows * kv_dim,    // vr: [n_rows][n_kv_dim] values at their rows
                      n_tokens * q_dim,   // att: [n_tokens][n_head][head_dim]
                      n_tokens * F});     // up: [n_tokens][n_ff]

    const size_t tok_row = *row_bytes(tok_embd_.type, E), pos_row = *row_bytes(pos_embd_.type, E);
    for (int64_t t = 0; t < n_tokens; ++t) {
      float* xt = x + t * E;
      c.kt.to_float[static_cast<int>(tok_embd_.type)](
          static_cast<const uint8_t*>(tok_embd_.data) + tok_row * tokens[t], xt, E);
      if (!type0_.empty()) nn::add_inplace(xt, type0_.data(), E);
      c.kt.to_float[static_cast<int>(pos_embd_.type)](
          static_cast<const uint8_t*>(pos_embd_.data) + pos_row * positions[t], h, E);
      nn::add_inplace(xt, h, E);
    }
    nn::layer_norm(x, tok_norm_w_.data(), tok_norm_b_.data(), E, n_tokens, eps_, x);
    c.emit("embd_norm", -1, x, n_tokens * E);

    const nn::AttentionParams ap{hp_.n_head, hp_.n_head_kv, hd, 1.0f / std::sqrt(static_cast<float>(hd))};
    for (int il = 0; il < hp_.n_layer; ++il) {
      const BertLayer& l = layers_[il];
      const nn::Weight* const qkv_w[] = {&l.wq, &l.wk, &l.wv};
      float* const qkv_y[] = {q, k, v};
      nn::linear(c, qkv_w, x, n_tokens, qkv_y);
      nn::add_bias(q, l.bq.data(), q_dim, n_tokens);
      nn::add_bias(k, l.bk.data(), kv_dim, n_tokens);
      nn::add_bias(v, l.bv.data(), kv_dim, n_tokens);
      c.emit("q", il, q, n_tokens * q_dim);
      c.emit("k", il, k, n_tokens * kv_dim);
      c.emit("v", il, v, n_tokens * kv_dim);
      for (int64_t t = 0; t < n_tokens; ++t) {
        std::copy(k + t * kv_dim, k + (t + 1) * kv_dim, kr + key_row[t] * kv_dim);
        std::copy(v + t * kv_dim, v + (t + 1) * kv_dim, vr + key_row[t] * kv_dim);
      }
      nn::attention_spans(c, ap, kr, vr, n_rows, q, n_tokens, first.data(), last.data(), att);
      c.emit("attn", il, att, n_tokens * q_dim);
      nn::linear(c, l.wo, att, n_tokens, h);
      nn::add_bias(h, l.bo.data(), E, n_tokens);
      nn::add_inplace(x, h, n_tokens * E);
      nn::layer_norm(x, l.attn_norm_w.data(), l.attn_norm_b.data(), E, n_tokens, eps_, x);
      c.emit("attn_out", il, x, n_tokens * E);

      nn::linear(c, l.w_up, x, n_tokens, up);
      nn::add_bias(up, l.b_up.data(), F, n_tokens);
      nn::gelu_inplace(up, n_tokens * F);
      c.emit("ffn_act", il, up, n_tokens * F);
      nn::linear(c, l.w_down, up, n_tokens, h);
      nn::add_bias(h, l.b_down.data(), E, n_tokens);
      nn::add_inplace(x, h, n_tokens * E);
      nn::layer_norm(x, l.out_norm_w.data(), l.out_norm_b.data(), E, n_tokens, eps_, x);
      c.emit("ffn_out", il, x, n_tokens * E);
    }
    std::copy(x, x + n_tokens * E, hidden);
    return Status();
  }

 private:
  // Token ids in the vocabulary; inputs that start at position 0 and count up, within the
  // positions the model has embeddings for.
  Status check_inputs(const int32_t* tokens, const int32_t* positions, int64_t n_tokens) const {
    for (int64_t t = 0; t < n_tokens; ++t) {
      if (tokens[t] < 0 || tokens[t] >= hp_.n_vocab)
        return make_error("model: token id %d is out of range [0, %d)", tokens[t], hp_.n_vocab);
      if (positions[t] < 0 || positions[t] >= hp_.n_ctx_train)
        return make_error("model: position %d is outside the %d positions %s was trained for", positions[t],
                          hp_.n_ctx_train, hp_.arch.c_str());
      if (positions[t] != 0 && (t == 0 || positions[t] != positions[t - 1] + 1))
        return make_error(
            "model: position %d at index %lld: an encoder's inputs each start at position 0 and count up",
            positions[t], static_cast<long long>(t));
    }
    return Status();
  }

  float eps_ = 1e-12f;
  bool causal_ = false;
  nn::Weight tok_embd_;            // [n_vocab][n_embd]
  nn::Weight pos_embd_;            // [n_ctx_train][n_embd]
  std::vector<float> type0_;       // [n_embd] token type 0's embedding; empty: none
  std::vector<float> tok_norm_w_;  // [n_embd]
  std::vector<float> tok_norm_b_;  // [n_embd]
  std::vector<BertLayer> layers_;
};

}  // namespace

Result<std::unique_ptr<Model>> load_bert(const gguf::File& f) {
  auto m = std::make_unique<Bert>();
  MINNOW_CHECK_OK(m->load(f));
  return std::unique_ptr<Model>(std::move(m));
}

}  // namespace minnow::models

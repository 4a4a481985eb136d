// The Gemma 2 / Gemma 3 decoder (gemma.h says who configures it): scaled embeddings; blocks of
// RMSNorm -> attention (QK-norm, NEOX RoPE, window, soft-cap as configured) -> RMSNorm -> residual
// -> RMSNorm -> GeGLU -> RMSNorm -> residual; soft-capped logits when asked. Not an architecture.
#include "models/gemma.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "gguf/gguf.h"
#include "kernels/kernel_table.h"
#include "models/batch.h"
#include "models/loader.h"

namespace minnow::models {
namespace {

struct Layer {
  std::vector<float> attn_norm;  // [n_embd]
  nn::Weight wq, wk, wv, wo;  // [n_head*head_dim][n_embd], [n_kv_dim][n_embd] x2, [n_embd][n_head*head_dim]
  std::vector<float> attn_q_norm, attn_k_norm;  // [head_dim] each, or empty without QK-norm
  std::vector<float> post_attention_norm;       // [n_embd]
  std::vector<float> ffn_norm;                  // [n_embd]
  nn::Weight w_gate, w_up, w_down;              // [n_ff][n_embd] x2, [n_embd][n_ff]
  std::vector<float> post_ffw_norm;             // [n_embd]
};

class Gemma final : public Model {
 public:
  Status load(const gguf::File& f, const GemmaConfig& cfg) {
    cfg_ = cfg;
    hp_ = cfg.hp;
    const int E = hp_.n_embd, V = hp_.n_vocab, F = hp_.n_ff, hd = hp_.head_dim;
    const int q_dim = hp_.n_head * hd, kv_dim = hp_.n_head_kv * hd;

    // Norm weights are used as stored: GGUF conversion already folded Gemma's (1 + w) into them.
    WeightLoader w(f);
#define MINNOW_LOAD(dst, expr)  \
  do {                          \
    auto r_ = (expr);           \
    if (!r_) return r_.error(); \
    dst = std::move(*r_);       \
  } while (0)
    MINNOW_LOAD(tok_embd_, w.matrix("token_embd.weight", E, V));
    MINNOW_LOAD(output_norm_, w.vector("output_norm.weight", E));
    MINNOW_LOAD(output_, w.optional_matrix("output.weight", E, V));
    if (!output_.data) output_ = tok_embd_;  // tied embeddings, as the released checkpoints are
    layers_.resize(hp_.n_layer);
    for (int i = 0; i < hp_.n_layer; ++i) {
      Layer& l = layers_[i];
      MINNOW_LOAD(l.attn_norm, w.vector(layer_tensor(i, "attn_norm.weight"), E));
      MINNOW_LOAD(l.wq, w.matrix(layer_tensor(i, "attn_q.weight"), E, q_dim));
      MINNOW_LOAD(l.wk, w.matrix(layer_tensor(i, "attn_k.weight"), E, kv_dim));
      MINNOW_LOAD(l.wv, w.matrix(layer_tensor(i, "attn_v.weight"), E, kv_dim));
      if (cfg_.qk_norm) {
        MINNOW_LOAD(l.attn_q_norm, w.vector(layer_tensor(i, "attn_q_norm.weight"), hd));
        MINNOW_LOAD(l.attn_k_norm, w.vector(layer_tensor(i, "attn_k_norm.weight"), hd));
      }
      MINNOW_LOAD(l.wo, w.matrix(layer_tensor(i, "attn_output.weight"), q_dim, E));
      MINNOW_LOAD(l.post_attention_norm, w.vector(layer_tensor(i, "post_attention_norm.weight"), E));
      MINNOW_LOAD(l.ffn_norm, w.vector(layer_tensor(i, "ffn_norm.weight"), E));
      MINNOW_LOAD(l.w_gate, w.matrix(layer_tensor(i, "ffn_gate.weight"), E, F));
      MINNOW_LOAD(l.w_up, w.matrix(layer_tensor(i, "ffn_up.weight"), E, F));
      MINNOW_LOAD(l.w_down, w.matrix(layer_tensor(i, "ffn_down.weight"), F, E));
      MINNOW_LOAD(l.post_ffw_norm, w.vector(layer_tensor(i, "post_ffw_norm.weight"), E));
    }
#undef MINNOW_LOAD
    n_params_ = w.params();
    // Per token, every matrix is read once; the embedding table only for one row.
    const uint64_t embd_bytes = *row_bytes(tok_embd_.type, E) * static_cast<uint64_t>(V);
    weight_bytes_ = w.bytes() - embd_bytes + (output_.data == tok_embd_.data ? embd_bytes : 0);
    uint64_t matmul_params = static_cast<uint64_t>(V) * E;  // the output matrix
    for (const Layer& l : layers_) {
      for (const nn::Weight* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) {
        matmul_params += static_cast<uint64_t>(m->n_in * m->n_out);
      }
    }
    flops_per_token_ = 2 * matmul_params;
    return Status();
  }

  std::vector<nn::Weight*> linear_weights() override {
    std::vector<nn::Weight*> out = {&output_};
    for (Layer& l : layers_) out.insert(out.end(), {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down});
    return out;
  }

  Status forward_batch(const nn::Compute& c, const int32_t* tokens, const int32_t* positions,
                       std::span<const SeqTokens> seqs, float* logits) const override {
    return run(c, tokens, positions, seqs, false, logits);
  }

  Status forward_hidden(const nn::Compute& c, const int32_t* tokens, const int32_t* positions, int64_t n_tokens,
                        KvCache& cache, float* hidden) const override {
    const SeqTokens seq{&cache, n_tokens, LogitRows::kNone};
    return run(c, tokens, positions, std::span<const SeqTokens>(&seq, 1), true, hidden);
  }

 private:
  // The layer stack over the batch, then the logits the sequences ask for, or (normed_hidden)
  // every token's final normed hidden state.
  Status run(const nn::Compute& c, const int32_t* tokens, const int32_t* positions, std::span<const SeqTokens> seqs,
             bool normed_hidden, float* out) const {
    auto checked = check_seqs(hp_, tokens, positions, seqs);
    if (!checked) return checked.error();
    const int64_t n_tokens = *checked;
    const int E = hp_.n_embd, F = hp_.n_ff, hd = hp_.head_dim;
    const int q_dim = hp_.n_head * hd, kv_dim = hp_.n_head_kv * hd;
    nn::Scratch own;  // used when the caller keeps no scratch
    const auto [x, h, q, k, v, att, gate, up] =
        (c.scratch != nullptr ? *c.scratch : own)
            .take<8>({n_tokens * E,       // x: [n_tokens][n_embd] residual stream
                      n_tokens * E,       // h: [n_tokens][n_embd] normed input / output of a sub-block
                      n_tokens * q_dim,   // q: [n_tokens][n_head][head_dim]
                      n_tokens * kv_dim,  // k: [n_tokens][n_head_kv][head_dim]
                      n_tokens * kv_dim,  // v: [n_tokens][n_head_kv][head_dim]
                      n_tokens * q_dim,   // att: [n_tokens][n_head][head_dim]
                      n_tokens * F,       // gate: [n_tokens][n_ff]
                      n_tokens * F});     // up: [n_tokens][n_ff]

    // Gemma multiplies the embeddings by sqrt(n_embd) (in f32, as the reference does).
    const float embd_scale = std::sqrt(static_cast<float>(E));
    const size_t embd_row = *row_bytes(tok_embd_.type, E);
    for (int64_t t = 0; t < n_tokens; ++t) {
      const auto* row = static_cast<const uint8_t*>(tok_embd_.data) + embd_row * tokens[t];
      float* xt = x + t * E;
      c.kt.to_float[static_cast<int>(tok_embd_.type)](row, xt, E);
      for (int i = 0; i < E; ++i) xt[i] *= embd_scale;
    }

    const nn::RopeAngles global_angles(hp_.rope, positions, n_tokens),
        local_angles(cfg_.rope_local, positions, n_tokens);
    for (int il = 0; il < hp_.n_layer; ++il) {
      const Layer& l = layers_[il];
      const int window = hp_.layer_window.empty() ? 0 : hp_.layer_window[il];
      const nn::RopeAngles& angles = window > 0 ? local_angles : global_angles;
      const nn::AttentionParams ap{hp_.n_head, hp_.n_head_kv, hd, cfg_.attn_scale, window, cfg_.attn_softcap};

      nn::rms_norm(c, x, l.attn_norm.data(), E, n_tokens, hp_.rms_eps, h);
      c.emit("attn_norm", il, h, n_tokens * E);
      const nn::Weight* const qkv_w[] = {&l.wq, &l.wk, &l.wv};
      float* const qkv_y[] = {q, k, v};
      nn::linear(c, qkv_w, h, n_tokens, qkv_y);
      if (cfg_.qk_norm) {  // each head's row on its own
        nn::rms_norm(q, l.attn_q_norm.data(), hd, n_tokens * hp_.n_head, hp_.rms_eps, q);
        nn::rms_norm(k, l.attn_k_norm.data(), hd, n_tokens * hp_.n_head_kv, hp_.rms_eps, k);
      }
      angles.rotate(q, hp_.n_head, hd);
      angles.rotate(k, hp_.n_head_kv, hd);
      c.emit("q", il, q, n_tokens * q_dim);
      c.emit("k", il, k, n_tokens * kv_dim);
      c.emit("v", il, v, n_tokens * kv_dim);
      self_attention(c, ap, seqs, il, k, v, q, positions, att);
      c.emit("attn", il, att, n_tokens * q_dim);
      nn::linear(c, l.wo, att, n_tokens, h);
      nn::rms_norm(c, h, l.post_attention_norm.data(), E, n_tokens, hp_.rms_eps, h);
      nn::add_inplace(x, h, n_tokens * E);
      c.emit("attn_out", il, x, n_tokens * E);

      nn::rms_norm(c, x, l.ffn_norm.data(), E, n_tokens, hp_.rms_eps, h);
      const nn::Weight* const ffn_w[] = {&l.w_gate, &l.w_up};
      float* const ffn_y[] = {gate, up};
      nn::linear(c, ffn_w, h, n_tokens, ffn_y);
      nn::geglu_inplace(gate, up, n_tokens * F);
      c.emit("ffn_act", il, gate, n_tokens * F);
      nn::linear(c, l.w_down, gate, n_tokens, h);
      nn::rms_norm(c, h, l.post_ffw_norm.data(), E, n_tokens, hp_.rms_eps, h);
      nn::add_inplace(x, h, n_tokens * E);
      c.emit("ffn_out", il, x, n_tokens * E);
    }

    if (normed_hidden) {
      nn::rms_norm(c, x, output_norm_.data(), E, n_tokens, hp_.rms_eps, out);
    } else {
      const int64_t n_out = output_logits(c, seqs, x, output_norm_, hp_.rms_eps, output_, h, out);
      if (cfg_.final_softcap > 0) nn::softcap_inplace(out, n_out * hp_.n_vocab, cfg_.final_softcap);
    }
    advance_caches(seqs, positions);
    return Status();
  }

  GemmaConfig cfg_;
  nn::Weight tok_embd_;             // [n_vocab][n_embd]
  nn::Weight output_;               // [n_vocab][n_embd], or tok_embd_ when tied
  std::vector<float> output_norm_;  // [n_embd]
  std::vector<Layer> layers_;
};

}  // namespace

Result<std::unique_ptr<Model>> load_gemma(const gguf::File& f, const GemmaConfig& cfg) {
  auto m = std::make_unique<Gemma>();
  MINNOW_CHECK_OK(m->load(f, cfg));
  return std::unique_ptr<Model>(std::move(m));
}

Result<std::vector<int>> read_layer_windows(const gguf::File& f, const std::string& key, int n_layer,
                                            int window, int default_period) {
  std::vector<bool> local(n_layer);
  const gguf::Value* v = f.find(key);
  if (v && v->type == gguf::ValueType::ARRAY) {
    auto arr = f.get_array(key);
    if (!arr) return arr.error();
    const gguf::ArrayValue& a = **arr;
    gguf::Value elem;
    elem.type = a.elem_type;
    if (elem.type != gguf::ValueType::BOOL && !elem.is_integer()) {
      return make_error("model: %s: expected booleans per layer, found %s", key.c_str(),
                        gguf::value_type_name(a.elem_type));
    }
    if (a.count != static_cast<uint64_t>(n_layer)) {
      return make_error("model: %s has %llu entries for %d layers", key.c_str(),
                        static_cast<unsigned long long>(a.count), n_layer);
    }
    for (int il = 0; il < n_layer; ++il) local[il] = a.int_at(il) != 0;
  } else {
    auto period = read_int_or(f, key, default_period, 0, n_layer);
    if (!period) return period.error();
    for (int il = 0; il < n_layer; ++il) local[il] = *period == 0 || il % *period < *period - 1;
  }
  std::vector<int> windows(n_layer, 0);
  for (int il = 0; il < n_layer; ++il) windows[il] = local[il] ? window : 0;
  return windows;
}

Result<float> read_softcap(const gguf::File& f, const std::string& key, float def) {
  auto cap = f.get_float_or(key, def);
  if (!cap) return cap.error();
  if (!(*cap >= 0 && std::isfinite(*cap)))
    return make_error("model: %s = %g is out of range", key.c_str(), *cap);
  return static_cast<float>(*cap);
}

float gemma_attention_scale(const HParams& hp, int n_layer_27b) {
  // Integer division, as in Google's config (4608 / 32 = 144, 5376 / 32 = 168).
  const int scalar = hp.n_layer == n_layer_27b ? hp.n_embd / hp.n_head : hp.head_dim;
  return 1.0f / std::sqrt(static_cast<float>(scalar));
}

}  // namespace minnow::models

// The llama architecture as GGUF files describe it: Llama 2/3.x, SmolLM2, TinyLlama, Mistral 7B.
// Pre-norm decoder blocks: RMSNorm -> GQA attention with RoPE (adjacent-pair rotation, since
// GGUF conversion permutes q/k) -> residual -> RMSNorm -> SwiGLU FFN -> residual. A Mistral-style
// file with llama.attention.sliding_window attends over that window in every layer.
#include <algorithm>
#include <cmath>
#include <vector>

#include "gguf/gguf.h"
#include "kernels/kernel_table.h"
#include "models/loader.h"
#include "models/registry.h"

namespace minnow::models {
namespace {

struct Layer {
  std::vector<float> attn_norm;  // [n_embd]
  nn::Weight wq, wk, wv, wo;     // [n_head*head_dim][n_embd], [n_kv_dim][n_embd] x2, [n_embd][n_head*head_dim]
  std::vector<float> ffn_norm;   // [n_embd]
  nn::Weight w_gate, w_up, w_down;  // [n_ff][n_embd] x2, [n_embd][n_ff]
};

class Llama final : public Model {
 public:
  Status load(const gguf::File& f) {
    auto hp = read_common_hparams(f, "llama");
    if (!hp) return hp.error();
    hp_ = *hp;
    hp_.rope.type = nn::RopeType::kNorm;
    auto window = read_int_or(f, "llama.attention.sliding_window", 0, 0, int64_t{1} << 24);
    if (!window) return window.error();
    if (*window > 0) hp_.layer_window.assign(hp_.n_layer, *window);
    const int E = hp_.n_embd, V = hp_.n_vocab, F = hp_.n_ff;
    const int q_dim = hp_.n_head * hp_.head_dim, kv_dim = hp_.n_head_kv * hp_.head_dim;

    WeightLoader w(f);
#define MINNOW_LOAD(dst, expr) \
  do {                         \
    auto r_ = (expr);          \
    if (!r_) return r_.error(); \
    dst = std::move(*r_);      \
  } while (0)
    MINNOW_LOAD(tok_embd_, w.matrix("token_embd.weight", E, V));
    MINNOW_LOAD(output_norm_, w.vector("output_norm.weight", E));
    MINNOW_LOAD(output_, w.optional_matrix("output.weight", E, V));
    if (!output_.data) output_ = tok_embd_;  // tied embeddings
    if (w.has("rope_freqs.weight")) MINNOW_LOAD(rope_freqs_, w.vector("rope_freqs.weight", hp_.rope.n_rot / 2));
    layers_.resize(hp_.n_layer);
    for (int i = 0; i < hp_.n_layer; ++i) {
      Layer& l = layers_[i];
      MINNOW_LOAD(l.attn_norm, w.vector(layer_tensor(i, "attn_norm.weight"), E));
      MINNOW_LOAD(l.wq, w.matrix(layer_tensor(i, "attn_q.weight"), E, q_dim));
      MINNOW_LOAD(l.wk, w.matrix(layer_tensor(i, "attn_k.weight"), E, kv_dim));
      MINNOW_LOAD(l.wv, w.matrix(layer_tensor(i, "attn_v.weight"), E, kv_dim));
      MINNOW_LOAD(l.wo, w.matrix(layer_tensor(i, "attn_output.weight"), q_dim, E));
      MINNOW_LOAD(l.ffn_norm, w.vector(layer_tensor(i, "ffn_norm.weight"), E));
      MINNOW_LOAD(l.w_gate, w.matrix(layer_tensor(i, "ffn_gate.weight"), E, F));
      MINNOW_LOAD(l.w_up, w.matrix(layer_tensor(i, "ffn_up.weight"), E, F));
      MINNOW_LOAD(l.w_down, w.matrix(layer_tensor(i, "ffn_down.weight"), F, E));
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

  Status forward(const nn::Compute& c, const int32_t* tokens, const int32_t* positions, int64_t n_tokens,
                 KvCache& cache, bool all_logits, float* logits) const override {
    const int E = hp_.n_embd, F = hp_.n_ff, hd = hp_.head_dim;
    const int q_dim = hp_.n_head * hd, kv_dim = hp_.n_head_kv * hd;
    MINNOW_CHECK_OK(check_batch(hp_, cache, tokens, positions, n_tokens));
    std::vector<float> x(n_tokens * E);       // [n_tokens][n_embd] residual stream
    std::vector<float> h(n_tokens * E);       // [n_tokens][n_embd] normed input of a block
    std::vector<float> q(n_tokens * q_dim);   // [n_tokens][n_head][head_dim]
    std::vector<float> k(n_tokens * kv_dim);  // [n_tokens][n_head_kv][head_dim]
    std::vector<float> v(n_tokens * kv_dim);  // [n_tokens][n_head_kv][head_dim]
    std::vector<float> att(n_tokens * q_dim);  // [n_tokens][n_head][head_dim]
    std::vector<float> gate(n_tokens * F);    // [n_tokens][n_ff]
    std::vector<float> up(n_tokens * F);      // [n_tokens][n_ff]

    const size_t embd_row = *row_bytes(tok_embd_.type, E);
    for (int64_t t = 0; t < n_tokens; ++t) {
      const auto* row = static_cast<const uint8_t*>(tok_embd_.data) + embd_row * tokens[t];
      c.kt.to_float[static_cast<int>(tok_embd_.type)](row, x.data() + t * E, E);
    }

    nn::RopeParams rope = hp_.rope;
    rope.freq_factors = rope_freqs_.empty() ? nullptr : rope_freqs_.data();
    nn::AttentionParams ap{hp_.n_head, hp_.n_head_kv, hd, 1.0f / std::sqrt(static_cast<float>(hd))};

    for (int il = 0; il < hp_.n_layer; ++il) {
      const Layer& l = layers_[il];
      nn::rms_norm(x.data(), l.attn_norm.data(), E, n_tokens, hp_.rms_eps, h.data());
      c.emit("attn_norm", il, h.data(), n_tokens * E);
      nn::linear(c, l.wq, h.data(), n_tokens, q.data());
      nn::linear(c, l.wk, h.data(), n_tokens, k.data());
      nn::linear(c, l.wv, h.data(), n_tokens, v.data());
      nn::rope(rope, q.data(), n_tokens, hp_.n_head, hd, positions);
      nn::rope(rope, k.data(), n_tokens, hp_.n_head_kv, hd, positions);
      c.emit("q", il, q.data(), n_tokens * q_dim);
      c.emit("k", il, k.data(), n_tokens * kv_dim);
      c.emit("v", il, v.data(), n_tokens * kv_dim);
      ap.window = hp_.layer_window.empty() ? 0 : hp_.layer_window[il];
      nn::self_attention(c, ap, cache, il, k.data(), v.data(), q.data(), n_tokens, positions, att.data());
      c.emit("attn", il, att.data(), n_tokens * q_dim);
      nn::linear(c, l.wo, att.data(), n_tokens, h.data());
      nn::add_inplace(x.data(), h.data(), n_tokens * E);

      c.emit("attn_out", il, x.data(), n_tokens * E);
      nn::rms_norm(x.data(), l.ffn_norm.data(), E, n_tokens, hp_.rms_eps, h.data());
      nn::linear(c, l.w_gate, h.data(), n_tokens, gate.data());
      nn::linear(c, l.w_up, h.data(), n_tokens, up.data());
      nn::swiglu_inplace(gate.data(), up.data(), n_tokens * F);
      c.emit("ffn_act", il, gate.data(), n_tokens * F);
      nn::linear(c, l.w_down, gate.data(), n_tokens, h.data());
      nn::add_inplace(x.data(), h.data(), n_tokens * E);
      c.emit("ffn_out", il, x.data(), n_tokens * E);
    }

    // Only the rows whose logits are wanted go through the (large) output matrix.
    const int64_t first = all_logits ? 0 : n_tokens - 1;
    const int64_t n_out = n_tokens - first;
    nn::rms_norm(x.data() + first * E, output_norm_.data(), E, n_out, hp_.rms_eps, h.data());
    nn::linear(c, output_, h.data(), n_out, logits);
    cache.set_n_past(std::max(cache.n_past(), positions[n_tokens - 1] + 1));
    return Status();
  }

 private:
  nn::Weight tok_embd_;               // [n_vocab][n_embd]
  nn::Weight output_;                 // [n_vocab][n_embd], or tok_embd_ when tied
  std::vector<float> output_norm_;    // [n_embd]
  std::vector<float> rope_freqs_;     // [n_rot/2] Llama 3 frequency divisors, or empty
  std::vector<Layer> layers_;
};

}  // namespace

Result<std::unique_ptr<Model>> load_llama(const gguf::File& f) {
  auto m = std::make_unique<Llama>();
  MINNOW_CHECK_OK(m->load(f));
  return std::unique_ptr<Model>(std::move(m));
}

}  // namespace minnow::models

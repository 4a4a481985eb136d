// The llama architecture as GGUF files describe it: Llama 2/3.x, SmolLM2, TinyLlama, Mistral 7B.
// The shared decoder stack (decoder.h) with adjacent-pair RoPE (GGUF conversion permutes q/k),
// Llama 3's rope_freqs divisors where present, and Mistral's sliding window on every layer when
// llama.attention.sliding_window is set.
#include "gguf/gguf.h"
#include "models/decoder.h"
#include "models/registry.h"

namespace minnow::models {
namespace {

class Llama final : public Decoder {
 public:
  Status load(const gguf::File& f) {
    auto hp = read_common_hparams(f, "llama");
    if (!hp) return hp.error();
    hp_ = *hp;
    hp_.rope.type = nn::RopeType::kNorm;
    auto window = read_int_or(f, "llama.attention.sliding_window", 0, 0, int64_t{1} << 24);
    if (!window) return window.error();
    if (*window > 0) hp_.layer_window.assign(hp_.n_layer, *window);
    const int E = hp_.n_embd, F = hp_.n_ff;
    const int q_dim = hp_.n_head * hp_.head_dim, kv_dim = hp_.n_head_kv * hp_.head_dim;

    WeightLoader w(f);
    MINNOW_CHECK_OK(load_embeddings(w));
    if (w.has("rope_freqs.weight")) {
      MINNOW_ASSIGN_OR_RETURN(rope_factors_, w.vector("rope_freqs.weight", hp_.rope.n_rot / 2));
    }
    layers_.resize(hp_.n_layer);
    for (int i = 0; i < hp_.n_layer; ++i) {
      DecoderLayer& l = layers_[i];
      MINNOW_ASSIGN_OR_RETURN(l.attn_norm, w.vector(layer_tensor(i, "attn_norm.weight"), E));
      MINNOW_ASSIGN_OR_RETURN(l.wq, w.matrix(layer_tensor(i, "attn_q.weight"), E, q_dim));
      MINNOW_ASSIGN_OR_RETURN(l.wk, w.matrix(layer_tensor(i, "attn_k.weight"), E, kv_dim));
      MINNOW_ASSIGN_OR_RETURN(l.wv, w.matrix(layer_tensor(i, "attn_v.weight"), E, kv_dim));
      MINNOW_ASSIGN_OR_RETURN(l.wo, w.matrix(layer_tensor(i, "attn_output.weight"), q_dim, E));
      MINNOW_ASSIGN_OR_RETURN(l.ffn_norm, w.vector(layer_tensor(i, "ffn_norm.weight"), E));
      MINNOW_ASSIGN_OR_RETURN(l.w_gate, w.matrix(layer_tensor(i, "ffn_gate.weight"), E, F));
      MINNOW_ASSIGN_OR_RETURN(l.w_up, w.matrix(layer_tensor(i, "ffn_up.weight"), E, F));
      MINNOW_ASSIGN_OR_RETURN(l.w_down, w.matrix(layer_tensor(i, "ffn_down.weight"), F, E));
    }
    finish_load(w);
    return Status();
  }
};

}  // namespace

Result<std::unique_ptr<Model>> load_llama(const gguf::File& f) {
  auto m = std::make_unique<Llama>();
  MINNOW_CHECK_OK(m->load(f));
  return std::unique_ptr<Model>(std::move(m));
}

}  // namespace minnow::models

// The qwen2 architecture as llama.cpp's conversion writes it: Qwen 2 and Qwen 2.5 (dense).
// The llama block with biases on the q, k and v projections, and NEOX RoPE (rotating dims i and
// i + n_rot/2: the conversion keeps Hugging Face's q/k row order). output.weight is absent
// when embeddings are tied (the small Qwen 2.5 models).
#include "gguf/gguf.h"
#include "models/decoder.h"
#include "models/registry.h"

namespace minnow::models {
namespace {

class Qwen2 final : public Decoder {
 public:
  Status load(const gguf::File& f) {
    auto hp = read_common_hparams(f, "qwen2");
    if (!hp) return hp.error();
    hp_ = *hp;
    hp_.rope.type = nn::RopeType::kNeox;
    const int E = hp_.n_embd, F = hp_.n_ff;
    const int q_dim = hp_.n_head * hp_.head_dim, kv_dim = hp_.n_head_kv * hp_.head_dim;

    WeightLoader w(f);
    MINNOW_CHECK_OK(load_embeddings(w));
    layers_.resize(hp_.n_layer);
    for (int i = 0; i < hp_.n_layer; ++i) {
      DecoderLayer& l = layers_[i];
      MINNOW_ASSIGN_OR_RETURN(l.attn_norm, w.vector(layer_tensor(i, "attn_norm.weight"), E));
      MINNOW_ASSIGN_OR_RETURN(l.wq, w.matrix(layer_tensor(i, "attn_q.weight"), E, q_dim));
      MINNOW_ASSIGN_OR_RETURN(l.wk, w.matrix(layer_tensor(i, "attn_k.weight"), E, kv_dim));
      MINNOW_ASSIGN_OR_RETURN(l.wv, w.matrix(layer_tensor(i, "attn_v.weight"), E, kv_dim));
      MINNOW_ASSIGN_OR_RETURN(l.bq, w.vector(layer_tensor(i, "attn_q.bias"), q_dim));
      MINNOW_ASSIGN_OR_RETURN(l.bk, w.vector(layer_tensor(i, "attn_k.bias"), kv_dim));
      MINNOW_ASSIGN_OR_RETURN(l.bv, w.vector(layer_tensor(i, "attn_v.bias"), kv_dim));
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

Result<std::unique_ptr<Model>> load_qwen2(const gguf::File& f) {
  auto m = std::make_unique<Qwen2>();
  MINNOW_CHECK_OK(m->load(f));
  return std::unique_ptr<Model>(std::move(m));
}

}  // namespace minnow::models

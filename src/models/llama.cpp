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
    WeightLoader w(f);
    MINNOW_CHECK_OK(load_embeddings(w));
    if (w.has("rope_freqs.weight")) {
      MINNOW_ASSIGN_OR_RETURN(rope_factors_, w.vector("rope_freqs.weight", hp_.rope.n_rot / 2));
    }
    layers_.resize(hp_.n_layer);
    for (int i = 0; i < hp_.n_layer; ++i) MINNOW_CHECK_OK(load_layer(w, i, /*biases=*/false));
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

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
    WeightLoader w(f);
    MINNOW_CHECK_OK(load_embeddings(w));
    layers_.resize(hp_.n_layer);
    for (int i = 0; i < hp_.n_layer; ++i) MINNOW_CHECK_OK(load_layer(w, i, /*biases=*/true));
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

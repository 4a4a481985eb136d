// The gemma3 architecture (Gemma 3 text models): the shared Gemma block (gemma.h) with per-head
// QK RMSNorm, five sliding-window layers to each global one, and RoPE base 10000 (unscaled) on the
// local layers while the global ones take gemma3.rope.freq_base and the file's rope scaling.
#include "gguf/gguf.h"
#include "models/gemma.h"
#include "models/loader.h"
#include "models/registry.h"

namespace minnow::models {

Result<std::unique_ptr<Model>> load_gemma3(const gguf::File& f) {
  auto hp = read_common_hparams(f, "gemma3");
  if (!hp) return hp.error();
  GemmaConfig cfg;
  cfg.hp = *hp;
  cfg.hp.rope.type = nn::RopeType::kNeox;
  cfg.rope_local = cfg.hp.rope;
  cfg.rope_local.freq_base = 10000.0f;  // fixed by the architecture, not in the metadata
  cfg.rope_local.freq_scale = 1.0f;
  cfg.qk_norm = true;
  // Without a window every layer is global, as in the reference.
  auto window = read_int_or(f, "gemma3.attention.sliding_window", 0, 0, int64_t{1} << 24);
  if (!window) return window.error();
  if (*window > 0) {
    auto windows =
        read_layer_windows(f, "gemma3.attention.sliding_window_pattern", cfg.hp.n_layer, *window, 6);
    if (!windows) return windows.error();
    cfg.hp.layer_window = std::move(*windows);
  }
  auto final_cap = read_softcap(f, "gemma3.final_logit_softcapping", 0.0f);
  if (!final_cap) return final_cap.error();
  cfg.final_softcap = *final_cap;
  cfg.attn_scale = gemma_attention_scale(cfg.hp, /*n_layer_27b=*/62);
  return load_gemma(f, cfg);
}

}  // namespace minnow::models

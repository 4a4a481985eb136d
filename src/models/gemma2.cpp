// The gemma2 architecture (Gemma 2): the shared Gemma block (gemma.h) with soft-capped attention
// scores and logits, and a sliding window on every other layer (even layers local, odd global).
#include "gguf/gguf.h"
#include "models/gemma.h"
#include "models/loader.h"
#include "models/registry.h"

namespace minnow::models {

Result<std::unique_ptr<Model>> load_gemma2(const gguf::File& f) {
  auto hp = read_common_hparams(f, "gemma2");
  if (!hp) return hp.error();
  GemmaConfig cfg;
  cfg.hp = *hp;
  cfg.hp.rope.type = nn::RopeType::kNeox;
  cfg.rope_local = cfg.hp.rope;  // one RoPE base for both kinds of layer
  // Absent keys take the released models' values, as the reference does: a 4096-token window,
  // attention scores capped at 50 and logits at 30.
  auto window = read_int_or(f, "gemma2.attention.sliding_window", 4096, 0, int64_t{1} << 24);
  if (!window) return window.error();
  if (*window > 0) {
    auto windows =
        read_layer_windows(f, "gemma2.attention.sliding_window_pattern", cfg.hp.n_layer, *window, 2);
    if (!windows) return windows.error();
    cfg.hp.layer_window = std::move(*windows);
  }
  auto attn_cap = read_softcap(f, "gemma2.attn_logit_softcapping", 50.0f);
  if (!attn_cap) return attn_cap.error();
  auto final_cap = read_softcap(f, "gemma2.final_logit_softcapping", 30.0f);
  if (!final_cap) return final_cap.error();
  cfg.attn_softcap = *attn_cap;
  cfg.final_softcap = *final_cap;
  cfg.attn_scale = gemma_attention_scale(cfg.hp, /*n_layer_27b=*/46);
  return load_gemma(f, cfg);
}

}  // namespace minnow::models

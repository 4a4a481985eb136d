// The decoder block Gemma 2 and Gemma 3 share, configured by their architecture files
// (gemma2.cpp, gemma3.cpp), which read the metadata. Not an architecture of its own.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "models/model.h"

namespace minnow::models {

struct GemmaConfig {
  HParams hp;                  // hp.rope: the global layers' RoPE; hp.layer_window: local layers
  nn::RopeParams rope_local;   // the sliding-window layers' RoPE
  bool qk_norm = false;        // RMSNorm of each q and k head (Gemma 3's attn_q_norm, attn_k_norm)
  float attn_scale = 1.0f;     // 1 / sqrt(query_pre_attn_scalar)
  float attn_softcap = 0.0f;   // > 0: attention scores soft-capped (Gemma 2)
  float final_softcap = 0.0f;  // > 0: logits soft-capped
};

// Loads the weights and returns the model. The file must outlive it.
Result<std::unique_ptr<Model>> load_gemma(const gguf::File& f, const GemmaConfig& cfg);

// Per-layer windows as the reference interleaves them: with period P, layer il is global when
// il % P == P - 1 and local (window) otherwise; P == 0 makes every layer local. A per-layer
// array in `key` (true = local), or an integer period there, overrides default_period.
Result<std::vector<int>> read_layer_windows(const gguf::File& f, const std::string& key, int n_layer,
                                            int window, int default_period);

// An optional soft-capping value: def when absent, 0 disables, else positive and finite.
Result<float> read_softcap(const gguf::File& f, const std::string& key, float def);

// 1 / sqrt(query_pre_attn_scalar). GGUF does not carry the scalar: Google's configs use the head
// size except for the 27B models (n_embd / n_head there), which the reference recognizes by
// their layer count; so do we.
float gemma_attention_scale(const HParams& hp, int n_layer_27b);

}  // namespace minnow::models

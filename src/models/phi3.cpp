// The phi3 architecture as llama.cpp's conversion writes it: Phi-3 mini/medium, Phi-3.5 mini,
// Phi-4 and Phi-4-mini. The llama block with q, k, v fused into attn_qkv and gate, up fused into
// ffn_up (read in place as views of their rows), NEOX RoPE over the leading
// rope.dimension_count dims of each head, and LongRoPE where the file has its factors.
// phi3.attention.sliding_window is not applied: the reference disables it for phi3 too.
#include <cmath>
#include <initializer_list>
#include <string>
#include <utility>

#include "gguf/gguf.h"
#include "models/decoder.h"
#include "models/registry.h"

namespace minnow::models {
namespace {

// A matrix whose rows stack several projections, as views of each part in row order. A shape
// error spells out how the expected rows add up.
Result<std::vector<nn::Weight>> fused_matrix(WeightLoader& w, const std::string& name, int64_t n_in,
                                             std::initializer_list<std::pair<const char*, int64_t>> parts) {
  int64_t n_out = 0;
  std::string sum;
  for (const auto& [part, rows] : parts) {
    n_out += rows;
    sum += (sum.empty() ? "" : " + ") + std::string(part) + " " + std::to_string(rows);
  }
  auto m = w.matrix(name, n_in, n_out);
  if (!m) return Error{m.error().message + " (rows of " + sum + " fused)"};
  const size_t rb = *row_bytes(m->type, n_in);
  std::vector<nn::Weight> out;
  const auto* data = static_cast<const uint8_t*>(m->data);
  for (const auto& [part, rows] : parts) {
    out.push_back(nn::Weight{m->type, data, n_in, rows});
    data += rb * static_cast<size_t>(rows);
  }
  return out;
}

class Phi3 final : public Decoder {
 public:
  Status load(const gguf::File& f) {
    auto hp = read_common_hparams(f, "phi3");
    if (!hp) return hp.error();
    hp_ = *hp;
    hp_.rope.type = nn::RopeType::kNeox;
    MINNOW_CHECK_OK(load_long_rope(f));
    const int E = hp_.n_embd, F = hp_.n_ff;
    const int q_dim = hp_.n_head * hp_.head_dim, kv_dim = hp_.n_head_kv * hp_.head_dim;

    WeightLoader w(f);
    MINNOW_CHECK_OK(load_embeddings(w));
    if (w.has("rope_factors_long.weight") || w.has("rope_factors_short.weight")) {
      // Both or neither: with one alone, some context lengths would silently run unscaled.
      const int n = hp_.rope.n_rot / 2;
      MINNOW_ASSIGN_OR_RETURN(rope_factors_, w.vector("rope_factors_short.weight", n));
      MINNOW_ASSIGN_OR_RETURN(rope_factors_long_, w.vector("rope_factors_long.weight", n));
    }
    layers_.resize(hp_.n_layer);
    for (int i = 0; i < hp_.n_layer; ++i) {
      DecoderLayer& l = layers_[i];
      MINNOW_ASSIGN_OR_RETURN(l.attn_norm, w.vector(layer_tensor(i, "attn_norm.weight"), E));
      std::vector<nn::Weight> qkv, gate_up;
      MINNOW_ASSIGN_OR_RETURN(qkv, fused_matrix(w, layer_tensor(i, "attn_qkv.weight"), E,
                                                {{"q", q_dim}, {"k", kv_dim}, {"v", kv_dim}}));
      l.wq = qkv[0], l.wk = qkv[1], l.wv = qkv[2];
      MINNOW_ASSIGN_OR_RETURN(l.wo, w.matrix(layer_tensor(i, "attn_output.weight"), q_dim, E));
      MINNOW_ASSIGN_OR_RETURN(l.ffn_norm, w.vector(layer_tensor(i, "ffn_norm.weight"), E));
      MINNOW_ASSIGN_OR_RETURN(gate_up,
                              fused_matrix(w, layer_tensor(i, "ffn_up.weight"), E, {{"gate", F}, {"up", F}}));
      l.w_gate = gate_up[0], l.w_up = gate_up[1];
      MINNOW_ASSIGN_OR_RETURN(l.w_down, w.matrix(layer_tensor(i, "ffn_down.weight"), F, E));
    }
    finish_load(w);
    return Status();
  }

 private:
  // LongRoPE's metadata: the context the short factors were trained for (the long factors take
  // over beyond it) and the attention factor the conversion computed from the two contexts.
  Status load_long_rope(const gguf::File& f) {
    auto orig = f.get_int_or("phi3.rope.scaling.original_context_length", hp_.n_ctx_train);
    if (!orig) return orig.error();
    if (*orig < 1 || *orig > (int64_t{1} << 24)) {
      return make_error("model: phi3.rope.scaling.original_context_length = %lld is out of range",
                        static_cast<long long>(*orig));
    }
    rope_long_after_ = static_cast<int>(*orig);
    auto factor = f.get_float_or("phi3.rope.scaling.attn_factor", 1.0);
    if (!factor) return factor.error();
    if (!(*factor > 0 && *factor < 16)) {
      return make_error("model: phi3.rope.scaling.attn_factor = %g is out of range (0, 16)", *factor);
    }
    hp_.rope.attn_factor = static_cast<float>(*factor);
    return Status();
  }
};

}  // namespace

Result<std::unique_ptr<Model>> load_phi3(const gguf::File& f) {
  auto m = std::make_unique<Phi3>();
  MINNOW_CHECK_OK(m->load(f));
  return std::unique_ptr<Model>(std::move(m));
}

}  // namespace minnow::models

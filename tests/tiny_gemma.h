// Builds tiny random-weight gemma2 / gemma3 GGUF files with the project's own writer, for the
// model tests: the tensor layout of the real files (QK-norm on gemma3, post-attention and
// post-FFN norms), the sliding-window metadata, and switches to leave a tensor out or misshape it.
#pragma once

#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "tensor/dtype.h"
#include "tensor/quants.h"
#include "tiny_model.h"

namespace minnow::test {

struct TinyGemmaSpec {
  std::string arch = "gemma3";  // or "gemma2"
  int n_embd = 64;              // multiple of 256 for k-quant weights, of 32 for the others
  int n_layer = 6;
  int n_head = 4;
  int n_head_kv = 2;
  int head_dim = 32;  // attention.key_length; deliberately not n_embd / n_head
  int n_ff = 128;
  int n_ctx = 256;
  int window = 8;                      // attention.sliding_window; 0: the key is absent
  int pattern = -1;                    // attention.sliding_window_pattern (a period) when >= 0
  std::vector<int32_t> pattern_array;  // attention.sliding_window_pattern per layer when not empty
  float attn_softcap = -1;             // attn_logit_softcapping when >= 0 (gemma2)
  float final_softcap = -1;            // final_logit_softcapping when >= 0
  float rope_base = 10000.0f;          // rope.freq_base
  float rope_linear = 0;               // rope.scaling.type linear with this factor when > 0
  DType wtype = DType::F32;            // type of the matrices
  bool tied = true;                    // no output.weight, as the released models
  std::string drop;                    // a tensor to leave out
  std::string misshape;                // a tensor written one element (vector) or one row (matrix) too large
  uint64_t seed = 1;
};

inline std::vector<uint8_t> make_tiny_gemma(const TinyGemmaSpec& s) {
  const std::vector<std::string> vocab = tiny_vocab();
  const int n_vocab = static_cast<int>(vocab.size());
  gguf::Writer w;
  const std::string a = s.arch + ".";
  w.set_string("general.architecture", s.arch);
  w.set_string("general.name", "tiny-gemma-test");
  w.set_u32(a + "context_length", static_cast<uint32_t>(s.n_ctx));
  w.set_u32(a + "embedding_length", static_cast<uint32_t>(s.n_embd));
  w.set_u32(a + "block_count", static_cast<uint32_t>(s.n_layer));
  w.set_u32(a + "feed_forward_length", static_cast<uint32_t>(s.n_ff));
  w.set_u32(a + "attention.head_count", static_cast<uint32_t>(s.n_head));
  w.set_u32(a + "attention.head_count_kv", static_cast<uint32_t>(s.n_head_kv));
  w.set_u32(a + "attention.key_length", static_cast<uint32_t>(s.head_dim));
  w.set_u32(a + "attention.value_length", static_cast<uint32_t>(s.head_dim));
  w.set_f32(a + "attention.layer_norm_rms_epsilon", 1e-6f);
  w.set_f32(a + "rope.freq_base", s.rope_base);
  w.set_u32(a + "rope.dimension_count", static_cast<uint32_t>(s.head_dim));
  if (s.rope_linear > 0) {
    w.set_string(a + "rope.scaling.type", "linear");
    w.set_f32(a + "rope.scaling.factor", s.rope_linear);
  }
  if (s.window > 0) w.set_u32(a + "attention.sliding_window", static_cast<uint32_t>(s.window));
  if (s.pattern >= 0) w.set_u32(a + "attention.sliding_window_pattern", static_cast<uint32_t>(s.pattern));
  if (!s.pattern_array.empty()) w.set_array_i32(a + "attention.sliding_window_pattern", s.pattern_array);
  if (s.attn_softcap >= 0) w.set_f32(a + "attn_logit_softcapping", s.attn_softcap);
  if (s.final_softcap >= 0) w.set_f32(a + "final_logit_softcapping", s.final_softcap);
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_array_string("tokenizer.ggml.tokens", vocab);
  std::vector<float> scores(n_vocab);
  std::vector<int32_t> types(n_vocab, 1);
  types[0] = 2;
  types[1] = types[2] = 3;
  for (int i = 3; i < 259; ++i) types[i] = 6;
  for (int i = 0; i < n_vocab; ++i) scores[i] = i < 259 ? 0.0f : -static_cast<float>(i);
  w.set_array_f32("tokenizer.ggml.scores", scores);
  w.set_array_i32("tokenizer.ggml.token_type", types);
  w.set_u32("tokenizer.ggml.bos_token_id", 1);
  w.set_u32("tokenizer.ggml.eos_token_id", 2);

  // Weights ~ N(0, 1/fan_in), embeddings ~ N(0, 1), norms near 1 (the +1 of Gemma's norms is
  // folded into GGUF files, so stored norm weights are near 1 as here).
  std::mt19937_64 rng(s.seed);
  auto add = [&](const std::string& name, int64_t n_in, int64_t n_out, bool matrix) {
    if (name == s.drop) return;
    if (name == s.misshape) (matrix ? n_out : n_in) += 1;
    std::normal_distribution<float> nd(0.0f, matrix ? 1.0f / std::sqrt(static_cast<float>(n_in)) : 0.1f);
    std::vector<float> vals(static_cast<size_t>(n_in * n_out));
    for (float& v : vals) v = matrix ? nd(rng) : 1.0f + nd(rng);
    if (name == "token_embd.weight") {
      for (float& v : vals) v *= std::sqrt(static_cast<float>(n_in));
    }
    const DType t = matrix ? s.wtype : DType::F32;
    const size_t rb = *row_bytes(t, n_in);
    std::vector<uint8_t> data(rb * n_out);
    for (int64_t r = 0; r < n_out; ++r) quantize_row(t, vals.data() + r * n_in, data.data() + r * rb, n_in);
    std::vector<int64_t> ne = matrix ? std::vector<int64_t>{n_in, n_out} : std::vector<int64_t>{n_in};
    if (!w.add_tensor(name, t, ne, std::move(data)).ok()) std::abort();  // a bug in the test itself
  };
  const int q_dim = s.n_head * s.head_dim, kv_dim = s.n_head_kv * s.head_dim;
  add("token_embd.weight", s.n_embd, n_vocab, true);
  for (int i = 0; i < s.n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    add(p + "attn_norm.weight", s.n_embd, 1, false);
    add(p + "attn_q.weight", s.n_embd, q_dim, true);
    add(p + "attn_k.weight", s.n_embd, kv_dim, true);
    add(p + "attn_v.weight", s.n_embd, kv_dim, true);
    if (s.arch == "gemma3") {
      add(p + "attn_q_norm.weight", s.head_dim, 1, false);
      add(p + "attn_k_norm.weight", s.head_dim, 1, false);
    }
    add(p + "attn_output.weight", q_dim, s.n_embd, true);
    add(p + "post_attention_norm.weight", s.n_embd, 1, false);
    add(p + "ffn_norm.weight", s.n_embd, 1, false);
    add(p + "ffn_gate.weight", s.n_embd, s.n_ff, true);
    add(p + "ffn_up.weight", s.n_embd, s.n_ff, true);
    add(p + "ffn_down.weight", s.n_ff, s.n_embd, true);
    add(p + "post_ffw_norm.weight", s.n_embd, 1, false);
  }
  add("output_norm.weight", s.n_embd, 1, false);
  if (!s.tied) add("output.weight", s.n_embd, n_vocab, true);
  return w.to_bytes();
}

}  // namespace minnow::test

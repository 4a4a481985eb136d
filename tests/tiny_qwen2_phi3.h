// Builds tiny random-weight qwen2 and phi3 GGUF files with the project's own writer, in the
// tensor layout llama.cpp's conversion gives each (qwen2: separate q/k/v with biases; phi3:
// attn_qkv and gate+up fused in ffn_up). The matrices are drawn in the same order for both
// architectures, so a phi3 file and a qwen2 file with zero biases hold the very same weights.
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

struct TinyArchSpec {
  std::string arch = "qwen2";  // "qwen2" or "phi3"
  int n_embd = 64;             // multiple of 256 for k-quant weights, of 32 for the others
  int n_layer = 2;
  int n_head = 4;
  int n_head_kv = 2;
  int n_ff = 128;
  int n_ctx = 256;
  int n_rot = 0;           // rope.dimension_count; 0: head_dim
  float rope_base = 0.0f;  // rope.freq_base; 0: the architecture's usual (qwen2 1e6, phi3 1e4)
  DType wtype = DType::F32;
  bool tied = false;  // no output.weight
  // qwen2: standard deviation of the q, k and v biases (0: all-zero biases).
  float q_bias = 0.5f, k_bias = 0.5f, v_bias = 0.5f;
  // phi3 LongRoPE: rope_factors_short/long.weight when not empty, and the metadata when > 0.
  std::vector<float> rope_short, rope_long;
  int n_ctx_orig = 0;
  float attn_factor = 0.0f;
  std::string drop;      // leave this tensor out
  std::string misshape;  // write this tensor with one extra row (or element)
  uint64_t seed = 1;
};

inline std::vector<uint8_t> make_tiny_arch(const TinyArchSpec& s) {
  const std::vector<std::string> vocab = tiny_vocab();
  const int n_vocab = static_cast<int>(vocab.size());
  const int head_dim = s.n_embd / s.n_head;
  const int q_dim = s.n_head * head_dim, kv_dim = s.n_head_kv * head_dim;
  gguf::Writer w;
  const std::string a = s.arch + ".";
  w.set_string("general.architecture", s.arch);
  w.set_string("general.name", "tiny-test");
  w.set_u32(a + "context_length", static_cast<uint32_t>(s.n_ctx));
  w.set_u32(a + "embedding_length", static_cast<uint32_t>(s.n_embd));
  w.set_u32(a + "block_count", static_cast<uint32_t>(s.n_layer));
  w.set_u32(a + "feed_forward_length", static_cast<uint32_t>(s.n_ff));
  w.set_u32(a + "attention.head_count", static_cast<uint32_t>(s.n_head));
  w.set_u32(a + "attention.head_count_kv", static_cast<uint32_t>(s.n_head_kv));
  w.set_f32(a + "attention.layer_norm_rms_epsilon", 1e-5f);
  w.set_f32(a + "rope.freq_base", s.rope_base > 0 ? s.rope_base : s.arch == "qwen2" ? 1000000.0f : 10000.0f);
  w.set_u32(a + "rope.dimension_count", static_cast<uint32_t>(s.n_rot ? s.n_rot : head_dim));
  if (s.n_ctx_orig > 0)
    w.set_u32(a + "rope.scaling.original_context_length", static_cast<uint32_t>(s.n_ctx_orig));
  if (s.attn_factor > 0) w.set_f32(a + "rope.scaling.attn_factor", s.attn_factor);
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

  std::mt19937_64 rng(s.seed);
  std::mt19937_64 bias_rng(s.seed + 1);  // its own stream: the matrices do not depend on the biases
  // Values of a [n_out][n_in] matrix ~ N(0, 1/n_in), embeddings ~ N(0, 1).
  auto matrix = [&](int64_t n_in, int64_t n_out, float std_dev) {
    std::normal_distribution<float> nd(0.0f, std_dev);
    std::vector<float> vals(static_cast<size_t>(n_in * n_out));
    for (float& v : vals) v = nd(rng);
    return vals;
  };
  auto proj = [&](int64_t n_in, int64_t n_out) {
    return matrix(n_in, n_out, 1.0f / std::sqrt(static_cast<float>(n_in)));
  };
  auto norm = [&](int64_t n) {
    std::vector<float> v = matrix(n, 1, 0.1f);
    for (float& x : v) x += 1.0f;
    return v;
  };
  auto bias = [&](int64_t n, float std_dev) {
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = std_dev * nd(bias_rng);
    return v;
  };
  // Writes vals as [n_out][n_in] of type t, or as a vector of n_in when n_out == 0.
  auto put = [&](const std::string& name, std::vector<float> vals, int64_t n_in, int64_t n_out, DType t) {
    if (name == s.drop) return;
    const bool is_vector = n_out == 0;
    int64_t rows = is_vector ? 1 : n_out;
    if (name == s.misshape) {  // one more row, or one more element of a vector
      is_vector ? ++n_in : ++rows;
      vals.resize(static_cast<size_t>(n_in * rows), 0.5f);
    }
    const size_t rb = *row_bytes(t, n_in);
    std::vector<uint8_t> data(rb * static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) quantize_row(t, vals.data() + r * n_in, data.data() + r * rb, n_in);
    const std::vector<int64_t> ne = is_vector ? std::vector<int64_t>{n_in} : std::vector<int64_t>{n_in, rows};
    if (!w.add_tensor(name, t, ne, std::move(data)).ok()) std::abort();  // a bug in the test itself
  };
  auto put_matrix = [&](const std::string& name, std::vector<float> vals, int64_t n_in, int64_t n_out) {
    put(name, std::move(vals), n_in, n_out, s.wtype);
  };
  auto put_vector = [&](const std::string& name, std::vector<float> vals) {
    const int64_t n = static_cast<int64_t>(vals.size());
    put(name, std::move(vals), n, 0, DType::F32);
  };
  auto concat = [](std::vector<float> x, const std::vector<float>& y, const std::vector<float>& z = {}) {
    x.insert(x.end(), y.begin(), y.end());
    x.insert(x.end(), z.begin(), z.end());
    return x;
  };

  put_matrix("token_embd.weight", matrix(s.n_embd, n_vocab, 1.0f), s.n_embd, n_vocab);
  for (int i = 0; i < s.n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    put_vector(p + "attn_norm.weight", norm(s.n_embd));
    std::vector<float> wq = proj(s.n_embd, q_dim), wk = proj(s.n_embd, kv_dim), wv = proj(s.n_embd, kv_dim);
    if (s.arch == "phi3") {
      put_matrix(p + "attn_qkv.weight", concat(wq, wk, wv), s.n_embd, q_dim + 2 * kv_dim);
    } else {
      put_matrix(p + "attn_q.weight", wq, s.n_embd, q_dim);
      put_matrix(p + "attn_k.weight", wk, s.n_embd, kv_dim);
      put_matrix(p + "attn_v.weight", wv, s.n_embd, kv_dim);
      put_vector(p + "attn_q.bias", bias(q_dim, s.q_bias));
      put_vector(p + "attn_k.bias", bias(kv_dim, s.k_bias));
      put_vector(p + "attn_v.bias", bias(kv_dim, s.v_bias));
    }
    put_matrix(p + "attn_output.weight", proj(q_dim, s.n_embd), q_dim, s.n_embd);
    put_vector(p + "ffn_norm.weight", norm(s.n_embd));
    std::vector<float> gate = proj(s.n_embd, s.n_ff), up = proj(s.n_embd, s.n_ff);
    if (s.arch == "phi3") {
      put_matrix(p + "ffn_up.weight", concat(gate, up), s.n_embd, 2 * s.n_ff);
    } else {
      put_matrix(p + "ffn_gate.weight", gate, s.n_embd, s.n_ff);
      put_matrix(p + "ffn_up.weight", up, s.n_embd, s.n_ff);
    }
    put_matrix(p + "ffn_down.weight", proj(s.n_ff, s.n_embd), s.n_ff, s.n_embd);
  }
  put_vector("output_norm.weight", norm(s.n_embd));
  if (!s.tied) put_matrix("output.weight", proj(s.n_embd, n_vocab), s.n_embd, n_vocab);
  if (!s.rope_short.empty()) put_vector("rope_factors_short.weight", s.rope_short);
  if (!s.rope_long.empty()) put_vector("rope_factors_long.weight", s.rope_long);
  return w.to_bytes();
}

}  // namespace minnow::test

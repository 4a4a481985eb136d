// Builds tiny random-weight llama-architecture GGUF files with the project's own writer, for
// model, engine and CLI tests. Weights ~ N(0, 1/fan_in), norms near 1, an SPM vocabulary of
// specials + the 256 byte tokens + a few pieces, so text round-trips.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "tensor/dtype.h"
#include "tensor/quants.h"

namespace minnow::test {

struct TinyLlamaSpec {
  std::string arch = "llama";
  int n_embd = 64;  // multiple of 256 for k-quant weights, of 32 for the others
  int n_layer = 2;
  int n_head = 4;
  int n_head_kv = 2;
  int n_ff = 128;
  int n_ctx = 256;
  DType wtype = DType::F32;       // type of the matrices
  uint32_t raw_type_id = UINT32_MAX;  // when set, the attn_q tensors claim this type id instead
  bool tied = false;              // no output.weight
  bool drop_output_norm = false;  // leave a required tensor out
  std::vector<float> rope_freqs;  // Llama 3 rope_freqs.weight ([head_dim / 2]) when not empty
  std::string chat_template;      // tokenizer.chat_template when not empty
  std::vector<std::string> control_tokens;  // appended to the vocabulary as control tokens
  std::vector<int32_t> zero_output_rows;    // output.weight rows set to 0: logit 0, never a greedy pick
  uint64_t seed = 1;
  int sliding_window = 0;  // llama.attention.sliding_window (Mistral) when > 0
  int pooling_type = -1;   // <arch>.pooling_type (embeddings: 1 mean, 2 cls, 3 last) when >= 0
};

inline std::vector<std::string> tiny_vocab() {
  std::vector<std::string> v = {"<unk>", "<s>", "</s>"};
  char buf[8];
  for (int b = 0; b < 256; ++b) {
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    v.push_back(buf);
  }
  const std::string sp = "\xe2\x96\x81";  // SentencePiece's visible space
  for (std::string p : {sp, sp + "t", sp + "a", std::string("he"), sp + "the", std::string("in"), std::string("er"),
                        std::string("on")}) {
    v.push_back(p);
  }
  for (char c = 'a'; c <= 'z'; ++c) v.push_back(std::string(1, c));
  return v;
}

inline std::vector<uint8_t> make_tiny_llama(const TinyLlamaSpec& s) {
  std::vector<std::string> vocab = tiny_vocab();
  const size_t n_plain = vocab.size();
  vocab.insert(vocab.end(), s.control_tokens.begin(), s.control_tokens.end());
  const int n_vocab = static_cast<int>(vocab.size());
  const int head_dim = s.n_embd / s.n_head;
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
  w.set_u32(a + "rope.dimension_count", static_cast<uint32_t>(head_dim));
  if (s.sliding_window > 0) w.set_u32(a + "attention.sliding_window", static_cast<uint32_t>(s.sliding_window));
  if (s.pooling_type >= 0) w.set_u32(a + "pooling_type", static_cast<uint32_t>(s.pooling_type));
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_array_string("tokenizer.ggml.tokens", vocab);
  std::vector<float> scores(n_vocab);
  std::vector<int32_t> types(n_vocab, 1);
  types[0] = 2;
  types[1] = types[2] = 3;
  for (int i = 3; i < 259; ++i) types[i] = 6;
  for (size_t i = n_plain; i < vocab.size(); ++i) types[i] = 3;
  if (!s.chat_template.empty()) w.set_string("tokenizer.chat_template", s.chat_template);
  for (int i = 0; i < n_vocab; ++i) scores[i] = i < 259 ? 0.0f : -static_cast<float>(i);
  w.set_array_f32("tokenizer.ggml.scores", scores);
  w.set_array_i32("tokenizer.ggml.token_type", types);
  w.set_u32("tokenizer.ggml.bos_token_id", 1);
  w.set_u32("tokenizer.ggml.eos_token_id", 2);

  std::mt19937_64 rng(s.seed);
  auto add = [&](const std::string& name, int64_t n_in, int64_t n_out, bool matrix) {
    std::normal_distribution<float> nd(0.0f, matrix ? 1.0f / std::sqrt(static_cast<float>(n_in)) : 0.1f);
    std::vector<float> vals(static_cast<size_t>(n_in * n_out));
    for (float& v : vals) v = matrix ? nd(rng) : 1.0f + nd(rng);
    if (name == "token_embd.weight") {
      for (float& v : vals) v *= std::sqrt(static_cast<float>(n_in));  // embeddings ~ N(0, 1)
    }
    if (name == "output.weight") {
      for (int32_t r : s.zero_output_rows) std::fill(vals.begin() + r * n_in, vals.begin() + (r + 1) * n_in, 0.0f);
    }
    const DType t = matrix ? s.wtype : DType::F32;
    const size_t rb = *row_bytes(t, n_in);
    std::vector<uint8_t> data(rb * n_out);
    for (int64_t r = 0; r < n_out; ++r) quantize_row(t, vals.data() + r * n_in, data.data() + r * rb, n_in);
    std::vector<int64_t> ne = matrix ? std::vector<int64_t>{n_in, n_out} : std::vector<int64_t>{n_in};
    DType claimed = t;
    if (s.raw_type_id != UINT32_MAX && name.find("attn_q") != std::string::npos) {
      claimed = static_cast<DType>(s.raw_type_id);
      data.resize(*row_bytes(claimed, n_in) * n_out);
    }
    auto st = w.add_tensor(name, claimed, ne, std::move(data));
    if (!st.ok()) std::abort();  // a bug in the test itself
  };
  const int q_dim = s.n_head * head_dim, kv_dim = s.n_head_kv * head_dim;
  add("token_embd.weight", s.n_embd, n_vocab, true);
  for (int i = 0; i < s.n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    add(p + "attn_norm.weight", s.n_embd, 1, false);
    add(p + "attn_q.weight", s.n_embd, q_dim, true);
    add(p + "attn_k.weight", s.n_embd, kv_dim, true);
    add(p + "attn_v.weight", s.n_embd, kv_dim, true);
    add(p + "attn_output.weight", q_dim, s.n_embd, true);
    add(p + "ffn_norm.weight", s.n_embd, 1, false);
    add(p + "ffn_gate.weight", s.n_embd, s.n_ff, true);
    add(p + "ffn_up.weight", s.n_embd, s.n_ff, true);
    add(p + "ffn_down.weight", s.n_ff, s.n_embd, true);
  }
  if (!s.drop_output_norm) add("output_norm.weight", s.n_embd, 1, false);
  if (!s.tied) add("output.weight", s.n_embd, n_vocab, true);
  if (!s.rope_freqs.empty()) {
    std::vector<uint8_t> data(s.rope_freqs.size() * sizeof(float));
    std::memcpy(data.data(), s.rope_freqs.data(), data.size());
    if (!w.add_tensor("rope_freqs.weight", DType::F32, {static_cast<int64_t>(s.rope_freqs.size())}, std::move(data)).ok()) {
      std::abort();
    }
  }
  return w.to_bytes();
}

}  // namespace minnow::test

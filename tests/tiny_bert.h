// Builds tiny random-weight BERT GGUF files (general.architecture "bert", tensors and keys as
// llama.cpp's converter writes them) with the project's own writer, for the model, engine and
// server tests. A WordPiece vocabulary in GGUF's spelling ("▁word" starts a word, "s" continues
// one) of the specials, a few words and the letters, or a real one from a vocabulary file. The
// f32 values of every tensor are kept for reference computations.
#pragma once

#include <cmath>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "tensor/dtype.h"
#include "tensor/quants.h"

namespace minnow::test {

struct TinyBertSpec {
  int n_embd = 64;  // a multiple of 32 for quantized weights
  int n_layer = 2;
  int n_head = 4;
  int n_ff = 96;
  int n_ctx = 48;            // bert.context_length: rows of position_embd
  int n_types = 2;           // rows of token_types (0: no token_types tensor, as DistilBERT)
  int pooling_type = 1;      // bert.pooling_type (1 mean, 2 cls, 3 last, ...); < 0: key absent
  bool causal = false;       // bert.attention.causal
  DType wtype = DType::F32;  // type of the matrices
  std::string drop_tensor;   // leave this tensor out
  bool drop_eps = false;     // leave bert.attention.layer_norm_epsilon out
  // The tokenizer.* keys (and so the vocabulary) of this file instead of the built-in vocabulary.
  const gguf::File* vocab = nullptr;
  uint64_t seed = 5;
};

// The f32 values of each tensor by name, as written before any quantization.
using TensorValues = std::map<std::string, std::vector<float>>;

inline std::vector<std::string> tiny_bert_vocab() {
  const std::string ws = "\xe2\x96\x81";  // U+2581: starts a word
  std::vector<std::string> v = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  for (const char* w : {"hello", "world", "the", "cat", "sat", "on", "mat", "dog", "ran", ".", ","})
    v.push_back(ws + w);
  for (char c = 'a'; c <= 'z'; ++c) v.push_back(ws + std::string(1, c));
  for (char c = 'a'; c <= 'z'; ++c) v.push_back(std::string(1, c));
  return v;
}

inline std::vector<uint8_t> make_tiny_bert(const TinyBertSpec& s, TensorValues* values = nullptr) {
  const std::vector<std::string> vocab = tiny_bert_vocab();
  int n_vocab = static_cast<int>(vocab.size());
  gguf::Writer w;
  w.set_string("general.architecture", "bert");
  w.set_string("general.name", "tiny-bert");
  w.set_u32("bert.context_length", static_cast<uint32_t>(s.n_ctx));
  w.set_u32("bert.embedding_length", static_cast<uint32_t>(s.n_embd));
  w.set_u32("bert.block_count", static_cast<uint32_t>(s.n_layer));
  w.set_u32("bert.feed_forward_length", static_cast<uint32_t>(s.n_ff));
  w.set_u32("bert.attention.head_count", static_cast<uint32_t>(s.n_head));
  if (!s.drop_eps) w.set_f32("bert.attention.layer_norm_epsilon", 1e-12f);
  w.set_bool("bert.attention.causal", s.causal);
  if (s.pooling_type >= 0) w.set_u32("bert.pooling_type", static_cast<uint32_t>(s.pooling_type));
  if (s.vocab) {
    for (const auto& [key, value] : s.vocab->metadata())
      if (key.rfind("tokenizer.", 0) == 0) w.set_value(key, value);
    auto tokens = s.vocab->get_array("tokenizer.ggml.tokens");
    if (!tokens.ok()) std::abort();  // not a vocabulary file: a bug in the test itself
    n_vocab = static_cast<int>((*tokens)->count);
  } else {
    w.set_string("tokenizer.ggml.model", "bert");
    w.set_array_string("tokenizer.ggml.tokens", vocab);
    std::vector<int32_t> types(n_vocab, 1);
    for (int i = 0; i < 5; ++i) types[i] = 3;
    types[1] = 2;
    w.set_array_i32("tokenizer.ggml.token_type", types);
  }
  w.set_u32("tokenizer.ggml.token_type_count", static_cast<uint32_t>(s.n_types));

  std::mt19937_64 rng(s.seed);
  // matrix: N(0, 1/fan_in); embeddings: N(0, 1); norm weights near 1; biases small.
  enum class Kind { kMatrix, kEmbedding, kNormWeight, kBias };
  auto add = [&](const std::string& name, int64_t n_in, int64_t n_out, Kind kind) {
    if (name == s.drop_tensor) return;
    const float sd = kind == Kind::kMatrix      ? 1.0f / std::sqrt(static_cast<float>(n_in))
                     : kind == Kind::kEmbedding ? 1.0f
                                                : 0.1f;
    std::normal_distribution<float> nd(0.0f, sd);
    std::vector<float> vals(static_cast<size_t>(n_in * n_out));
    for (float& v : vals) v = (kind == Kind::kNormWeight ? 1.0f : 0.0f) + nd(rng);
    const bool matrix = kind == Kind::kMatrix;
    const DType t = matrix ? s.wtype : DType::F32;
    const size_t rb = *row_bytes(t, n_in);
    std::vector<uint8_t> data(rb * n_out);
    for (int64_t r = 0; r < n_out; ++r) quantize_row(t, vals.data() + r * n_in, data.data() + r * rb, n_in);
    std::vector<int64_t> ne =
        n_out == 1 && !matrix ? std::vector<int64_t>{n_in} : std::vector<int64_t>{n_in, n_out};
    if (!w.add_tensor(name, t, ne, std::move(data)).ok()) std::abort();  // a bug in the test itself
    if (values) (*values)[name] = std::move(vals);
  };
  const int E = s.n_embd, F = s.n_ff;
  add("token_embd.weight", E, n_vocab, Kind::kEmbedding);
  if (s.n_types > 0) add("token_types.weight", E, s.n_types, Kind::kEmbedding);
  add("position_embd.weight", E, s.n_ctx, Kind::kEmbedding);
  add("token_embd_norm.weight", E, 1, Kind::kNormWeight);
  add("token_embd_norm.bias", E, 1, Kind::kBias);
  for (int i = 0; i < s.n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    for (const char* m : {"attn_q", "attn_k", "attn_v", "attn_output"}) {
      add(p + m + ".weight", E, E, Kind::kMatrix);
      add(p + m + ".bias", E, 1, Kind::kBias);
    }
    add(p + "attn_output_norm.weight", E, 1, Kind::kNormWeight);
    add(p + "attn_output_norm.bias", E, 1, Kind::kBias);
    add(p + "ffn_up.weight", E, F, Kind::kMatrix);
    add(p + "ffn_up.bias", F, 1, Kind::kBias);
    add(p + "ffn_down.weight", F, E, Kind::kMatrix);
    add(p + "ffn_down.bias", E, 1, Kind::kBias);
    add(p + "layer_output_norm.weight", E, 1, Kind::kNormWeight);
    add(p + "layer_output_norm.bias", E, 1, Kind::kBias);
  }
  return w.to_bytes();
}

}  // namespace minnow::test

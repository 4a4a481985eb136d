// Tiny Hugging Face model folders for the conversion tests: random weights in each family's HF
// layout (our own safetensors writer), a byte-level BPE tokenizer.json, tokenizer_config.json with
// a chat template, config.json. And the same weights written directly as GGUF the way llama.cpp's
// converter lays them out, spelled out here independently of src/convert: the reference a
// converted file must equal.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "convert/safetensors.h"
#include "gguf/gguf.h"
#include "tensor/fp16.h"
#include "tokenizer/hf_import.h"

namespace minnow::test {

using Json = nlohmann::json;
using convert::StDType;

// GPT-2's byte-level alphabet: printable bytes stand for themselves, the rest for U+0100 on.
inline std::string byte_text(int b) {
  auto printable = [](int c) { return (c >= 33 && c <= 126) || (c >= 161 && c <= 172) || c >= 174; };
  int cp = b;
  if (!printable(b)) {
    cp = 256;
    for (int c = 0; c < b; ++c) cp += printable(c) ? 0 : 1;
  }
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

constexpr int kTinyTokens = 266;  // 256 bytes + 5 merges + 5 added tokens
constexpr int kBos = 261, kImStart = 262, kImEnd = 263;
inline const std::string kTinyTemplate =
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

// Byte-level BPE (GPT-2 pre-tokenizer) over the 256 bytes, a few merges and some specials.
inline Json tiny_tokenizer_json() {
  Json vocab = Json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_text(b)] = b;
  const std::string sp = byte_text(' ');
  const std::vector<std::pair<std::string, std::string>> merges = {
      {"h", "e"}, {sp, "t"}, {sp + "t", "he"}, {"i", "n"}, {"e", "r"}};
  Json merge_list = Json::array();
  int id = 256;
  for (const auto& [a, b] : merges) {
    vocab[a + b] = id++;
    merge_list.push_back(a + " " + b);
  }
  Json added = Json::array();
  for (const auto& [text, special] : std::vector<std::pair<std::string, bool>>{{"<|begin_of_text|>", true},
                                                                               {"<|im_start|>", true},
                                                                               {"<|im_end|>", true},
                                                                               {"<|end|>", true},
                                                                               {"<tool>", false}}) {
    added.push_back({{"id", id++}, {"content", text}, {"special", special}});
  }
  return {{"version", "1.0"},
          {"added_tokens", added},
          {"normalizer", nullptr},
          {"pre_tokenizer",
           {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}},
          {"post_processor", {{"type", "ByteLevel"}}},
          {"decoder", {{"type", "ByteLevel"}}},
          {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merge_list}}}};
}

inline Json tiny_tokenizer_config() {
  return {{"bos_token", "<|begin_of_text|>"},
          {"eos_token", "<|im_end|>"},
          {"add_bos_token", true},
          {"chat_template", kTinyTemplate}};
}

struct HfModelSpec {
  // llama, mistral, qwen2, phi3, gemma2, gemma3, gemma3-mm (Gemma3ForConditionalGeneration)
  std::string family = "llama";
  int n_embd = 64, n_layer = 2, n_head = 4, n_head_kv = 2, head_dim = 16, n_ff = 128;
  int vocab_size = 272;           // embedding rows: the tokenizer's 266 tokens are padded (Gemma 3: trimmed)
  StDType dtype = StDType::BF16;  // of the safetensors weights
  uint64_t seed = 1;
};

struct HfTensor {
  std::string name;
  std::vector<int64_t> shape;  // PyTorch order
  std::vector<float> values;   // exactly representable in the spec's dtype
};

struct HfModel {
  HfModelSpec spec;
  Json config;
  std::vector<HfTensor> tensors;

  bool gemma() const { return spec.family.rfind("gemma", 0) == 0; }
  bool gemma3() const { return spec.family.rfind("gemma3", 0) == 0; }
  std::string arch() const {
    if (spec.family == "mistral") return "llama";
    return gemma3() ? "gemma3" : spec.family;
  }
  // Where the text model's tensors live.
  std::string prefix() const { return spec.family == "gemma3-mm" ? "language_model.model." : "model."; }
};

inline float round_to(StDType t, float v) {
  if (t == StDType::F16) return fp16_to_fp32(fp32_to_fp16(v));
  if (t == StDType::BF16) return bf16_to_fp32(fp32_to_bf16(v));
  return v;
}

inline HfModel make_hf_model(const HfModelSpec& s) {
  HfModel m;
  m.spec = s;
  const std::string f = s.family;
  const bool gemma = m.gemma(), g3 = m.gemma3();
  Json c = {{"hidden_size", s.n_embd},
            {"num_hidden_layers", s.n_layer},
            {"intermediate_size", s.n_ff},
            {"num_attention_heads", s.n_head},
            {"num_key_value_heads", s.n_head_kv},
            {"vocab_size", s.vocab_size},
            {"max_position_embeddings", 256},
            {"rms_norm_eps", gemma ? 1e-6 : 1e-5},
            {"rope_theta", 10000.0},
            {"torch_dtype", "bfloat16"},
            {"bos_token_id", kBos},
            {"eos_token_id", kImEnd}};
  if (f == "llama") c["architectures"] = {"LlamaForCausalLM"};
  if (f == "mistral") c["architectures"] = {"MistralForCausalLM"}, c["sliding_window"] = 8;
  if (f == "qwen2") c["architectures"] = {"Qwen2ForCausalLM"}, c["rope_theta"] = 1000000.0;
  if (f == "phi3") {
    c["architectures"] = {"Phi3ForCausalLM"};
    c["original_max_position_embeddings"] = 256;
    c["sliding_window"] = 2047;
  }
  if (gemma) {
    c["head_dim"] = s.head_dim;
    c["query_pre_attn_scalar"] = s.head_dim;
  }
  if (f == "gemma2") {
    c["architectures"] = {"Gemma2ForCausalLM"};
    c["attn_logit_softcapping"] = 50.0;
    c["final_logit_softcapping"] = 30.0;
    c["sliding_window"] = 8;
  }
  if (g3) {
    c["rope_theta"] = 1000000.0;
    c["rope_local_base_freq"] = 10000.0;
    c["sliding_window"] = 4;
    c["final_logit_softcapping"] = nullptr;
    c["attn_logit_softcapping"] = nullptr;
  }
  if (f == "gemma3") c["architectures"] = {"Gemma3ForCausalLM"};
  if (f == "gemma3-mm") c = {{"architectures", {"Gemma3ForConditionalGeneration"}}, {"text_config", c}};
  m.config = c;

  std::mt19937_64 rng(s.seed);
  const int E = s.n_embd, F = s.n_ff, hd = gemma ? s.head_dim : E / s.n_head;
  const int q = s.n_head * hd, kv = s.n_head_kv * hd;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, char kind) {
    // 'w' weight ~ N(0, 1/fan_in), 'e' embedding ~ N(0, 1), 'n' norm (Gemma stores w - 1), 'b' bias
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    const float sd = kind == 'w'   ? 1.0f / std::sqrt(static_cast<float>(shape.back()))
                     : kind == 'e' ? 1.0f
                                   : 0.1f;
    std::normal_distribution<float> nd(0.0f, sd);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = round_to(s.dtype, (kind == 'n' && !gemma ? 1.0f : 0.0f) + nd(rng));
    m.tensors.push_back({name, std::move(shape), std::move(v)});
  };
  const std::string P = m.prefix();
  add(P + "embed_tokens.weight", {s.vocab_size, E}, 'e');
  for (int i = 0; i < s.n_layer; ++i) {
    const std::string L = P + "layers." + std::to_string(i) + ".";
    add(L + "input_layernorm.weight", {E}, 'n');
    if (f == "phi3") {
      add(L + "self_attn.qkv_proj.weight", {q + 2 * kv, E}, 'w');
    } else {
      add(L + "self_attn.q_proj.weight", {q, E}, 'w');
      add(L + "self_attn.k_proj.weight", {kv, E}, 'w');
      add(L + "self_attn.v_proj.weight", {kv, E}, 'w');
    }
    if (f == "qwen2") {
      add(L + "self_attn.q_proj.bias", {q}, 'b');
      add(L + "self_attn.k_proj.bias", {kv}, 'b');
      add(L + "self_attn.v_proj.bias", {kv}, 'b');
    }
    if (g3) {
      add(L + "self_attn.q_norm.weight", {hd}, 'n');
      add(L + "self_attn.k_norm.weight", {hd}, 'n');
    }
    add(L + "self_attn.o_proj.weight", {E, q}, 'w');
    add(L + "post_attention_layernorm.weight", {E}, 'n');
    if (gemma) {
      add(L + "pre_feedforward_layernorm.weight", {E}, 'n');
      add(L + "post_feedforward_layernorm.weight", {E}, 'n');
    }
    if (f == "phi3") {
      add(L + "mlp.gate_up_proj.weight", {2 * F, E}, 'w');
    } else {
      add(L + "mlp.gate_proj.weight", {F, E}, 'w');
      add(L + "mlp.up_proj.weight", {F, E}, 'w');
    }
    add(L + "mlp.down_proj.weight", {E, F}, 'w');
  }
  add(P + "norm.weight", {E}, 'n');
  if (!gemma && f != "qwen2") add("lm_head.weight", {s.vocab_size, E}, 'w');  // qwen2 and Gemma: tied
  if (f == "gemma3-mm") {
    add("vision_tower.vision_model.embeddings.patch_embedding.weight", {8, 4}, 'w');
    add("multi_modal_projector.mm_input_projection_weight", {4, 8}, 'w');
  }
  return m;
}

inline void write_json(const std::filesystem::path& path, const Json& j) {
  std::ofstream(path) << j.dump(2);
}

// The folder: config.json, tokenizer.json, tokenizer_config.json (unless null), and the weights
// in `shards` files (split round-robin, with model.safetensors.index.json when more than one).
inline void write_hf_folder(const HfModel& m, const std::filesystem::path& dir, int shards = 1,
                            const Json& tokenizer_config = tiny_tokenizer_config()) {
  std::filesystem::create_directories(dir);
  write_json(dir / "config.json", m.config);
  write_json(dir / "tokenizer.json", tiny_tokenizer_json());
  if (!tokenizer_config.is_null()) write_json(dir / "tokenizer_config.json", tokenizer_config);
  std::vector<convert::SafetensorsWriter> w(shards);
  Json map = Json::object();
  for (size_t i = 0; i < m.tensors.size(); ++i) {
    const HfTensor& t = m.tensors[i];
    const size_t shard = i % static_cast<size_t>(shards);
    if (!w[shard].add_f32(t.name, m.spec.dtype, t.shape, t.values).ok()) std::abort();  // a test bug
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05d.safetensors", shard + 1, shards);
    map[t.name] = name;
  }
  for (int i = 0; i < shards; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", i + 1, shards);
    if (!w[i].write((dir / (shards == 1 ? std::string("model.safetensors") : name)).string()).ok())
      std::abort();
  }
  if (shards > 1)
    write_json(dir / "model.safetensors.index.json", {{"metadata", Json::object()}, {"weight_map", map}});
}

// llama.cpp's GGUF name of an HF tensor ("" for those it drops).
inline std::string gguf_name(const HfModel& m, const std::string& hf) {
  const std::string P = m.prefix();
  if (hf == P + "embed_tokens.weight") return "token_embd.weight";
  if (hf == P + "norm.weight") return "output_norm.weight";
  if (hf == "lm_head.weight") return "output.weight";
  if (hf.rfind(P + "layers.", 0) != 0) return "";
  const std::string rest = hf.substr(P.size() + 7);  // "3.self_attn.q_proj.weight"
  const std::string layer = rest.substr(0, rest.find('.')), suffix = rest.substr(rest.find('.') + 1);
  const std::vector<std::pair<std::string, std::string>> table = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.q_proj.bias", "attn_q.bias"},
      {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.bias", "attn_v.bias"},
      {"self_attn.qkv_proj.weight", "attn_qkv.weight"},
      {"self_attn.q_norm.weight", "attn_q_norm.weight"},
      {"self_attn.k_norm.weight", "attn_k_norm.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"post_attention_layernorm.weight", m.gemma() ? "post_attention_norm.weight" : "ffn_norm.weight"},
      {"pre_feedforward_layernorm.weight", "ffn_norm.weight"},
      {"post_feedforward_layernorm.weight", "post_ffw_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.gate_up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"}};
  for (const auto& [from, to] : table) {
    if (suffix == from) return "blk." + layer + "." + to;
  }
  return "";
}

// The tokenizer metadata: the HF import, padded to the embedding's rows with unused tokens.
inline void write_tiny_vocab(gguf::Writer& w, int n_vocab) {
  auto spec = tok::import_hf_tokenizer(tiny_tokenizer_json().dump(), tiny_tokenizer_config().dump());
  if (!spec.ok()) std::abort();
  for (int id = kTinyTokens; id < n_vocab; ++id) {
    spec->tokens.push_back("[PAD" + std::to_string(id) + "]");
    spec->token_types->push_back(5);
  }
  tok::write_vocab_metadata(*spec, w);
  w.set_string("tokenizer.chat_template", kTinyTemplate);
}

// The model as llama.cpp's converter writes it: matrices in `type`, 1-D tensors F32, llama's q/k
// rows permuted to adjacent RoPE pairs, Gemma norms + 1, Gemma 3's embedding cut to the tokenizer.
inline std::vector<uint8_t> direct_gguf(const HfModel& m, DType type, const std::string& name) {
  const HfModelSpec& s = m.spec;
  const std::string a = m.arch(), p = a + ".";
  const bool gemma = m.gemma(), g3 = m.gemma3(), llama = a == "llama";
  const int n_vocab = g3 ? kTinyTokens : s.vocab_size;
  const int hd = gemma ? s.head_dim : s.n_embd / s.n_head;
  gguf::Writer w;
  w.set_string("general.architecture", a);
  w.set_string("general.name", name);
  w.set_u32("general.file_type", type == DType::F32 ? 0 : type == DType::F16 ? 1 : 32);
  w.set_u32(p + "context_length", 256);
  w.set_u32(p + "embedding_length", s.n_embd);
  w.set_u32(p + "block_count", s.n_layer);
  w.set_u32(p + "feed_forward_length", s.n_ff);
  w.set_u32(p + "attention.head_count", s.n_head);
  w.set_u32(p + "attention.head_count_kv", s.n_head_kv);
  w.set_f32(p + "attention.layer_norm_rms_epsilon", gemma ? 1e-6f : 1e-5f);
  w.set_f32(p + "rope.freq_base", a == "qwen2" || g3 ? 1e6f : 1e4f);
  if (llama) w.set_u32(p + "vocab_size", s.vocab_size);
  if (llama || a == "phi3") w.set_u32(p + "rope.dimension_count", hd);
  if (s.family == "mistral") w.set_u32(p + "attention.sliding_window", 8);
  if (a == "phi3") {
    w.set_u32(p + "rope.scaling.original_context_length", 256);
    w.set_u32(p + "attention.sliding_window", 2047);
  }
  if (gemma) {
    w.set_u32(p + "attention.key_length", hd);
    w.set_u32(p + "attention.value_length", hd);
    w.set_u32(p + "attention.sliding_window", g3 ? 4 : 8);
  }
  if (a == "gemma2") {
    w.set_f32(p + "attn_logit_softcapping", 50.0f);
    w.set_f32(p + "final_logit_softcapping", 30.0f);
  }
  if (g3) w.set_f32(p + "rope.freq_base_swa", 10000.0f);
  write_tiny_vocab(w, n_vocab);

  for (const HfTensor& t : m.tensors) {
    const std::string g = gguf_name(m, t.name);
    if (g.empty() || (a == "gemma2" && g == "output.weight")) continue;
    std::vector<float> v = t.values;
    std::vector<int64_t> ne(t.shape.rbegin(), t.shape.rend());
    if (llama &&
        (g.find("attn_q.weight") != std::string::npos || g.find("attn_k.weight") != std::string::npos)) {
      // Head h's HF rows (i, i + hd/2) rotate together; GGUF puts them at (2i, 2i + 1).
      const int64_t n_in = t.shape[1];
      for (int64_t h = 0; h < t.shape[0] / hd; ++h) {
        for (int64_t i = 0; i < hd / 2; ++i) {
          for (int s2 = 0; s2 < 2; ++s2) {
            const float* from = t.values.data() + (h * hd + s2 * hd / 2 + i) * n_in;
            std::copy(from, from + n_in, v.data() + (h * hd + 2 * i + s2) * n_in);
          }
        }
      }
    }
    if (gemma && g.size() > 11 && g.compare(g.size() - 11, 11, "norm.weight") == 0) {
      for (float& x : v) x += 1.0f;
    }
    if (g3 && g == "token_embd.weight") {
      v.resize(static_cast<size_t>(kTinyTokens) * s.n_embd);
      ne[1] = kTinyTokens;
    }
    const DType tt = ne.size() == 2 ? type : DType::F32;
    std::vector<uint8_t> data(v.size() * (tt == DType::F32 ? 4 : 2));
    for (size_t i = 0; i < v.size(); ++i) {
      if (tt == DType::F32) {
        std::memcpy(data.data() + 4 * i, &v[i], 4);
      } else {
        const uint16_t h = tt == DType::F16 ? fp32_to_fp16(v[i]) : fp32_to_bf16(v[i]);
        std::memcpy(data.data() + 2 * i, &h, 2);
      }
    }
    if (!w.add_tensor(g, tt, ne, std::move(data)).ok()) std::abort();
  }
  return w.to_bytes();
}

}  // namespace minnow::test

// Each family's mapping, after llama.cpp's convert_hf_to_gguf.py: the same GGUF names, metadata
// keys and value conventions (llama q/k rows permuted for adjacent-pair RoPE, Gemma norm weights
// + 1, Gemma 3's embedding trimmed to the tokenizer, Phi-3's fused projections kept fused).
// Fields transformers fills with a class default when config.json omits them take that default
// (llama.cpp reads configs through transformers, so its files carry them); the fields that shape
// the tensors must be present.
#include "convert/hf_model.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <numbers>

#include "gguf/gguf.h"

namespace minnow::convert {
namespace {

using tok::Json;

// Bounds far above any model this converts; they keep a hostile config from sizing huge plans.
constexpr int64_t kMaxDim = int64_t{1} << 24;
constexpr int64_t kMaxLayers = 4096;
constexpr int64_t kMaxContext = int64_t{1} << 30;

struct FamilyEntry {
  const char* hf_arch;
  const char* arch;
};
constexpr FamilyEntry kFamilies[] = {
    {"LlamaForCausalLM", "llama"},
    {"MistralForCausalLM", "llama"},
    {"Qwen2ForCausalLM", "qwen2"},
    {"Phi3ForCausalLM", "phi3"},
    {"Gemma2ForCausalLM", "gemma2"},
    {"Gemma3ForCausalLM", "gemma3"},
    {"Gemma3ForConditionalGeneration", "gemma3"},
};

// A JSON number that fits a float, as every number this writes to GGUF must (a cast of a
// larger double to float is undefined).
Result<double> float_value(const Json& v, const std::string& what) {
  if (!v.is_number())
    return make_error("config.json: %s is %s, expected a number", what.c_str(), tok::clip(v.dump()).c_str());
  const double d = v.get<double>();
  if (!(std::fabs(d) <= std::numeric_limits<float>::max())) {
    return make_error("config.json: %s is %s, out of range", what.c_str(), tok::clip(v.dump()).c_str());
  }
  return d;
}

// config.json fields, with errors that name them.
class Config {
 public:
  explicit Config(const Json& j) : j_(j) {}
  const Json* get(const char* key) const { return tok::member(j_, key); }
  bool present(const char* key) const { return j_.is_object() && j_.contains(key); }

  // An integer in [1, hi].
  Result<int64_t> count(const char* key, int64_t hi) const {
    const Json* v = get(key);
    if (!v) return make_error("config.json: missing '%s'", key);
    const std::optional<int64_t> n = tok::as_int(*v);
    if (!n || *n < 1 || *n > hi) {
      return make_error("config.json: '%s' is %s, expected an integer in [1, %lld]", key,
                        tok::clip(v->dump()).c_str(), static_cast<long long>(hi));
    }
    return *n;
  }
  Result<int64_t> count_or(const char* key, int64_t def, int64_t hi) const {
    return get(key) ? count(key, hi) : Result<int64_t>(def);
  }
  // A finite number.
  Result<double> number(const char* key) const {
    const Json* v = get(key);
    if (!v) return make_error("config.json: missing '%s'", key);
    return float_value(*v, "'" + std::string(key) + "'");
  }
  Result<double> number_or(const char* key, double def) const {
    return get(key) ? number(key) : Result<double>(def);
  }

 private:
  const Json& j_;
};

#define MINNOW_ASSIGN(dst, expr) \
  do {                           \
    auto r_ = (expr);            \
    if (!r_) return r_.error();  \
    dst = *r_;                   \
  } while (0)

struct Dims {
  int64_t n_embd = 0, n_layer = 0, n_ff = 0, n_head = 0, n_head_kv = 0, head_dim = 0;
  int64_t q_dim() const { return n_head * head_dim; }
  int64_t kv_dim() const { return n_head_kv * head_dim; }
};

// Gemma 3 configs leave heads and head_dim to the class defaults; the others name them.
struct DimDefaults {
  int64_t n_head = 0;     // 0: required
  int64_t n_head_kv = 0;  // 0: n_head
  int64_t head_dim = 0;   // 0: n_embd / n_head
};

Result<Dims> read_dims(const Config& c, const DimDefaults& def) {
  Dims d;
  MINNOW_ASSIGN(d.n_embd, c.count("hidden_size", kMaxDim));
  MINNOW_ASSIGN(d.n_layer, c.count("num_hidden_layers", kMaxLayers));
  MINNOW_ASSIGN(d.n_ff, c.count("intermediate_size", kMaxDim));
  MINNOW_ASSIGN(d.n_head, def.n_head ? c.count_or("num_attention_heads", def.n_head, kMaxDim)
                                     : c.count("num_attention_heads", kMaxDim));
  MINNOW_ASSIGN(d.n_head_kv,
                c.count_or("num_key_value_heads", def.n_head_kv ? def.n_head_kv : d.n_head, kMaxDim));
  if (d.n_head % d.n_head_kv != 0) {
    return make_error("config.json: %lld attention heads do not group into %lld key-value heads",
                      static_cast<long long>(d.n_head), static_cast<long long>(d.n_head_kv));
  }
  if (def.head_dim == 0 && !c.get("head_dim") && d.n_embd % d.n_head != 0) {
    return make_error("config.json: hidden_size %lld does not split into %lld heads and there is no head_dim",
                      static_cast<long long>(d.n_embd), static_cast<long long>(d.n_head));
  }
  MINNOW_ASSIGN(d.head_dim,
                c.count_or("head_dim", def.head_dim ? def.head_dim : d.n_embd / d.n_head, kMaxDim));
  if (d.q_dim() > kMaxDim)
    return make_error("config.json: %lld heads of %lld are too wide", static_cast<long long>(d.n_head),
                      static_cast<long long>(d.head_dim));
  return d;
}

// RoPE scaling: rope_scaling, or rope_parameters in newer transformers (which may hold one set
// per attention type). type is lower case; "" for none or "default".
struct Rope {
  const Json* global = nullptr;  // the full-attention parameters
  const Json* local = nullptr;   // sliding-window layers' own, when given apart
  std::string type;
};

Rope read_rope(const Config& c) {
  Rope r;
  const Json* obj = c.get("rope_scaling");
  if (!obj || !obj->is_object()) obj = c.get("rope_parameters");
  if (!obj || !obj->is_object()) return r;
  r.global = obj;
  if (const Json* full = tok::member(*obj, "full_attention"); full && full->is_object()) r.global = full;
  if (const Json* swa = tok::member(*obj, "sliding_attention"); swa && swa->is_object()) r.local = swa;
  const std::string* type = tok::string_member(*r.global, "rope_type");
  if (!type) type = tok::string_member(*r.global, "type");
  if (type) {
    for (char ch : *type) r.type += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  if (r.type == "default") r.type.clear();
  return r;
}

// A number from the RoPE parameters, else def.
Result<double> rope_number(const Json* params, const char* key, double def) {
  const Json* v = params ? tok::member(*params, key) : nullptr;
  if (!v) return def;
  return float_value(*v, "rope parameter '" + std::string(key) + "'");
}

Result<double> rms_eps(const Config& c, double def) {
  auto eps = c.number_or("rms_norm_eps", def);
  if (eps && !(*eps > 0 && *eps < 1))
    return make_error("config.json: rms_norm_eps %g is not in (0, 1)", *eps);
  return eps;
}

Result<double> rope_theta(const Config& c, const Rope& r, double def) {
  auto theta = c.get("rope_theta") ? c.number("rope_theta") : rope_number(r.global, "rope_theta", def);
  if (theta && !(*theta > 1)) return make_error("config.json: rope_theta %g is not above 1", *theta);
  return theta;
}

// The <arch>.* keys, typed as llama.cpp writes them.
class Meta {
 public:
  Meta(gguf::Writer& w, std::string arch) : w_(w), p_(std::move(arch) + ".") {}
  void u32(const char* key, int64_t v) { w_.set_u32(p_ + key, static_cast<uint32_t>(v)); }
  void f32(const char* key, double v) { w_.set_f32(p_ + key, static_cast<float>(v)); }
  void str(const char* key, const std::string& v) { w_.set_string(p_ + key, v); }

  // The keys every family here shares.
  void common(const Dims& d, int64_t n_ctx, double rms_eps) {
    u32("context_length", n_ctx);
    u32("embedding_length", d.n_embd);
    u32("block_count", d.n_layer);
    u32("feed_forward_length", d.n_ff);
    u32("attention.head_count", d.n_head);
    u32("attention.head_count_kv", d.n_head_kv);
    f32("attention.layer_norm_rms_epsilon", rms_eps);
  }
  void head_dim(int64_t hd) {
    u32("attention.key_length", hd);
    u32("attention.value_length", hd);
  }

 private:
  gguf::Writer& w_;
  std::string p_;
};

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Finds source tensors, checks them, and records the plan; remembers what it used.
class Planner {
 public:
  Planner(const TensorIndex& index, Plan& plan, std::string prefix)
      : index_(index), plan_(plan), prefix_(std::move(prefix)) {}

  // "model.layers.3.self_attn.q_proj.weight" from (3, "self_attn.q_proj.weight").
  std::string layer(int64_t i, const char* suffix) const {
    return prefix_ + "layers." + std::to_string(i) + "." + suffix;
  }
  std::string global(const char* suffix) const { return prefix_ + suffix; }

  // A Linear weight, [n_out, n_in] in PyTorch order: GGUF ne [n_in, n_out]. keep_rows < n_out
  // keeps the first rows only; rope_heads permutes rows for adjacent-pair RoPE.
  Status matrix(const std::string& gguf_name, const std::string& hf, int64_t n_in, int64_t n_out,
                int rope_heads = 0, int64_t keep_rows = -1) {
    auto t = find(gguf_name, hf, {n_out, n_in});
    if (!t) return t.error();
    PlannedTensor p;
    p.name = gguf_name;
    p.ne = {n_in, keep_rows >= 0 ? keep_rows : n_out};
    p.matrix = true;
    p.src = *t;
    p.rope_heads = rope_heads;
    plan_.tensors.push_back(std::move(p));
    return {};
  }
  // A norm weight or bias: F32 in the file; `add` is added to every value.
  Status vector(const std::string& gguf_name, const std::string& hf, int64_t n, float add = 0.0f) {
    auto t = find(gguf_name, hf, {n});
    if (!t) return t.error();
    PlannedTensor p;
    p.name = gguf_name;
    p.ne = {n};
    p.src = *t;
    p.add = add;
    plan_.tensors.push_back(std::move(p));
    return {};
  }
  void computed(const std::string& gguf_name, std::vector<float> values) {
    PlannedTensor p;
    p.name = gguf_name;
    p.ne = {static_cast<int64_t>(values.size())};
    p.values = std::move(values);
    plan_.tensors.push_back(std::move(p));
  }
  bool has(const std::string& hf) const { return index_.find(hf) != nullptr; }
  void skip(const std::string& hf) { used_.insert(hf); }
  const StTensor* tensor(const std::string& hf) const { return index_.find(hf); }

  // Every tensor of the folder went somewhere, or is one skip_prefixes/rotary caches name.
  Status check_all_used(const std::string& hf_arch, const std::vector<std::string>& skip_prefixes) const {
    for (const std::string& name : index_.names()) {
      if (used_.count(name)) continue;
      if (name.ends_with("rotary_emb.inv_freq")) continue;  // a cache some checkpoints saved
      bool skipped = false;
      for (const std::string& p : skip_prefixes) skipped = skipped || name.starts_with(p);
      if (skipped) continue;
      return make_error("convert: tensor '%s' in %s is not part of a %s as minnow converts it",
                        tok::clip(name).c_str(), index_.file_of(name).c_str(), hf_arch.c_str());
    }
    return {};
  }

 private:
  Result<const StTensor*> find(const std::string& gguf_name, const std::string& hf,
                               const std::vector<int64_t>& shape) {
    const StTensor* t = index_.find(hf);
    if (!t) {
      return make_error("convert: missing tensor '%s' (for %s, shape %s)", hf.c_str(), gguf_name.c_str(),
                        shape_str(shape).c_str());
    }
    if (t->shape != shape) {
      return make_error("convert: tensor '%s' in %s has shape %s, expected %s from config.json", hf.c_str(),
                        index_.file_of(hf).c_str(), shape_str(t->shape).c_str(), shape_str(shape).c_str());
    }
    if (!st_dtype_is_float(t->dtype)) {
      return make_error("convert: tensor '%s' in %s is %s; weights must be F32, F16 or BF16", hf.c_str(),
                        index_.file_of(hf).c_str(), st_dtype_name(t->dtype));
    }
    used_.insert(hf);
    return t;
  }

  const TensorIndex& index_;
  Plan& plan_;
  std::string prefix_;
  std::unordered_set<std::string> used_;
};

// The embedding's vocabulary: config vocab_size when given, else the tensor's rows.
Result<int64_t> embedding_rows(const Config& c, const Planner& pl, const std::string& hf, int64_t n_embd) {
  if (c.get("vocab_size")) return c.count("vocab_size", kMaxDim);
  const StTensor* t = pl.tensor(hf);
  if (!t) return make_error("convert: missing tensor '%s' (for token_embd.weight)", hf.c_str());
  if (t->shape.size() != 2 || t->shape[1] != n_embd || t->shape[0] < 1 || t->shape[0] > kMaxDim) {
    return make_error("convert: tensor '%s' has shape %s, expected [n_vocab, %lld]", hf.c_str(),
                      shape_str(t->shape).c_str(), static_cast<long long>(n_embd));
  }
  return t->shape[0];
}

// Llama 3's frequency-dependent RoPE scaling as the per-frequency divisors GGUF stores in
// rope_freqs.weight (llama.cpp's LlamaModel.generate_extra_tensors).
Result<std::vector<float>> llama3_rope_factors(const Config& c, const Rope& r, double base,
                                               int64_t head_dim) {
  double factor, low, high, old_ctx;
  MINNOW_ASSIGN(factor, rope_number(r.global, "factor", 8.0));
  MINNOW_ASSIGN(low, rope_number(r.global, "low_freq_factor", 1.0));
  MINNOW_ASSIGN(high, rope_number(r.global, "high_freq_factor", 4.0));
  auto top_ctx = c.number_or("original_max_position_embeddings", 8192.0);
  if (!top_ctx) return top_ctx.error();
  MINNOW_ASSIGN(old_ctx, rope_number(r.global, "original_max_position_embeddings", *top_ctx));
  if (!(factor > 0 && low > 0 && high > low && old_ctx > 0)) {
    return make_error(
        "config.json: llama3 rope_scaling needs factor > 0 and 0 < low_freq_factor < high_freq_factor");
  }
  std::vector<float> out;
  for (int64_t i = 0; i < head_dim; i += 2) {
    const double freq = 1.0 / std::pow(base, static_cast<double>(i) / static_cast<double>(head_dim));
    const double wavelen = 2 * std::numbers::pi / freq;
    if (wavelen < old_ctx / high) {
      out.push_back(1.0f);
    } else if (wavelen > old_ctx / low) {
      out.push_back(static_cast<float>(factor));
    } else {
      const double smooth = (old_ctx / wavelen - low) / (high - low);
      const double divisor = 1.0 / ((1 - smooth) / factor + smooth);
      if (!(divisor <= std::numeric_limits<float>::max())) {
        return make_error("config.json: llama3 rope_scaling gives a divisor out of range");
      }
      out.push_back(static_cast<float>(divisor));
    }
  }
  return out;
}

// The layer tensors llama, qwen2 and the Gemmas share.
Status plan_attention_ffn(Planner& pl, const Dims& d, int64_t i, bool permute_qk) {
  auto L = [&](const char* s) { return pl.layer(i, s); };
  auto B = [&](const char* s) { return "blk." + std::to_string(i) + "." + s; };
  const int q_heads = permute_qk ? static_cast<int>(d.n_head) : 0;
  const int k_heads = permute_qk ? static_cast<int>(d.n_head_kv) : 0;
  MINNOW_CHECK_OK(pl.matrix(B("attn_q.weight"), L("self_attn.q_proj.weight"), d.n_embd, d.q_dim(), q_heads));
  MINNOW_CHECK_OK(pl.matrix(B("attn_k.weight"), L("self_attn.k_proj.weight"), d.n_embd, d.kv_dim(), k_heads));
  MINNOW_CHECK_OK(pl.matrix(B("attn_v.weight"), L("self_attn.v_proj.weight"), d.n_embd, d.kv_dim()));
  MINNOW_CHECK_OK(pl.matrix(B("attn_output.weight"), L("self_attn.o_proj.weight"), d.q_dim(), d.n_embd));
  MINNOW_CHECK_OK(pl.matrix(B("ffn_gate.weight"), L("mlp.gate_proj.weight"), d.n_embd, d.n_ff));
  MINNOW_CHECK_OK(pl.matrix(B("ffn_up.weight"), L("mlp.up_proj.weight"), d.n_embd, d.n_ff));
  MINNOW_CHECK_OK(pl.matrix(B("ffn_down.weight"), L("mlp.down_proj.weight"), d.n_ff, d.n_embd));
  return {};
}

// token_embd (trimmed to n_vocab rows), output_norm, and output unless skipped or absent.
Status plan_ends(Planner& pl, const Dims& d, int64_t embd_rows, int64_t n_vocab, float norm_add,
                 const std::string& lm_head, bool skip_lm_head) {
  MINNOW_CHECK_OK(
      pl.matrix("token_embd.weight", pl.global("embed_tokens.weight"), d.n_embd, embd_rows, 0, n_vocab));
  MINNOW_CHECK_OK(pl.vector("output_norm.weight", pl.global("norm.weight"), d.n_embd, norm_add));
  if (skip_lm_head) {
    pl.skip(lm_head);  // llama.cpp skips it for Gemma 2: the embedding is the output
  } else if (pl.has(lm_head)) {
    MINNOW_CHECK_OK(pl.matrix("output.weight", lm_head, d.n_embd, embd_rows, 0, n_vocab));
  }
  return {};
}

Status plan_llama_qwen2(const Config& c, const std::string& hf_arch, Planner& pl, Plan& plan, Meta& m) {
  const bool llama = plan.arch == "llama";
  Dims d;
  MINNOW_ASSIGN(d, read_dims(c, {}));
  int64_t n_ctx, rows;
  double eps, base;
  MINNOW_ASSIGN(n_ctx, c.count_or("max_position_embeddings", llama ? 2048 : 32768, kMaxContext));
  MINNOW_ASSIGN(eps, rms_eps(c, 1e-6));
  const Rope rope = read_rope(c);
  MINNOW_ASSIGN(base, rope_theta(c, rope, 10000.0));
  MINNOW_ASSIGN(rows, embedding_rows(c, pl, pl.global("embed_tokens.weight"), d.n_embd));
  plan.n_vocab = rows;
  if (llama && d.head_dim % 2 != 0) {
    return make_error("config.json: head_dim %lld is odd; RoPE rotates pairs",
                      static_cast<long long>(d.head_dim));
  }

  m.common(d, n_ctx, eps);
  m.f32("rope.freq_base", base);
  if (c.get("head_dim")) m.head_dim(d.head_dim);
  if (llama) {
    m.u32("vocab_size", rows);
    m.u32("rope.dimension_count", d.head_dim);
  }
  if (rope.type == "linear" || rope.type == "yarn") {
    double factor;
    MINNOW_ASSIGN(factor, rope_number(rope.global, "factor", 0.0));
    if (!(factor > 0))
      return make_error("config.json: %s rope_scaling without a positive factor", rope.type.c_str());
    m.str("rope.scaling.type", rope.type);
    m.f32("rope.scaling.factor", factor);
    if (rope.type == "yarn") {
      double orig;
      MINNOW_ASSIGN(orig, rope_number(rope.global, "original_max_position_embeddings", 0.0));
      if (!(orig >= 1 && orig <= static_cast<double>(kMaxContext)))
        return make_error("config.json: yarn rope_scaling without a usable original_max_position_embeddings");
      m.u32("rope.scaling.original_context_length", static_cast<int64_t>(orig));
    }
  } else if (rope.type == "llama3" && llama) {
    auto factors = llama3_rope_factors(c, rope, base, d.head_dim);
    if (!factors) return factors.error();
    pl.computed("rope_freqs.weight", std::move(factors).value());
  } else if (!rope.type.empty()) {
    return make_error("config.json: rope_scaling type '%s' is not supported for %s",
                      tok::clip(rope.type).c_str(), hf_arch.c_str());
  }
  // Mistral 7B v0.1 attends within a 4096-token window (later versions set null).
  if (hf_arch == "MistralForCausalLM" && c.get("sliding_window")) {
    int64_t window;
    MINNOW_ASSIGN(window, c.count("sliding_window", kMaxContext));
    m.u32("attention.sliding_window", window);
  }

  MINNOW_CHECK_OK(plan_ends(pl, d, rows, rows, 0.0f, "lm_head.weight", false));
  for (int64_t i = 0; i < d.n_layer; ++i) {
    auto B = [&](const char* s) { return "blk." + std::to_string(i) + "." + s; };
    MINNOW_CHECK_OK(pl.vector(B("attn_norm.weight"), pl.layer(i, "input_layernorm.weight"), d.n_embd));
    MINNOW_CHECK_OK(plan_attention_ffn(pl, d, i, llama));
    MINNOW_CHECK_OK(
        pl.vector(B("ffn_norm.weight"), pl.layer(i, "post_attention_layernorm.weight"), d.n_embd));
    if (!llama) {
      MINNOW_CHECK_OK(pl.vector(B("attn_q.bias"), pl.layer(i, "self_attn.q_proj.bias"), d.q_dim()));
      MINNOW_CHECK_OK(pl.vector(B("attn_k.bias"), pl.layer(i, "self_attn.k_proj.bias"), d.kv_dim()));
      MINNOW_CHECK_OK(pl.vector(B("attn_v.bias"), pl.layer(i, "self_attn.v_proj.bias"), d.kv_dim()));
    }
  }
  return pl.check_all_used(hf_arch, {});
}

// Phi-3 and Phi-4: fused qkv_proj and gate_up_proj stay fused (attn_qkv, ffn_up of 2 * n_ff rows);
// LongRoPE factors become rope_factors_long/short.weight.
Status plan_phi3(const Config& c, const std::string& hf_arch, Planner& pl, Plan& plan, Meta& m) {
  Dims d;
  MINNOW_ASSIGN(d, read_dims(c, {}));
  int64_t n_ctx, rows;
  double eps, base, partial;
  MINNOW_ASSIGN(n_ctx, c.count_or("max_position_embeddings", 4096, kMaxContext));
  MINNOW_ASSIGN(eps, rms_eps(c, 1e-5));
  const Rope rope = read_rope(c);
  MINNOW_ASSIGN(base, rope_theta(c, rope, 10000.0));
  MINNOW_ASSIGN(partial, c.number_or("partial_rotary_factor", 1.0));
  MINNOW_ASSIGN(rows, embedding_rows(c, pl, pl.global("embed_tokens.weight"), d.n_embd));
  plan.n_vocab = rows;
  if (!(partial > 0 && partial <= 1))
    return make_error("config.json: partial_rotary_factor %g is not in (0, 1]", partial);
  const int64_t n_rot = static_cast<int64_t>(partial * static_cast<double>(d.n_embd)) / d.n_head;
  if (n_rot < 2 || n_rot % 2 != 0 || n_rot > d.head_dim) {
    return make_error("config.json: partial_rotary_factor %g rotates %lld dims of each %lld-dim head",
                      partial, static_cast<long long>(n_rot), static_cast<long long>(d.head_dim));
  }
  double orig_ctx;
  MINNOW_ASSIGN(orig_ctx, c.number_or("original_max_position_embeddings", 0.0));
  if (orig_ctx == 0) {
    MINNOW_ASSIGN(orig_ctx, rope_number(rope.global, "original_max_position_embeddings", 0.0));
  }
  if (orig_ctx != 0 && !(orig_ctx >= 2 && orig_ctx <= static_cast<double>(kMaxContext))) {
    return make_error("config.json: original_max_position_embeddings %g is out of range", orig_ctx);
  }

  m.common(d, n_ctx, eps);
  if (orig_ctx != 0) m.u32("rope.scaling.original_context_length", static_cast<int64_t>(orig_ctx));
  m.u32("rope.dimension_count", n_rot);
  m.f32("rope.freq_base", base);
  // llama.cpp writes 0 for none, which is how it tells Phi-4 from Phi-3.
  int64_t window = 0;
  if (c.get("sliding_window")) MINNOW_ASSIGN(window, c.count("sliding_window", kMaxContext));
  m.u32("attention.sliding_window", window);

  const Json* long_f = rope.global ? tok::member(*rope.global, "long_factor") : nullptr;
  const Json* short_f = rope.global ? tok::member(*rope.global, "short_factor") : nullptr;
  if (long_f) {
    if (rope.type != "longrope" && rope.type != "su" && rope.type != "yarn") {
      return make_error("config.json: rope_scaling type '%s' is not supported for %s",
                        tok::clip(rope.type).c_str(), hf_arch.c_str());
    }
    if (orig_ctx == 0)
      return make_error("config.json: LongRoPE factors without original_max_position_embeddings");
    const double scale = static_cast<double>(n_ctx) / orig_ctx;
    double attn_factor = 1.0;
    if (scale > 1.0) {
      attn_factor = rope.type == "yarn" ? 0.1 * std::log(scale) + 1.0
                                        : std::sqrt(1 + std::log(scale) / std::log(orig_ctx));
    }
    m.f32("rope.scaling.attn_factor", attn_factor);
    for (const auto& [json, name] :
         {std::pair{long_f, "rope_factors_long.weight"}, std::pair{short_f, "rope_factors_short.weight"}}) {
      if (!json || !json->is_array() || static_cast<int64_t>(json->size()) * 2 != n_rot) {
        return make_error(
            "config.json: rope_scaling long_factor and short_factor must be lists of %lld numbers",
            static_cast<long long>(n_rot / 2));
      }
      std::vector<float> values;
      for (const Json& v : *json) {
        auto f = float_value(v, std::string("a rope_scaling factor"));
        if (!f) return f.error();
        values.push_back(static_cast<float>(*f));
      }
      pl.computed(name, std::move(values));
    }
  } else if (!rope.type.empty() && rope.type != "longrope" && rope.type != "su") {
    return make_error("config.json: rope_scaling type '%s' is not supported for %s",
                      tok::clip(rope.type).c_str(), hf_arch.c_str());
  }

  MINNOW_CHECK_OK(plan_ends(pl, d, rows, rows, 0.0f, "lm_head.weight", false));
  for (int64_t i = 0; i < d.n_layer; ++i) {
    auto B = [&](const char* s) { return "blk." + std::to_string(i) + "." + s; };
    auto L = [&](const char* s) { return pl.layer(i, s); };
    MINNOW_CHECK_OK(pl.vector(B("attn_norm.weight"), L("input_layernorm.weight"), d.n_embd));
    MINNOW_CHECK_OK(pl.matrix(B("attn_qkv.weight"), L("self_attn.qkv_proj.weight"), d.n_embd,
                              d.q_dim() + 2 * d.kv_dim()));
    MINNOW_CHECK_OK(pl.matrix(B("attn_output.weight"), L("self_attn.o_proj.weight"), d.q_dim(), d.n_embd));
    MINNOW_CHECK_OK(pl.vector(B("ffn_norm.weight"), L("post_attention_layernorm.weight"), d.n_embd));
    MINNOW_CHECK_OK(pl.matrix(B("ffn_up.weight"), L("mlp.gate_up_proj.weight"), d.n_embd, 2 * d.n_ff));
    MINNOW_CHECK_OK(pl.matrix(B("ffn_down.weight"), L("mlp.down_proj.weight"), d.n_ff, d.n_embd));
  }
  return pl.check_all_used(hf_arch, {});
}

// A softcapping value: absent takes transformers' default, null means none (no key).
Status softcap(const Config& c, Meta& m, const char* key, double def) {
  if (c.present(key) && !c.get(key)) return {};
  double v;
  MINNOW_ASSIGN(v, c.number_or(key, def));
  if (!(v > 0)) return make_error("config.json: '%s' %g is not positive", key, v);
  m.f32(key, v);
  return {};
}

// Gemma 2 and 3: norm weights stored as w - 1 (Gemma's RMSNorm scales by 1 + w); four norms per
// layer; Gemma 3 adds QK-norm and trims the embedding to the tokenizer (its spare rows are
// unused image-token slots).
Status plan_gemma(const Config& c, const std::string& hf_arch, Planner& pl, Plan& plan, Meta& m,
                  int64_t n_tokens, const std::vector<std::string>& skip_prefixes,
                  const std::string& lm_head) {
  const bool g3 = plan.arch == "gemma3";
  Dims d;
  MINNOW_ASSIGN(d, read_dims(c, g3 ? DimDefaults{8, 4, 256} : DimDefaults{}));
  int64_t n_ctx, rows, window;
  double eps, base;
  MINNOW_ASSIGN(n_ctx, c.count_or("max_position_embeddings", g3 ? 131072 : 8192, kMaxContext));
  MINNOW_ASSIGN(eps, rms_eps(c, 1e-6));
  const Rope rope = read_rope(c);
  MINNOW_ASSIGN(base, rope_theta(c, rope, g3 ? 1000000.0 : 10000.0));
  MINNOW_ASSIGN(window, c.count_or("sliding_window", 4096, kMaxContext));
  MINNOW_ASSIGN(rows, embedding_rows(c, pl, pl.global("embed_tokens.weight"), d.n_embd));
  const int64_t n_vocab = g3 && n_tokens < rows ? n_tokens : rows;
  plan.n_vocab = n_vocab;

  m.common(d, n_ctx, eps);
  m.head_dim(d.head_dim);
  m.f32("rope.freq_base", base);
  if (c.get("query_pre_attn_scalar")) {
    double scalar;
    MINNOW_ASSIGN(scalar, c.number("query_pre_attn_scalar"));
    if (!(scalar >= 1)) return make_error("config.json: query_pre_attn_scalar %g is below 1", scalar);
    m.f32("attention.scale", 1.0 / std::sqrt(scalar));  // q.k scale, when not 1/sqrt(head_dim) (Gemma 27B)
  }
  if (g3) {
    if (c.get("attn_logit_softcapping"))
      return make_error("config.json: Gemma 3 has no attn_logit_softcapping");
    if (c.get("final_logit_softcapping")) MINNOW_CHECK_OK(softcap(c, m, "final_logit_softcapping", 0));
    int64_t pattern;
    MINNOW_ASSIGN(pattern, c.count_or("sliding_window_pattern", 6, kMaxLayers));
    if (pattern != 1) m.u32("attention.sliding_window", window);
    double local_base;
    MINNOW_ASSIGN(local_base, c.number_or("rope_local_base_freq", 10000.0));
    if (rope.local) MINNOW_ASSIGN(local_base, rope_number(rope.local, "rope_theta", local_base));
    m.f32("rope.freq_base_swa", local_base);
    if (rope.type == "linear") {  // Gemma 3 4B and up: applied to the global layers only
      double factor;
      MINNOW_ASSIGN(factor, rope_number(rope.global, "factor", 0.0));
      if (!(factor > 0)) return make_error("config.json: linear rope_scaling without a positive factor");
      m.str("rope.scaling.type", "linear");
      m.f32("rope.scaling.factor", factor);
    } else if (!rope.type.empty()) {
      return make_error("config.json: rope_scaling type '%s' is not supported for %s",
                        tok::clip(rope.type).c_str(), hf_arch.c_str());
    }
  } else {
    MINNOW_CHECK_OK(softcap(c, m, "attn_logit_softcapping", 50.0));
    MINNOW_CHECK_OK(softcap(c, m, "final_logit_softcapping", 30.0));
    m.u32("attention.sliding_window", window);
    if (!rope.type.empty()) {
      return make_error("config.json: rope_scaling type '%s' is not supported for %s",
                        tok::clip(rope.type).c_str(), hf_arch.c_str());
    }
  }

  MINNOW_CHECK_OK(plan_ends(pl, d, rows, n_vocab, 1.0f, lm_head, !g3));
  for (int64_t i = 0; i < d.n_layer; ++i) {
    auto B = [&](const char* s) { return "blk." + std::to_string(i) + "." + s; };
    auto L = [&](const char* s) { return pl.layer(i, s); };
    MINNOW_CHECK_OK(pl.vector(B("attn_norm.weight"), L("input_layernorm.weight"), d.n_embd, 1.0f));
    MINNOW_CHECK_OK(plan_attention_ffn(pl, d, i, false));
    if (g3) {
      MINNOW_CHECK_OK(pl.vector(B("attn_q_norm.weight"), L("self_attn.q_norm.weight"), d.head_dim, 1.0f));
      MINNOW_CHECK_OK(pl.vector(B("attn_k_norm.weight"), L("self_attn.k_norm.weight"), d.head_dim, 1.0f));
    }
    MINNOW_CHECK_OK(
        pl.vector(B("post_attention_norm.weight"), L("post_attention_layernorm.weight"), d.n_embd, 1.0f));
    MINNOW_CHECK_OK(pl.vector(B("ffn_norm.weight"), L("pre_feedforward_layernorm.weight"), d.n_embd, 1.0f));
    MINNOW_CHECK_OK(
        pl.vector(B("post_ffw_norm.weight"), L("post_feedforward_layernorm.weight"), d.n_embd, 1.0f));
  }
  return pl.check_all_used(hf_arch, skip_prefixes);
}

#undef MINNOW_ASSIGN

}  // namespace

int64_t PlannedTensor::n_rows() const {
  int64_t n = 1;
  for (size_t i = 1; i < ne.size(); ++i) n *= ne[i];
  return n;
}

int64_t rope_permuted_row(int64_t r, int64_t head_dim) {
  // GGUF row 2j + s of a head holds the HF row s * head_dim/2 + j: each rotated pair, split
  // across the head's halves in HF, becomes adjacent.
  const int64_t head = r / head_dim, w = r % head_dim;
  return head * head_dim + (w % 2) * (head_dim / 2) + w / 2;
}

Status TensorIndex::add_file(SafetensorsFile file) {
  files_.push_back(std::make_unique<SafetensorsFile>(std::move(file)));
  const size_t f = files_.size() - 1;
  for (const StTensor& t : files_[f]->tensors()) {
    auto [it, inserted] = by_name_.emplace(t.name, Entry{&t, f});
    if (!inserted) {
      return make_error("convert: tensor '%s' is in both %s and %s", tok::clip(t.name).c_str(),
                        files_[it->second.file]->label().c_str(), files_[f]->label().c_str());
    }
    names_.push_back(t.name);
  }
  return {};
}

const StTensor* TensorIndex::find(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : it->second.tensor;
}

const std::string& TensorIndex::file_of(std::string_view name) const {
  static const std::string kNone;
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? kNone : files_[it->second.file]->label();
}

Result<std::string> gguf_arch_for(const std::string& hf_arch) {
  std::string list;
  for (const FamilyEntry& f : kFamilies) {
    if (hf_arch == f.hf_arch) return std::string(f.arch);
    list += (list.empty() ? "" : ", ") + std::string(f.hf_arch);
  }
  return make_error("convert: config.json: architecture '%s' is not one minnow converts (%s)",
                    tok::clip(hf_arch).c_str(), list.c_str());
}

Result<Plan> plan_model(const tok::Json& config, const std::string& hf_arch, const TensorIndex& index,
                        int64_t n_tokens, gguf::Writer& w) {
  auto arch = gguf_arch_for(hf_arch);
  if (!arch) return arch.error();
  Plan plan;
  plan.arch = *arch;
  Meta m(w, plan.arch);
  const Config c(config);
  Status st;
  if (plan.arch == "llama" || plan.arch == "qwen2") {
    Planner pl(index, plan, "model.");
    st = plan_llama_qwen2(c, hf_arch, pl, plan, m);
  } else if (plan.arch == "phi3") {
    Planner pl(index, plan, "model.");
    st = plan_phi3(c, hf_arch, pl, plan, m);
  } else {
    // Gemma 3's multimodal checkpoints hold the text model under language_model (spelled two
    // ways across transformers versions) beside a vision tower this does not convert.
    std::string prefix = "model.", lm_head = "lm_head.weight";
    std::vector<std::string> skip;
    if (hf_arch == "Gemma3ForConditionalGeneration") {
      skip = {"vision_tower.", "multi_modal_projector.", "model.vision_tower.",
              "model.multi_modal_projector."};
      if (index.find("language_model.model.embed_tokens.weight")) {
        prefix = "language_model.model.";
        lm_head = "language_model.lm_head.weight";
      } else {
        prefix = "model.language_model.";
      }
    }
    Planner pl(index, plan, prefix);
    st = plan_gemma(c, hf_arch, pl, plan, m, n_tokens, skip, lm_head);
  }
  if (!st.ok()) return st.error();
  return plan;
}

}  // namespace minnow::convert

#include "models/loader.h"

#include <cmath>
#include <cstdint>

#include "gguf/gguf.h"
#include "tensor/quants.h"

namespace minnow::models {
namespace {

// Bounds far above any model minnow targets; they keep a corrupt file from requesting absurd
// buffers before the tensor shapes are checked.
constexpr int64_t kMaxDim = int64_t{1} << 20;
constexpr int64_t kMaxLayers = 1024;

Result<int> read_dim(const gguf::File& f, const std::string& key, int64_t lo, int64_t hi) {
  auto v = f.get_int(key);
  if (!v) return v.error();
  if (*v < lo || *v > hi) {
    return make_error("model: %s = %lld is out of range [%lld, %lld]", key.c_str(), static_cast<long long>(*v),
                      static_cast<long long>(lo), static_cast<long long>(hi));
  }
  return static_cast<int>(*v);
}

Result<int> read_dim_or(const gguf::File& f, const std::string& key, int def, int64_t lo, int64_t hi) {
  if (!f.find(key)) return def;
  return read_dim(f, key, lo, hi);
}

std::string shape_str(int n_dims, const int64_t* ne) {
  std::string s = "[";
  for (int i = 0; i < n_dims; ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

}  // namespace

Result<int> read_int_or(const gguf::File& f, const std::string& key, int def, int64_t lo, int64_t hi) {
  return read_dim_or(f, key, def, lo, hi);
}

Status check_batch(const HParams& hp, const KvCache& cache, const int32_t* tokens, const int32_t* positions,
                   int64_t n_tokens) {
  if (cache.n_layer() != hp.n_layer || cache.n_kv_dim() != hp.n_head_kv * hp.head_dim) {
    return make_error("model: the KV cache has %d layers of %d dims, the model %d of %d", cache.n_layer(),
                      cache.n_kv_dim(), hp.n_layer, hp.n_head_kv * hp.head_dim);
  }
  for (int il = 0; il < hp.n_layer; ++il) {
    const int want = hp.layer_window.empty() ? 0 : hp.layer_window[il];
    const bool keeps_all = cache.capacity(il) == cache.n_ctx();
    if (!keeps_all && (want == 0 || cache.window(il) < want)) {
      return make_error("model: the KV cache keeps a window of %d positions in layer %d, which attends to %s",
                        cache.window(il), il, want == 0 ? "the whole context" : strfmt("%d", want).c_str());
    }
  }
  for (int64_t t = 0; t < n_tokens; ++t) {
    if (tokens[t] < 0 || tokens[t] >= hp.n_vocab) {
      return make_error("model: token id %d is out of range [0, %d)", tokens[t], hp.n_vocab);
    }
    if (positions[t] < 0 || positions[t] >= cache.n_ctx()) {
      return make_error("model: position %d is outside the context of %d tokens", positions[t], cache.n_ctx());
    }
  }
  return Status();
}

std::string layer_tensor(int layer, const char* suffix) { return "blk." + std::to_string(layer) + "." + suffix; }

Result<HParams> read_common_hparams(const gguf::File& f, const std::string& arch) {
  HParams hp;
  hp.arch = arch;
  const std::string p = arch + ".";
  auto get = [&](const std::string& key, int64_t lo, int64_t hi) { return read_dim(f, p + key, lo, hi); };
#define MINNOW_READ(field, expr)  \
  do {                            \
    auto r_ = (expr);             \
    if (!r_) return r_.error();   \
    hp.field = *r_;               \
  } while (0)
  MINNOW_READ(n_embd, get("embedding_length", 1, kMaxDim));
  MINNOW_READ(n_layer, get("block_count", 1, kMaxLayers));
  MINNOW_READ(n_ff, get("feed_forward_length", 1, kMaxDim));
  MINNOW_READ(n_head, get("attention.head_count", 1, kMaxDim));
  MINNOW_READ(n_head_kv, read_dim_or(f, p + "attention.head_count_kv", hp.n_head, 1, kMaxDim));
  MINNOW_READ(n_ctx_train, read_dim_or(f, p + "context_length", 2048, 1, int64_t{1} << 24));
  MINNOW_READ(head_dim, read_dim_or(f, p + "attention.key_length", hp.n_embd / hp.n_head, 1, kMaxDim));
  MINNOW_READ(rope.n_rot, read_dim_or(f, p + "rope.dimension_count", hp.head_dim, 0, hp.head_dim));
#undef MINNOW_READ
  if (hp.n_head % hp.n_head_kv != 0) {
    return make_error("model: %d attention heads do not divide into %d kv heads", hp.n_head, hp.n_head_kv);
  }
  if (hp.rope.n_rot % 2 != 0) return make_error("model: %srope.dimension_count = %d is odd", p.c_str(), hp.rope.n_rot);
  auto vlen = f.get_int_or(p + "attention.value_length", hp.head_dim);
  if (!vlen) return vlen.error();
  if (*vlen != hp.head_dim) {
    return make_error("model: value_length %lld != key_length %d is not supported", static_cast<long long>(*vlen),
                      hp.head_dim);
  }

  auto eps = f.get_float_or(p + "attention.layer_norm_rms_epsilon", 1e-5);
  if (!eps) return eps.error();
  if (!(*eps > 0 && *eps < 1)) return make_error("model: rms epsilon %g is out of range", *eps);
  hp.rms_eps = static_cast<float>(*eps);

  auto base = f.get_float_or(p + "rope.freq_base", 10000.0);
  if (!base) return base.error();
  if (!(*base > 1 && std::isfinite(*base))) return make_error("model: rope.freq_base %g is out of range", *base);
  hp.rope.freq_base = static_cast<float>(*base);

  auto scaling = f.get_string_or(p + "rope.scaling.type", "none");
  if (!scaling) return scaling.error();
  if (*scaling == "linear") {
    auto factor = f.get_float(p + "rope.scaling.factor");
    if (!factor) return factor.error();
    if (!(*factor > 0 && std::isfinite(*factor))) return make_error("model: rope.scaling.factor %g", *factor);
    hp.rope.freq_scale = static_cast<float>(1.0 / *factor);
  } else if (*scaling != "none" && *scaling != "llama3") {  // llama3 scaling arrives as rope_freqs
    return make_error("model: rope scaling '%.*s' is not supported", static_cast<int>(scaling->size()),
                      scaling->data());
  }

  // The vocabulary size: explicit, else the token list's length.
  if (f.find(p + "vocab_size")) {
    auto v = read_dim(f, p + "vocab_size", 1, int64_t{1} << 24);
    if (!v) return v.error();
    hp.n_vocab = *v;
  } else {
    auto tokens = f.get_array("tokenizer.ggml.tokens");
    if (!tokens) return make_error("model: neither %svocab_size nor tokenizer.ggml.tokens is present", p.c_str());
    hp.n_vocab = static_cast<int>((*tokens)->count);
  }
  return hp;
}

bool WeightLoader::has(const std::string& name) const { return file_.find_tensor(name) != nullptr; }

Result<const gguf::TensorInfo*> WeightLoader::find(const std::string& name, int n_dims, const int64_t* ne) {
  const gguf::TensorInfo* t = file_.find_tensor(name);
  if (!t) {
    return make_error("model: missing tensor '%s' (expected shape %s)", name.c_str(),
                      shape_str(n_dims, ne).c_str());
  }
  // Trailing dimensions of 1 are the same shape.
  bool same = true;
  for (int i = 0; i < gguf::kMaxDims; ++i) {
    const int64_t want = i < n_dims ? ne[i] : 1;
    if (t->ne[i] != want) same = false;
  }
  if (!same) {
    return make_error("model: tensor '%s' has shape %s, expected %s", name.c_str(),
                      shape_str(t->n_dims, t->ne).c_str(), shape_str(n_dims, ne).c_str());
  }
  if (!dtype_info(t->type).supported) {
    return make_error("model: tensor '%s' has weight type %s, which minnow does not support", name.c_str(),
                      dtype_name(t->type));
  }
  // Block structs and f32 rows are read in place; GGUF alignment (>= 32 in practice) keeps
  // them aligned, but a file may declare less.
  if (reinterpret_cast<uintptr_t>(t->data) % 4 != 0) {
    return make_error("model: tensor '%s' data is not 4-byte aligned (general.alignment too small)", name.c_str());
  }
  bytes_ += t->n_bytes;
  params_ += static_cast<uint64_t>(t->n_elements());
  return t;
}

Result<nn::Weight> WeightLoader::matrix(const std::string& name, int64_t n_in, int64_t n_out) {
  const int64_t ne[2] = {n_in, n_out};
  auto t = find(name, 2, ne);
  if (!t) return t.error();
  return nn::Weight{(*t)->type, (*t)->data, n_in, n_out};
}

Result<nn::Weight> WeightLoader::optional_matrix(const std::string& name, int64_t n_in, int64_t n_out) {
  if (!has(name)) return nn::Weight{};
  return matrix(name, n_in, n_out);
}

Result<std::vector<float>> WeightLoader::vector(const std::string& name, int64_t n) {
  auto t = find(name, 1, &n);
  if (!t) return t.error();
  const DType type = (*t)->type;
  if (type != DType::F32 && type != DType::F16 && type != DType::BF16) {
    return make_error("model: tensor '%s' is %s, expected f32, f16 or bf16", name.c_str(), dtype_name(type));
  }
  std::vector<float> out(static_cast<size_t>(n));
  dequantize_row(type, (*t)->data, out.data(), n);
  return out;
}

}  // namespace minnow::models

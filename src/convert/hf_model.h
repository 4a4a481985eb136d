// The Hugging Face -> GGUF mapping of each model family: hyperparameters from config.json, the
// GGUF metadata they become (the keys llama.cpp's converter writes), and a plan naming every
// GGUF tensor, its shape and where its values come from. Planning reads no tensor data; it checks
// every source tensor's presence, dtype and shape, so a bad folder fails before any writing.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "base/error.h"
#include "convert/safetensors.h"
#include "tokenizer/hf_json.h"

namespace minnow::gguf {
class Writer;
}

namespace minnow::convert {

// The tensors of a model folder by name, across its shard files.
class TensorIndex {
 public:
  // Errors when a name is already in another file.
  Status add_file(SafetensorsFile file);
  const StTensor* find(std::string_view name) const;
  const std::string& file_of(std::string_view name) const;  // "" when absent
  bool empty() const { return by_name_.empty(); }
  // Names in file order, for the check that every tensor found a use.
  const std::vector<std::string>& names() const { return names_; }

 private:
  struct Entry {
    const StTensor* tensor;
    size_t file;
  };
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::unordered_map<std::string, Entry> by_name_;
  std::vector<std::string> names_;
};

// One GGUF tensor: ne[0] is the row length (GGUF order, the reverse of PyTorch's shape).
struct PlannedTensor {
  std::string name;
  std::vector<int64_t> ne;
  bool matrix = false;            // written in the output type; otherwise F32
  const StTensor* src = nullptr;  // the safetensors tensor, or null for `values`
  std::vector<float> values;      // computed values (RoPE factors) when src is null
  int rope_heads = 0;             // > 0: rows permuted within each of this many heads (llama q/k)
  float add = 0.0f;               // added to every value (Gemma stores norm weights as w - 1)

  int64_t n_rows() const;  // product of ne[1..]
};

struct Plan {
  std::string arch;  // general.architecture
  std::vector<PlannedTensor> tensors;
  int64_t n_vocab = 0;  // rows of token_embd.weight: the vocabulary is padded to it
};

// The GGUF architecture a config.json architectures[0] converts to, or an error listing those
// that convert.
Result<std::string> gguf_arch_for(const std::string& hf_arch);

// Writes the <arch>.* metadata into w and plans every tensor. config: config.json with any
// text_config merged in; n_tokens: the tokenizer's token count (Gemma 3 trims its embedding to
// it). Every tensor of the index must find a use or be one the family knowingly skips.
Result<Plan> plan_model(const tok::Json& config, const std::string& hf_arch, const TensorIndex& index,
                        int64_t n_tokens, gguf::Writer& w);

// Row r of a rotary projection with head_dim rows per head, permuted for GGUF's adjacent-pair
// RoPE, is source row row_of(r): llama.cpp's permute (HF rotates halves (i, i + head_dim/2); the
// llama GGUF graph rotates pairs (2i, 2i + 1)).
int64_t rope_permuted_row(int64_t r, int64_t head_dim);

}  // namespace minnow::convert

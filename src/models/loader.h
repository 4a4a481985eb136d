// Shared loading helpers for architectures: hyperparameters from "<arch>.*" metadata keys and
// weight tensors checked for presence, supported type and exact shape before any use.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "models/model.h"

namespace minnow::gguf {
class File;
struct TensorInfo;
}  // namespace minnow::gguf

namespace minnow::models {

// Reads the hyperparameters every decoder-only transformer here shares, validated (positive,
// bounded, heads dividing evenly). n_vocab comes from <arch>.vocab_size or the token list.
Result<HParams> read_common_hparams(const gguf::File& f, const std::string& arch);

// An optional integer key: def when absent, else checked to lie in [lo, hi].
Result<int> read_int_or(const gguf::File& f, const std::string& key, int def, int64_t lo, int64_t hi);

// Checks a forward pass's inputs before any work: token ids inside the vocabulary, positions
// inside the context, and a cache made for this model (layers, kv width, and windowed layers
// that keep at least the model's window of each).
Status check_batch(const HParams& hp, const KvCache& cache, const int32_t* tokens, const int32_t* positions,
                   int64_t n_tokens);

class WeightLoader {
 public:
  explicit WeightLoader(const gguf::File& f) : file_(f) {}

  // A matrix of n_out rows by n_in (GGUF ne = [n_in, n_out]) of a supported weight type.
  Result<nn::Weight> matrix(const std::string& name, int64_t n_in, int64_t n_out);
  // Like matrix, but absent is fine: returns a Weight with data == nullptr.
  Result<nn::Weight> optional_matrix(const std::string& name, int64_t n_in, int64_t n_out);
  // A vector of n values (f32, f16 or bf16 in the file), converted to f32.
  Result<std::vector<float>> vector(const std::string& name, int64_t n);
  bool has(const std::string& name) const;

  // Bytes and parameters of every tensor handed out so far.
  uint64_t bytes() const { return bytes_; }
  uint64_t params() const { return params_; }

 private:
  Result<const gguf::TensorInfo*> find(const std::string& name, int n_dims, const int64_t* ne);
  const gguf::File& file_;
  uint64_t bytes_ = 0;
  uint64_t params_ = 0;
};

// "blk.3.attn_q.weight" from (3, "attn_q.weight").
std::string layer_tensor(int layer, const char* suffix);

}  // namespace minnow::models

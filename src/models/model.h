// The architecture-independent model interface: hyperparameters read from GGUF metadata, a
// forward pass over a batch of tokens of one or several sequences, and the registry that maps general.architecture to the
// code that loads it. An architecture is a small file built from nn/ blocks (see llama.cpp).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/error.h"
#include "kv/kv_cache.h"
#include "nn/ops.h"

namespace minnow::gguf {
class File;
}

namespace minnow::models {

struct HParams {
  std::string arch;  // general.architecture
  int n_vocab = 0;
  int n_ctx_train = 0;
  int n_embd = 0;
  int n_layer = 0;
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim = 0;
  int n_ff = 0;
  float rms_eps = 1e-5f;
  nn::RopeParams rope;  // freq_factors stays null here; the model owns them
  // [n_layer] each layer's sliding window in positions, 0 for a global layer; empty when every
  // layer is global. The KV cache is sized from it (a windowed layer keeps only its window).
  std::vector<int> layer_window;
  // An encoder (BERT): it sees each input whole, needs no KV cache and has no output matrix, so
  // it computes embeddings (forward_hidden) and cannot generate (forward is an error).
  bool encoder = false;
};

// Which of a sequence's rows in a batch get logits: none (a prompt chunk that is not the
// prompt's end), the last (the next token is sampled from it), or all (scoring every position).
enum class LogitRows { kNone, kLast, kAll };

// A sequence's share of a batch (Model::forward_batch): n_tokens consecutive tokens, stored in
// and attending to its own KV cache.
struct SeqTokens {
  KvCache* cache = nullptr;
  int64_t n_tokens = 0;
  LogitRows logits = LogitRows::kLast;
};

class Model {
 public:
  virtual ~Model() = default;

  const HParams& hparams() const { return hp_; }
  // Bytes of weights one token's forward pass reads (for bandwidth roofline figures).
  uint64_t weight_bytes() const { return weight_bytes_; }
  uint64_t n_params() const { return n_params_; }
  // Multiply-adds x 2 of the weight matrices for one token (attention's context-length
  // dependent part excluded): the work a prompt token costs, for compute roofline figures.
  uint64_t flops_per_token() const { return flops_per_token_; }

  // Runs a batch of tokens of several sequences: tokens and positions [n_tokens], where
  // seqs[0] has the first seqs[0].n_tokens of them, seqs[1] the next, and so on. Each sequence's
  // positions are consecutive, starting at its cache's n_past(); its keys and values go to its
  // own cache, and its tokens attend only to that cache. The linear layers run over the whole
  // batch at once (the weights are read once for every sequence); a row's results are those of
  // its sequence run alone, bit for bit, whatever else is in the batch. Writes logits
  // [n_rows][n_vocab], the rows each sequence asks for, in the order of seqs. Errors: token id
  // out of range, context overflow, a cache named twice, a cache made for another model.
  virtual Status forward_batch(const nn::Compute& c, const int32_t* tokens, const int32_t* positions,
                               std::span<const SeqTokens> seqs, float* logits) const = 0;

  // One sequence: tokens [n_tokens] at positions [n_tokens] (consecutive, starting at
  // cache.n_past()). Writes logits [n_vocab] of every token when all_logits, else of the last
  // token only.
  Status forward(const nn::Compute& c, const int32_t* tokens, const int32_t* positions, int64_t n_tokens,
                 KvCache& cache, bool all_logits, float* logits) const {
    const SeqTokens seq{&cache, n_tokens, all_logits ? LogitRows::kAll : LogitRows::kLast};
    return forward_batch(c, tokens, positions, std::span<const SeqTokens>(&seq, 1), logits);
  }

  // The same pass without the output matrix: writes every token's final normed hidden state
  // [n_tokens][n_embd] (the output matrix's input) to hidden, for embeddings. An encoder does
  // not use the cache: a call holds whole inputs, one after another, each starting at position 0
  // and attending within itself only.
  virtual Status forward_hidden(const nn::Compute& c, const int32_t* tokens, const int32_t* positions,
                                int64_t n_tokens, KvCache& cache, float* hidden) const = 0;

  // Gives the linear weights of the types kt has packed kernels for a packed copy (kernels/
  // packed.h), owned by the model, packing on pool (null: this thread), and drops their file
  // pages from memory: from then on kt's kernels read only the copies (token_embd's rows, which
  // a tied output shares, come back page by page as tokens look them up). The model still runs
  // with any table.
  Status pack_weights(const gguf::File& file, const kernels::KernelTable& kt, ThreadPool* pool);
  // Bytes of the packed copies (0 when none).
  uint64_t packed_bytes() const { return packed_bytes_; }

 protected:
  // The matrices forward multiplies by (a tied output matrix shares token_embd's data).
  virtual std::vector<nn::Weight*> linear_weights() = 0;

  HParams hp_;
  uint64_t weight_bytes_ = 0;
  uint64_t n_params_ = 0;
  uint64_t flops_per_token_ = 0;

 private:
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> packed_;  // every packed copy, 64-byte aligned each
  uint64_t packed_bytes_ = 0;
};

// How load_model prepares the weights.
struct LoadConfig {
  // Pack the linear weights for this table's packed kernels (Model::pack_weights); null: keep
  // only the file's row-major data.
  const kernels::KernelTable* pack_for = nullptr;
  ThreadPool* pool = nullptr;  // packs in parallel on it; null: on the calling thread
};

// Builds the model for the file's general.architecture; errors name an unsupported one and
// every missing, mistyped or misshapen tensor. The file must outlive the model (weights are
// read in place from the mapping).
Result<std::unique_ptr<Model>> load_model(const gguf::File& file, const LoadConfig& config = {});

// Architectures minnow can run, for messages and `minnow show`.
std::vector<std::string> supported_architectures();

}  // namespace minnow::models

// Embeddings for Session::embed: inputs run through a model's forward_hidden (a decoder one
// input at a time through the KV cache in n_batch chunks, an encoder with inputs packed into
// shared passes), pooled as {arch}.pooling_type says, cut to the asked dimensions and scaled to
// unit L2 norm. Not the public API (minnow/engine.h is).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kv/kv_cache.h"
#include "minnow/engine.h"
#include "models/model.h"
#include "nn/compute.h"

namespace minnow::gguf {
class File;
}

namespace minnow {

// {arch}.pooling_type as llama.cpp reads it; kUnset when the key is absent.
enum class Pooling { kUnset = -1, kNone = 0, kMean = 1, kCls = 2, kLast = 3, kRank = 4 };

// The file's pooling type (an integer key; any other value type is an error), kUnset when absent.
Result<int64_t> read_pooling_type(const gguf::File& f, const std::string& arch);
// ModelInfo::pooling's name for a pooling type.
std::string pooling_name(int64_t pooling_type);

struct EmbedPass {
  const models::Model& model;
  const nn::Compute& c;
  KvCache& cache;  // a decoder's, emptied before each input and after the last; unused by an encoder
  int n_ctx = 0;
  int n_batch = 0;           // tokens per forward pass (an encoder packs up to max(n_batch, n_ctx))
  int64_t pooling_type = 0;  // as read_pooling_type gives it
  // The special token texts end with (BERT's [SEP]), which truncation keeps as an input's last
  // token when the input ends with it; -1: none.
  int32_t end_token = -1;
};

Result<std::vector<Embedding>> embed_inputs(const EmbedPass& pass,
                                            const std::vector<std::vector<int32_t>>& inputs,
                                            const EmbedOptions& options);

}  // namespace minnow

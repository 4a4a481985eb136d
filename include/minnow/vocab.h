// A model's vocabulary on its own: text <-> token ids, from any GGUF that carries
// tokenizer.ggml.* metadata (a whole model or a vocab-only file), without loading weights.
//
//   auto vocab = minnow::Vocab::load("model.gguf");
//   if (vocab.ok()) ids = (*vocab)->encode("Hello", /*add_special=*/true, /*parse_special=*/false);
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "minnow/error.h"

namespace minnow {

class Vocab {
 public:
  static Result<std::unique_ptr<Vocab>> load(const std::string& path);
  ~Vocab();

  // add_special: the BOS/EOS the vocabulary asks for. parse_special: special-token text in the
  // input becomes special tokens (never do this with untrusted user text).
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;
  std::string decode(const std::vector<int32_t>& ids) const;
  int32_t n_vocab() const;
  std::string model() const;  // tokenizer.ggml.model

  struct Impl;

 private:
  explicit Vocab(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace minnow

// The regex pre-tokenizers of byte-level BPE vocabularies, chosen by tokenizer.ggml.pre: they cut
// text into the pieces BPE merges within, as the Hugging Face pre_tokenizer config of each model
// family does (PCRE2 with full Unicode properties). No byte mapping or merging happens here.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace minnow::tok {

// What a tokenizer.ggml.pre name implies beyond its regexes (llama.cpp's per-name table).
struct PreTraits {
  bool ignore_merges = false;  // a piece that is itself a vocabulary token is taken whole
  bool add_bos = false;        // BOS is added when the file has no tokenizer.ggml.add_bos_token
};

// Traits of a known pre name; defaults for unknown ones (create reports those).
PreTraits pre_traits(std::string_view pre);

class PreTokenizer {
 public:
  // "" (no tokenizer.ggml.pre: files older than the key) is llama.cpp's "default". An unknown
  // name is an error naming it: guessing a regex would tokenize silently wrong.
  static Result<PreTokenizer> create(std::string_view pre);

  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;
  ~PreTokenizer();

  // Appends the pieces of text in order; they are non-empty and concatenate to text exactly.
  // Each regex in turn splits every piece so far into its matches and the gaps between them
  // (HF Split "Isolated"). Any bytes are accepted: invalid UTF-8 never matches, so it ends up
  // in gap pieces of its own. Safe to call from several threads at once.
  void split(std::string_view text, std::vector<std::string_view>& pieces) const;

  const PreTraits& traits() const { return traits_; }

  struct Regex;

 private:
  PreTokenizer() = default;
  std::vector<std::unique_ptr<Regex>> regexes_;
  PreTraits traits_;
};

}  // namespace minnow::tok

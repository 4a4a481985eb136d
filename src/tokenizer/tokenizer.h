// Text <-> token ids for the vocabularies GGUF files carry (tokenizer.ggml.*). This issue
// needs SentencePiece-style vocabularies (tokenizer.ggml.model = "llama"); the BPE family
// (gpt2 and its pre-tokenizers) joins behind the same interface.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace minnow::gguf {
class File;
}

namespace minnow {

enum class TokenType : int32_t {  // tokenizer.ggml.token_type values
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

class Tokenizer {
 public:
  // Reads tokenizer.ggml.{model,tokens,scores,token_type,merges,bos_token_id,...}; errors name
  // the missing or malformed key (and an unsupported tokenizer.ggml.model).
  static Result<Tokenizer> from_gguf(const gguf::File& file);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Encodes text. add_bos: prepend BOS when the vocabulary asks for it (add_bos_token; default
  // true for SPM). parse_special: text like "<s>" or "<|im_start|>" maps to control tokens;
  // false treats it as plain text (user content must never become special tokens).
  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const;

  // The bytes of one token as it appears in output: SPM's "▁" becomes a space, <0xNN> byte
  // tokens become that byte (possibly part of a UTF-8 sequence). Control tokens give "" unless
  // render_special. Out-of-range ids give "".
  std::string token_to_piece(int32_t id, bool render_special = false) const;

  // Concatenated pieces (a leading space after BOS is dropped, as SPM decoding does).
  std::string decode(const std::vector<int32_t>& ids) const;

  int32_t n_vocab() const;
  int32_t bos_id() const;  // -1 when none
  int32_t eos_id() const;  // -1 when none
  bool add_bos() const;    // whether the vocabulary wants BOS prepended
  bool is_eog(int32_t id) const;  // end of generation: eos, eot, and the like
  std::string_view model() const;  // tokenizer.ggml.model ("llama", "gpt2", ...)
  std::string_view token_text(int32_t id) const;  // the raw vocab entry

  struct Impl;

 private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Streams token pieces as valid UTF-8: bytes of an incomplete sequence are held back until
// the sequence completes; invalid bytes become U+FFFD.
class Utf8Stream {
 public:
  std::string push(std::string_view bytes);  // returns what can be printed now
  std::string flush();                       // at the end: what is left (invalid -> U+FFFD)

 private:
  std::string pending_;
};

}  // namespace minnow

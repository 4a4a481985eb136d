// Text <-> token ids for the vocabularies GGUF files carry (tokenizer.ggml.*): SentencePiece
// ("llama"), byte-level BPE with the pre-tokenizer named by tokenizer.ggml.pre ("gpt2") and
// WordPiece ("bert"), behind one interface that also handles special and control tokens.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
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

// The tokenizer.ggml.* metadata as plain data. from_gguf reads one from a file; tests and tools
// can build one directly. Absent optional fields take the model's defaults.
struct VocabSpec {
  std::string model;                // tokenizer.ggml.model
  std::string name;                 // general.name: a few models' token quirks key on it, as in llama.cpp
  std::string pre;                  // tokenizer.ggml.pre: the BPE pre-tokenizer ("llama-bpe", ...); "" absent
  std::vector<std::string> tokens;  // tokenizer.ggml.tokens
  std::optional<std::vector<std::string>> merges;  // tokenizer.ggml.merges ("a b" pairs, BPE rank order)
  std::optional<std::vector<float>> scores;         // absent: all 0
  std::optional<std::vector<int32_t>> token_types;  // absent: all normal
  // Special ids; -1 or 0xFFFFFFFF (how converters write "none") mean none. Absent: each
  // model's defaults (SPM: bos 1, eos 2, unk 0 where the vocabulary is that large; BPE: none).
  std::optional<int64_t> bos_id, eos_id, unk_id, pad_id, eot_id, eom_id;
  std::optional<bool> add_bos, add_eos, add_space_prefix;  // absent: the model's defaults (SPM: true, false, true)
};

class Tokenizer {
 public:
  // Reads tokenizer.ggml.{model,tokens,scores,token_type,bos_token_id,...}; errors name the
  // missing or malformed key (and an unsupported tokenizer.ggml.model).
  static Result<Tokenizer> from_gguf(const gguf::File& file);
  // Validates spec (lengths agree, ids in range, token types known, vocabulary not empty).
  static Result<Tokenizer> from_spec(VocabSpec spec);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Encodes text. add_bos: add the special tokens the vocabulary asks for: BOS in front
  // (add_bos_token; default true for SPM) and EOS at the end (add_eos_token; rare).
  // parse_special: text like "<s>" or "<|im_start|>" maps to control tokens; false treats it as
  // plain text (user content must never become special tokens). User-defined tokens are whole
  // pieces of the vocabulary and match either way, as in SentencePiece and llama.cpp.
  // Any bytes are accepted: invalid UTF-8 falls back to byte tokens (or unk).
  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const;
  // The same, but no special token of any kind (user-defined ones included) is recognized
  // where it would overlap a protected byte range [first, second) of text: how a formatted
  // conversation keeps what users typed as plain text while its template's own markers
  // tokenize as specials, all in one pass (SPM's leading space and merges unchanged).
  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special,
                              const std::vector<std::pair<size_t, size_t>>& protected_spans) const;

  // The bytes of one token as it appears in output: SPM's "▁" becomes a space, <0xNN> byte
  // tokens become that byte (possibly part of a UTF-8 sequence). Control tokens give "" unless
  // render_special. Out-of-range ids give "".
  std::string token_to_piece(int32_t id, bool render_special = false) const;

  // Concatenated pieces. With add_space_prefix, the leading space of the first piece that is
  // not a control token (BOS) is dropped, as SentencePiece decoding does, so that
  // decode(encode(x)) == x. ends, when given, receives where each id's part of the text ends:
  // (*ends)[i] is the text's length after ids[i], so that a token's text within the whole can be
  // cut out (a prompt's tokens shown against the prompt).
  std::string decode(const std::vector<int32_t>& ids, std::vector<size_t>* ends = nullptr) const;

  int32_t n_vocab() const;
  int32_t bos_id() const;  // -1 when none
  int32_t eos_id() const;  // -1 when none
  int32_t eot_id() const;  // end of turn (tokenizer.ggml.eot_token_id or a known marker); -1
  bool add_bos() const;    // whether the vocabulary wants BOS prepended
  bool add_eos() const;    // whether it wants EOS appended (BERT's [SEP])
  // End of generation: eos, eot, eom, and control tokens whose text is a well-known end
  // marker (<|end|>, <|im_end|>, <|eot_id|>, <end_of_turn>, <|endoftext|>, ...).
  bool is_eog(int32_t id) const;
  TokenType token_type(int32_t id) const;         // kUndefined for out-of-range ids
  std::string_view model() const;                 // tokenizer.ggml.model ("llama", "gpt2", ...)
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

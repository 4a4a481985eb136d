// The validated vocabulary every tokenizer model shares: token texts, scores, types, special
// ids and lookup tables. Built once from a VocabSpec; immutable afterwards.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/error.h"
#include "tokenizer/tokenizer.h"

namespace minnow::gguf {
class File;
}

namespace minnow::tok {

struct Vocab {
  std::string model;
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<TokenType> types;
  int32_t bos = -1, eos = -1, unk = -1, pad = -1, eot = -1, eom = -1;
  bool add_bos = true, add_eos = false, add_space_prefix = true;

  // Text -> id over the tokens ordinary text may become: normal, user-defined, unused (not
  // control, unknown or byte tokens, which only special-token parsing or byte fallback
  // produce). A duplicated text maps to its lowest id. Views point into `tokens`.
  std::unordered_map<std::string_view, int32_t> piece_to_id;
  // Tokens matched in the text before the model runs, longest text first: user-defined ones
  // always, control and unknown ones only when parsing specials. Empty texts are left out.
  std::vector<int32_t> specials;
  // [n_vocab] 1: a special token that swallows the whitespace after it (Phi-3's chat markers
  // carry rstrip in their Hugging Face config; GGUF has no key for it).
  std::vector<uint8_t> rstrip;
  std::vector<int32_t> eog;  // end-of-generation ids, sorted
  // Byte fallback: the <0xNN> token for each byte, else the one-byte piece, else -1 (unk).
  std::array<int32_t, 256> byte_to_id{};
  std::vector<int16_t> token_byte;  // [n_vocab] the byte a <0xNN> byte token stands for, or -1

  int32_t n_vocab() const { return static_cast<int32_t>(tokens.size()); }
  TokenType type(int32_t id) const {
    return id >= 0 && id < n_vocab() ? types[static_cast<size_t>(id)] : TokenType::kUndefined;
  }
};

// Reads the tokenizer.ggml.* keys; type errors and a missing tokens array name the key.
Result<VocabSpec> read_spec(const gguf::File& file);

// Validates spec and builds the lookup tables. Errors start with "tokenizer: ".
Result<Vocab> build_vocab(VocabSpec spec);

}  // namespace minnow::tok

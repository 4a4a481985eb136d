// The SentencePiece-style half of the tokenizer.json import (hf_import.cpp): BPE with byte
// fallback and "▁" for spaces (Llama 2, Mistral, Phi-3, Gemma) read as our SPM tokenizer
// (tokenizer.ggml.model "llama"). Not the token table or special ids, which hf_import shares.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/error.h"
#include "tokenizer/hf_json.h"

namespace minnow::tok {

struct SpmStyle {
  bool add_space_prefix = false;  // a "▁" goes in front of the text (Prepend, Metaspace)
};

// Checks that the normalizer, pre-tokenizer and BPE options do nothing beyond what our SPM
// tokenizer does (spaces -> "▁", optionally one "▁" in front) and reads whether they prepend.
// An error names the step that does more.
Result<SpmStyle> read_spm_style(const Json& tokenizer_json, const Json& model);

// "<0xNN>": a byte-fallback token.
bool is_byte_token_text(std::string_view text);

// Scores under which SpmModel merges in the BPE rank order of `merges` ("a b", validated:
// each joined pair is a token of by_text). Errors when there are too many ranks for float.
Result<std::vector<float>> spm_scores_from_merges(
    const std::vector<std::string>& merges, const std::unordered_map<std::string_view, int32_t>& by_text,
    size_t n_tokens);

}  // namespace minnow::tok

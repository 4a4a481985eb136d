// Hugging Face tokenizer.json (with tokenizer_config.json or config.json) -> the tokenizer.ggml.*
// metadata llama.cpp's convert_hf_to_gguf.py writes: byte-level BPE ("gpt2"), WordPiece ("bert")
// and SentencePiece-style BPE (Llama 2, Mistral, Phi-3, Gemma: byte fallback, "▁" for spaces) as
// "llama" with scores that keep the merge order. Unigram and WordLevel are not supported yet and
// say so. The JSON is untrusted: every problem is an Error, nothing throws.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "tokenizer/tokenizer.h"

namespace minnow::gguf {
class Writer;
}

namespace minnow::tok {

struct HfImportOptions {
  // tokenizer.ggml.pre to write instead of the name recognized from the pre_tokenizer config;
  // the way to import a byte-level BPE whose pre-tokenizer is not in the recognized table.
  std::string pre;
};

// tokenizer_json: the whole tokenizer.json. config_json: tokenizer_config.json (bos_token,
// eos_token, unk_token, pad_token, add_bos_token, add_eos_token) or config.json (bos_token_id,
// eos_token_id, pad_token_id, vocab_size), or "" for none. Special ids come from the config's
// token names first, then its ids, then tokenizer.json's post_processor; add_bos/add_eos from
// the config's flags, else from whether the post_processor adds them (false without one).
// SentencePiece-style files get explicit none (-1) for a bos/eos/unk no file names, so that
// SPM's default ids (1, 2, 0) never stand in for them.
// Token ids must run from 0 without gaps or repeats; a config vocab_size beyond them pads with
// unused "[PAD<id>]" tokens, as llama.cpp does for models whose embedding has spare rows.
Result<VocabSpec> import_hf_tokenizer(std::string_view tokenizer_json, std::string_view config_json,
                                      const HfImportOptions& options = {});

// tokenizer_config.json's chat_template: a string, or the "default" entry (else the first) of a
// list of named templates. nullopt when there is none.
Result<std::optional<std::string>> hf_chat_template(std::string_view config_json);

// Writes spec as tokenizer.ggml.* keys; ids as uint32 (none as 0xFFFFFFFF), absent optional
// fields not at all. general.name and the chat template are the caller's.
void write_vocab_metadata(const VocabSpec& spec, gguf::Writer& w);

}  // namespace minnow::tok

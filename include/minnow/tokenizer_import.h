// Converting a Hugging Face tokenizer (tokenizer.json, with tokenizer_config.json or config.json)
// into a vocab-only GGUF: the tokenizer.ggml.* metadata llama.cpp's converter writes, no tensors.
// Byte-level BPE, SentencePiece-style BPE (Llama 2, Mistral, Phi-3, Gemma) and WordPiece
// tokenizers; other kinds (Unigram, WordLevel) are reported as not supported yet.
//
//   minnow::TokenizerImportOptions options;
//   options.config_path = "tokenizer_config.json";
//   auto r = minnow::import_hf_tokenizer_to_gguf("tokenizer.json", "vocab.gguf", options);
//   if (!r.ok()) std::fprintf(stderr, "%s\n", r.error().message.c_str());
#pragma once

#include <cstdint>
#include <string>

#include "minnow/error.h"

namespace minnow {

struct TokenizerImportOptions {
  std::string config_path;  // tokenizer_config.json or config.json; "" for none
  std::string name;         // general.name; "" names it after tokenizer.json's directory
  // tokenizer.ggml.pre to write instead of the one recognized from the pre-tokenizer config
  // (llama.cpp's names: "llama-bpe", "qwen2", "smollm", "gpt-2", ...).
  std::string pre;
};

struct TokenizerImportSummary {
  std::string model;  // tokenizer.ggml.model: "gpt2", "llama" (SentencePiece) or "bert"
  std::string pre;    // tokenizer.ggml.pre, "" when none
  int64_t n_tokens = 0;
  int64_t n_merges = 0;  // written merges; SentencePiece keeps its order in scores instead
  int64_t bos_id = -1, eos_id = -1;  // -1: none
  bool chat_template = false;        // whether tokenizer.chat_template was written
};

// Reads the files, imports them and writes out_gguf. Errors name the file and what is wrong
// with it; nothing is written unless the import succeeds.
Result<TokenizerImportSummary> import_hf_tokenizer_to_gguf(const std::string& tokenizer_json_path,
                                                           const std::string& out_gguf,
                                                           const TokenizerImportOptions& options = {});

}  // namespace minnow

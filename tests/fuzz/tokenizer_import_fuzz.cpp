// Fuzzes the Hugging Face tokenizer.json import: the input is a tokenizer.json (no config). What
// imports must also build a tokenizer that encodes and decodes a fixed text. Must never crash,
// hang or leak. Seeds: corpus/tokenizer_import (byte-level, SentencePiece-style, Gemma-style).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/hf_import.h"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  auto spec = minnow::tok::import_hf_tokenizer(json, "");
  if (!spec.ok()) return 0;
  auto tok = minnow::Tokenizer::from_spec(std::move(spec).value());
  if (!tok.ok()) return 0;
  for (bool special : {false, true}) {
    const std::vector<int32_t> ids = tok->encode(" Hello  wor\xC3\xA9ld\n\t<s>ab abc\xFF", true, special);
    for (int32_t id : ids) {
      if (id < 0 || id >= tok->n_vocab()) __builtin_trap();  // encode must only emit valid ids
    }
    (void)tok->decode(ids);
  }
  return 0;
}

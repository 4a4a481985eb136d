// Converting a Hugging Face model folder into a GGUF file minnow (and llama.cpp) can load:
// config.json, tokenizer.json (+ tokenizer_config.json with the chat template) and
// model.safetensors or shards listed by model.safetensors.index.json. Families: Llama, Mistral
// (-> llama), Qwen2 (-> qwen2), Phi-3 (-> phi3), Gemma 2 (-> gemma2), Gemma 3 (-> gemma3).
// Weight matrices become F16, BF16 or F32; norms, biases and RoPE factors stay F32.
//
//   minnow::ConvertOptions options;
//   options.type = minnow::ConvertType::kF16;
//   auto r = minnow::convert_hf_to_gguf("SmolLM2-135M-Instruct", "smollm2.gguf", options);
//   if (!r.ok()) std::fprintf(stderr, "%s\n", r.error().message.c_str());
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "minnow/error.h"

namespace minnow {

enum class ConvertType { kF32, kF16, kBF16 };

// "f32", "f16", "bf16" (any case); nullopt otherwise.
std::optional<ConvertType> parse_convert_type(std::string_view name);
const char* convert_type_name(ConvertType type);

struct ConvertOptions {
  ConvertType type = ConvertType::kF16;  // of the weight matrices
  std::string name;                      // general.name; "" names it after the folder
};

struct ConvertSummary {
  std::string hf_architecture;  // config.json's architectures[0]
  std::string architecture;     // general.architecture written
  int64_t n_tensors = 0;
  uint64_t n_params = 0;
  int64_t n_vocab = 0;
  uint64_t file_size = 0;
  bool chat_template = false;  // whether tokenizer.chat_template was written
};

// Reads the folder, checks every tensor's presence, dtype and shape against config.json before
// writing, then writes out_path (through a temporary renamed at the end: a failed conversion
// leaves no file, and an existing out_path untouched). Errors name the file, the tensor and the
// expected shape, or the config field that is missing.
Result<ConvertSummary> convert_hf_to_gguf(const std::string& dir, const std::string& out_path,
                                          const ConvertOptions& options = {});

}  // namespace minnow

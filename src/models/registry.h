// One loader per general.architecture string (the string is a file-format contract).
#pragma once

#include <memory>

#include "base/error.h"
#include "models/model.h"

namespace minnow::models {

Result<std::unique_ptr<Model>> load_llama(const gguf::File& f);
Result<std::unique_ptr<Model>> load_qwen2(const gguf::File& f);
Result<std::unique_ptr<Model>> load_phi3(const gguf::File& f);
Result<std::unique_ptr<Model>> load_gemma2(const gguf::File& f);
Result<std::unique_ptr<Model>> load_gemma3(const gguf::File& f);
Result<std::unique_ptr<Model>> load_bert(const gguf::File& f);

}  // namespace minnow::models

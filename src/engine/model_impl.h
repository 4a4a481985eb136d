// Model::Impl, shared by the engine's files (engine.cpp, chat_format.cpp); not public.
#pragma once

#include <memory>
#include <optional>

#include "base/thread_pool.h"
#include "gguf/gguf.h"
#include "kernels/kernel_table.h"
#include "minnow/engine.h"
#include "models/model.h"
#include "tokenizer/tokenizer.h"

namespace minnow {

struct Model::Impl {
  explicit Impl(gguf::File f) : file(std::move(f)) {}
  gguf::File file;
  std::unique_ptr<models::Model> model;
  std::optional<Tokenizer> tokenizer;
  const kernels::KernelTable* kt = nullptr;
  std::unique_ptr<ThreadPool> pool;
  ModelInfo info;
};

}  // namespace minnow

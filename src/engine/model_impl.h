// Model::Impl, shared by the engine's files (engine.cpp, chat_format.cpp, batch_generator.cpp);
// not public.
#pragma once

#include <memory>
#include <mutex>
#include <optional>

#include "base/thread_pool.h"
#include "chat/template.h"
#include "gguf/gguf.h"
#include "grammar/matcher.h"
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
  int64_t pooling_type = -1;  // {arch}.pooling_type (engine/embed.h), -1 when absent
  // The chat template (the model's, or kDefaultChatTemplate), parsed once at load; a template
  // that does not parse is reported when a conversation is formatted, not at load (--raw and
  // logits do not need it).
  Result<chat::Template> chat_template = Error{"chat template: not parsed"};

  // The vocabulary as a trie for grammar-constrained generation: built on first use (tens of
  // milliseconds for a large vocabulary), then shared by every generation; null without a
  // tokenizer.
  std::shared_ptr<const grammar::VocabTrie> vocab_trie() const;
  mutable std::once_flag trie_once;
  mutable std::shared_ptr<const grammar::VocabTrie> trie;

  // A KV cache for a session or a batch slot: n_ctx positions (<= 0: the trained context,
  // capped at 4096), sliding-window layers keeping a ring of their window.
  Result<KvCache> new_cache(int n_ctx, bool kv_f32) const;
};

}  // namespace minnow

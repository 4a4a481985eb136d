// Implements the public API (include/minnow/engine.h): model loading with the tokenizer and
// kernel table, sessions owning a KV cache, and the prompt -> tokens -> sampled text loop (one
// sequence's sampling is generation.cpp's, which BatchGenerator shares).
#include "minnow/engine.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>

#include "base/thread_pool.h"
#include "engine/embed.h"
#include "engine/generation.h"
#include "engine/model_impl.h"
#include "gguf/gguf.h"
#include "kernels/kernel_table.h"
#include "models/model.h"
#include "tokenizer/tokenizer.h"

namespace minnow {
namespace {

constexpr int kDefaultMaxCtx = 4096;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string render_value(const gguf::Value& v) {
  using gguf::ValueType;
  switch (v.type) {
    case ValueType::UINT8:
    case ValueType::UINT16:
    case ValueType::UINT32:
    case ValueType::UINT64:
      return std::to_string(v.u);
    case ValueType::INT8:
    case ValueType::INT16:
    case ValueType::INT32:
    case ValueType::INT64:
      return std::to_string(v.i);
    case ValueType::FLOAT32:
    case ValueType::FLOAT64:
      return strfmt("%g", v.f);
    case ValueType::BOOL:
      return v.u ? "true" : "false";
    case ValueType::STRING:
      return v.str.size() > 200 ? std::string(v.str.substr(0, 200)) + strfmt("... (%zu bytes)", v.str.size())
                                : std::string(v.str);
    case ValueType::ARRAY: {
      const gguf::ArrayValue& a = *v.arr;
      std::string s = "[";
      const uint64_t shown = std::min<uint64_t>(a.count, 8);
      for (uint64_t i = 0; i < shown; ++i) {
        if (i) s += ", ";
        if (a.elem_type == ValueType::STRING) {
          s += "\"" + std::string(a.strings[i]) + "\"";
        } else if (a.elem_type == ValueType::FLOAT32 || a.elem_type == ValueType::FLOAT64) {
          s += strfmt("%g", a.float_at(i));
        } else {
          s += std::to_string(a.int_at(i));
        }
      }
      if (a.count > shown) s += strfmt(", ... (%llu %s)", static_cast<unsigned long long>(a.count),
                                       gguf::value_type_name(a.elem_type));
      return s + "]";
    }
  }
  return "?";
}

// llama.cpp's general.file_type values: the name users know a quantization by.
const char* file_type_name(int64_t ft) {
  static const std::map<int64_t, const char*> names = {
      {0, "F32"},     {1, "F16"},     {2, "Q4_0"},    {3, "Q4_1"},    {7, "Q8_0"},    {8, "Q5_0"},
      {9, "Q5_1"},    {10, "Q2_K"},   {11, "Q3_K_S"}, {12, "Q3_K_M"}, {13, "Q3_K_L"}, {14, "Q4_K_S"},
      {15, "Q4_K_M"}, {16, "Q5_K_S"}, {17, "Q5_K_M"}, {18, "Q6_K"},   {32, "BF16"}};
  auto it = names.find(ft);
  return it == names.end() ? nullptr : it->second;
}

std::string quantization_of(const gguf::File& f) {
  auto ft = f.get_int_or("general.file_type", -1);
  if (ft.ok() && file_type_name(*ft)) return file_type_name(*ft);
  std::map<DType, uint64_t> bytes;
  for (const auto& t : f.tensors()) bytes[t.type] += t.n_bytes;
  auto best = std::max_element(bytes.begin(), bytes.end(),
                               [](const auto& a, const auto& b) { return a.second < b.second; });
  if (best == bytes.end()) return "unknown";
  std::string s = dtype_name(best->first);
  std::transform(s.begin(), s.end(), s.begin(), ::toupper);
  return s;
}

}  // namespace

struct Session::Impl {
  std::shared_ptr<Model> owner;  // keeps the weights mapped
  Model::Impl* model = nullptr;
  KvCache cache;
  SessionOptions options;
  std::vector<float> logits;  // [n_rows][n_vocab] of the last eval
  int64_t n_logit_rows = 0;
  std::vector<int32_t> context;  // [n_past] the tokens whose keys and values the cache holds
  nn::Scratch scratch;           // the forward passes' activation buffers, reused

  // Forgets the context beyond its first n tokens (n <= n_past).
  void rewind(int n) {
    cache.set_n_past(n);
    context.resize(n);
    n_logit_rows = 0;
  }

  // Embeddings of inputs (engine/embed.h), from an empty context and leaving it empty.
  // end_token: the special token truncation keeps as an input's last, -1 for none.
  Result<std::vector<Embedding>> embed(const std::vector<std::vector<int32_t>>& inputs, int32_t end_token,
                                       const EmbedOptions& o) {
    const nn::Compute c{*model->kt, *model->pool, nullptr, &scratch};
    rewind(0);
    auto out = embed_inputs({*model->model, c, cache, options.n_ctx, options.n_batch, model->pooling_type, end_token},
                            inputs, o);
    rewind(0);
    return out;
  }
};

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;
const ModelInfo& Model::info() const { return impl_->info; }

Result<std::shared_ptr<Model>> Model::load(const std::string& path, const LoadOptions& options) {
  auto opened = gguf::File::open(path);
  if (!opened) return opened.error();
  auto impl = std::make_unique<Impl>(std::move(*opened));
  if (options.isa.empty()) {
    impl->kt = &kernels::active();
  } else if (const std::optional<kernels::Isa> isa = kernels::isa_from_name(options.isa)) {
    if (!kernels::isa_available(*isa)) return make_error("isa '%s' is not available on this CPU", options.isa.c_str());
    impl->kt = &kernels::table(*isa);
  } else {
    std::string known;
    for (kernels::Isa k : kernels::all_isas()) known += std::string(known.empty() ? "" : ", ") + kernels::isa_name(k);
    return make_error("unknown isa '%s' (%s)", options.isa.c_str(), known.c_str());
  }
  impl->pool = std::make_unique<ThreadPool>(options.n_threads);
  const models::LoadConfig config{options.repack ? impl->kt : nullptr, impl->pool.get()};
  auto m = models::load_model(impl->file, config);
  if (!m) return m.error().with_context(path);
  impl->model = std::move(*m);

  ModelInfo& info = impl->info;
  auto tok = Tokenizer::from_gguf(impl->file);
  if (tok) {
    impl->tokenizer.emplace(std::move(*tok));
  } else {
    info.tokenizer_error = tok.error().message;
  }
  const models::HParams& hp = impl->model->hparams();
  const gguf::File& f = impl->file;
  info.path = path;
  info.architecture = hp.arch;
  auto name = f.get_string_or("general.name", "");
  info.name = name.ok() ? std::string(*name) : "";
  info.quantization = quantization_of(f);
  info.n_params = impl->model->n_params();
  info.file_size = f.file_size();
  info.weight_bytes_per_token = impl->model->weight_bytes();
  info.flops_per_token = impl->model->flops_per_token();
  info.context_length = hp.n_ctx_train;
  info.embedding_length = hp.n_embd;
  info.n_layer = hp.n_layer;
  info.n_head = hp.n_head;
  info.n_head_kv = hp.n_head_kv;
  info.n_vocab = hp.n_vocab;
  auto tmpl = f.get_string_or("tokenizer.chat_template", "");
  info.chat_template = !options.chat_template.empty() ? options.chat_template : tmpl.ok() ? std::string(*tmpl) : "";
  auto tm = f.get_string_or("tokenizer.ggml.model", "");
  info.tokenizer = tm.ok() ? std::string(*tm) : "";
  info.isa = kernels::isa_name(impl->kt->isa);
  info.n_threads = impl->pool->size();
  for (const auto& [key, value] : f.metadata()) info.metadata.emplace_back(key, render_value(value));
  auto pooling = read_pooling_type(f, hp.arch);
  if (!pooling) return pooling.error().with_context(path);
  impl->pooling_type = *pooling;
  info.pooling = pooling_name(*pooling);
  info.embedding_only = hp.encoder;
  impl->chat_template = chat::Template::parse(info.chat_template.empty() ? kDefaultChatTemplate : info.chat_template);
  return std::shared_ptr<Model>(new Model(std::move(impl)));
}

Result<std::vector<int32_t>> Model::tokenize(std::string_view text, bool add_bos, bool parse_special) const {
  if (!impl_->tokenizer) return Error{impl_->info.tokenizer_error};
  return impl_->tokenizer->encode(text, add_bos && impl_->tokenizer->add_bos(), parse_special);
}

std::string Model::token_to_piece(int32_t id) const {
  return impl_->tokenizer ? impl_->tokenizer->token_to_piece(id) : std::string();
}

std::shared_ptr<const grammar::VocabTrie> Model::Impl::vocab_trie() const {
  std::call_once(trie_once, [this] {
    if (tokenizer) trie = build_vocab_trie(*tokenizer);
  });
  return trie;
}

Result<KvCache> Model::Impl::new_cache(int n_ctx, bool kv_f32) const {
  const models::HParams& hp = model->hparams();
  if (n_ctx <= 0) n_ctx = std::min(hp.n_ctx_train, kDefaultMaxCtx);
  // Sliding-window layers get a ring of their window rather than n_ctx rows.
  return KvCache::create(hp.n_layer, n_ctx, hp.n_head_kv * hp.head_dim, kv_f32 ? DType::F32 : DType::F16,
                         hp.layer_window);
}

Result<std::unique_ptr<Session>> Model::new_session(const SessionOptions& options) {
  const models::HParams& hp = impl_->model->hparams();
  int n_ctx = options.n_ctx > 0 ? options.n_ctx : std::min(hp.n_ctx_train, kDefaultMaxCtx);
  auto impl = std::make_unique<Session::Impl>();
  if (hp.encoder) {
    // No KV cache: an encoder sees each input whole. It has embeddings for n_ctx_train positions only.
    n_ctx = std::min(n_ctx, hp.n_ctx_train);
  } else {
    auto cache = impl_->new_cache(n_ctx, options.kv_f32);
    if (!cache) return cache.error();
    impl->cache = std::move(*cache);
  }
  impl->owner = shared_from_this();
  impl->model = impl_.get();
  impl->options = options;
  impl->options.n_ctx = n_ctx;
  impl->options.n_batch = std::max(1, options.n_batch);
  return std::unique_ptr<Session>(new Session(std::move(impl)));
}

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::~Session() = default;
int Session::n_ctx() const { return impl_->options.n_ctx; }
int Session::n_past() const { return impl_->cache.n_past(); }

void Session::reset() { impl_->rewind(0); }

namespace {

Status refuse_encoder(const Model::Impl& m) {
  if (!m.model->hparams().encoder) return Status();
  return make_error("%s is an embedding model (a %s encoder): it computes embeddings and cannot generate text",
                    m.info.path.c_str(), m.info.architecture.c_str());
}

}  // namespace

Status Session::eval(std::span<const int32_t> tokens, bool all_logits) {
  if (tokens.empty()) return make_error("eval: no tokens");
  Model::Impl& m = *impl_->model;
  MINNOW_CHECK_OK(refuse_encoder(m));
  const int n_vocab = m.model->hparams().n_vocab;
  const int64_t n_rows = all_logits ? static_cast<int64_t>(tokens.size()) : 1;
  // Every position's logits of a long sequence would not fit in memory (128k positions x 128k
  // vocabulary is 64 GB): refuse beyond 1 GiB rather than fail the allocation.
  constexpr int64_t kMaxLogitFloats = int64_t{1} << 28;
  if (n_rows > kMaxLogitFloats / n_vocab) {
    return make_error("eval: the logits of %lld positions x %d vocabulary entries exceed 1 GiB; ask for fewer positions",
                      static_cast<long long>(n_rows), n_vocab);
  }
  const int64_t n_past = impl_->cache.n_past();
  if (n_past + static_cast<int64_t>(tokens.size()) > impl_->cache.n_ctx()) {
    return make_error("context full: %lld tokens in context + %zu new exceed the context size of %d",
                      static_cast<long long>(n_past), tokens.size(), impl_->cache.n_ctx());
  }
  const nn::Compute c{*m.kt, *m.pool, nullptr, &impl_->scratch};
  impl_->logits.assign(static_cast<size_t>(n_rows) * n_vocab, 0.0f);
  impl_->n_logit_rows = 0;
  // Batches of at most n_batch tokens bound the activation memory of long prompts.
  const int64_t n_batch = impl_->options.n_batch;
  std::vector<int32_t> positions;
  for (size_t begin = 0; begin < tokens.size(); begin += n_batch) {
    const size_t n = std::min<size_t>(n_batch, tokens.size() - begin);
    const bool last = begin + n == tokens.size();
    positions.resize(n);
    for (size_t i = 0; i < n; ++i) positions[i] = static_cast<int32_t>(impl_->cache.n_past() + i);
    // Without all_logits only the final batch's last row is wanted; earlier batches want none.
    const models::SeqTokens seq{&impl_->cache, static_cast<int64_t>(n),
                                all_logits ? models::LogitRows::kAll
                                : last     ? models::LogitRows::kLast
                                           : models::LogitRows::kNone};
    float* out = impl_->logits.data() + (all_logits ? begin * n_vocab : 0);
    const Status st = m.model->forward_batch(c, tokens.data() + begin, positions.data(),
                                             std::span<const models::SeqTokens>(&seq, 1), out);
    if (!st.ok()) {
      impl_->rewind(static_cast<int>(n_past));  // a failed eval leaves the context as it was
      return st;
    }
    impl_->context.insert(impl_->context.end(), tokens.begin() + begin, tokens.begin() + begin + n);
  }
  impl_->n_logit_rows = n_rows;
  return Status();
}

std::span<const float> Session::logits(int64_t i) const {
  const int64_t n_vocab = impl_->model->model->hparams().n_vocab;
  if (i < 0 || i >= impl_->n_logit_rows) return {};
  return std::span<const float>(impl_->logits.data() + i * n_vocab, static_cast<size_t>(n_vocab));
}

Result<std::vector<GeneratedToken>> Session::prompt_logprobs(std::span<const int32_t> tokens, int top_n) {
  Model::Impl& m = *impl_->model;
  MINNOW_CHECK_OK(refuse_encoder(m));
  if (!m.tokenizer) return Error{m.info.tokenizer_error};
  if (tokens.empty()) return make_error("prompt_logprobs: no tokens");
  if (top_n < 0 || top_n > kMaxTopLogprobs)
    return make_error("top_logprobs must be between 0 and %d, not %d", kMaxTopLogprobs, top_n);
  if (static_cast<int64_t>(tokens.size()) > n_ctx()) {
    return make_error("the prompt is %zu tokens, longer than the context of %d (raise --ctx-size)", tokens.size(),
                      n_ctx());
  }
  const Tokenizer& tok = *m.tokenizer;
  std::vector<size_t> ends;
  const std::string text = tok.decode(std::vector<int32_t>(tokens.begin(), tokens.end()), &ends);
  std::vector<GeneratedToken> out(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    const size_t begin = i == 0 ? 0 : ends[i - 1];
    out[i].id = tokens[i];
    out[i].text = text.substr(begin, ends[i] - begin);
  }
  impl_->rewind(0);
  // Row j of a chunk's logits predicts the token after it. Chunks of n_batch tokens bound the
  // logits held at once (every row of a long prompt with a large vocabulary would be gigabytes).
  const size_t chunk = static_cast<size_t>(impl_->options.n_batch);
  for (size_t begin = 0; begin < tokens.size(); begin += chunk) {
    const size_t n = std::min(chunk, tokens.size() - begin);
    MINNOW_CHECK_OK(eval(tokens.subspan(begin, n), true));
    for (size_t j = 0; j < n && begin + j + 1 < tokens.size(); ++j)
      fill_logprobs(logits(static_cast<int64_t>(j)), top_n, tok, out[begin + j + 1]);
  }
  return out;
}

Result<GenerateStats> Session::generate(std::string_view prompt, const GenerateOptions& options,
                                        const std::function<bool(std::string_view)>& on_text) {
  Model::Impl& m = *impl_->model;
  if (!m.tokenizer) return Error{m.info.tokenizer_error};
  const Tokenizer& tok = *m.tokenizer;
  return generate(tok.encode(prompt, options.add_bos && tok.add_bos(), options.parse_special), options, on_text);
}

Result<GenerateStats> Session::generate(const std::vector<int32_t>& tokens, const GenerateOptions& options,
                                        const std::function<bool(std::string_view)>& on_text) {
  return generate(tokens, options,
                  [&](const GeneratedPiece& p) { return p.text.empty() || on_text(p.text); });
}

Result<GenerateStats> Session::generate(const std::vector<int32_t>& tokens, const GenerateOptions& options,
                                        const std::function<bool(const GeneratedPiece&)>& on_piece) {
  Model::Impl& m = *impl_->model;
  MINNOW_CHECK_OK(refuse_encoder(m));
  if (!m.tokenizer) return Error{m.info.tokenizer_error};
  const int n_vocab = m.model->hparams().n_vocab;
  MINNOW_CHECK_OK(check_generation(tokens, options, n_ctx(), n_vocab));
  const int keep = reusable_prefix(impl_->context, tokens, impl_->cache);
  impl_->rewind(keep);
  auto t0 = std::chrono::steady_clock::now();
  MINNOW_CHECK_OK(eval(std::span<const int32_t>(tokens).subspan(keep), false));
  const double prompt_seconds = seconds_since(t0);

  Generation gen(*m.tokenizer, options, n_vocab, tokens, options.grammar.empty() ? nullptr : m.vocab_trie(),
                 [&](const GeneratedPiece& piece, bool) { return on_piece(piece); });
  while (!gen.done()) {
    const std::optional<int32_t> next = gen.step(logits(0), n_ctx() - n_past());
    if (!next) break;
    const int32_t one[1] = {*next};
    MINNOW_CHECK_OK(eval(one, false));
  }
  GenerateStats stats = gen.stats();
  stats.prompt_tokens = static_cast<int>(tokens.size());
  stats.prompt_cached_tokens = keep;
  stats.prompt_seconds = prompt_seconds;
  return stats;
}

Result<std::vector<Embedding>> Session::embed(const std::vector<std::vector<int32_t>>& inputs,
                                              const EmbedOptions& options) {
  return impl_->embed(inputs, -1, options);
}

Result<Embedding> Session::embed(std::span<const int32_t> tokens, const EmbedOptions& options) {
  auto out = impl_->embed({std::vector<int32_t>(tokens.begin(), tokens.end())}, -1, options);
  if (!out) return out.error();
  return std::move(out->front());
}

Result<std::vector<Embedding>> Session::embed_texts(const std::vector<std::string>& texts,
                                                    const EmbedOptions& options) {
  const Model::Impl& m = *impl_->model;
  if (!m.tokenizer) return Error{m.info.tokenizer_error};
  const Tokenizer& tok = *m.tokenizer;
  std::vector<std::vector<int32_t>> inputs;
  for (const std::string& text : texts) inputs.push_back(tok.encode(text, true, false));
  // Truncation keeps the [SEP] a BERT vocabulary ends each text with, as Hugging Face's does.
  return impl_->embed(inputs, tok.add_eos() ? tok.eos_id() : -1, options);
}

}  // namespace minnow

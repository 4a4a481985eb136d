// minnow's public API: load a GGUF model, open a session (a context with its KV cache), and
// generate text, read logits or compute embeddings. The CLI and the server use only this header.
//
//   auto model = minnow::Model::load("stories260K.gguf", {});
//   if (!model.ok()) { std::fprintf(stderr, "%s\n", model.error().message.c_str()); return 1; }
//   auto session = (*model)->new_session({});
//   minnow::GenerateOptions opt;
//   opt.sampling.temperature = 0;
//   opt.num_predict = 40;
//   auto stats = (*session)->generate("Once upon a time", opt, [](std::string_view text) {
//     std::fwrite(text.data(), 1, text.size(), stdout);
//     return true;  // false stops generation
//   });
//   auto vectors = (*session)->embed_texts({"a text", "another"}, {});  // unit-length embeddings
//
// A Model may be shared by sessions; one session runs on one thread at a time, and sessions
// of one model do not run concurrently (they share its thread pool). For many callers at once,
// a BatchGenerator decodes their sequences together:
//
//   auto gen = minnow::BatchGenerator::create(*model, {.n_slots = 8});
//   // on any number of threads:
//   auto stats = (*gen)->generate(prompt_tokens, opt, [](const minnow::GeneratedPiece& p) { ... });
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "minnow/error.h"
#include "minnow/sampling_options.h"

namespace minnow {

struct LoadOptions {
  int n_threads = 0;  // <= 0: one per hardware thread
  std::string isa;    // "" picks the best for this CPU; "scalar", "avx2", "avx512" or "amx" force one
  std::string chat_template;  // a Jinja chat template used instead of the file's, when not empty
  // Repack the weights at load for the kernels in use where they have a faster layout (an
  // anonymous copy replaces the file's pages in memory; a tied output matrix adds its size).
  bool repack = true;
};

struct ModelInfo {
  std::string path;
  std::string architecture;  // general.architecture
  std::string name;          // general.name, when present
  std::string quantization;  // the type of most weight bytes ("q4_0", "f16", ...)
  uint64_t n_params = 0;
  uint64_t file_size = 0;
  uint64_t weight_bytes_per_token = 0;  // bytes of weights one generated token reads
  uint64_t flops_per_token = 0;         // weight-matrix FLOPs of one token (2 x multiply-adds)
  int64_t context_length = 0;           // trained context
  int64_t embedding_length = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t n_vocab = 0;
  std::string tokenizer;        // tokenizer.ggml.model, "" when absent
  std::string tokenizer_error;  // why text cannot be tokenized, "" when it can
  std::string chat_template;    // the template in use: LoadOptions' or tokenizer.chat_template; "" when none
  std::string isa;              // kernels in use
  int n_threads = 0;
  bool embedding_only = false;  // an encoder (bert): it embeds (Session::embed); generation is an error
  // How Session::embed pools token states ({arch}.pooling_type): "mean" (also when absent or
  // "none"), "cls" (the first token's), "last"; "rank" (a reranker's) is not supported.
  std::string pooling;
  // Every metadata key with its value rendered as text (long arrays abbreviated).
  std::vector<std::pair<std::string, std::string>> metadata;
};

struct SessionOptions {
  int n_ctx = 0;         // <= 0: the trained context, capped at 4096
  bool kv_f32 = false;   // F32 KV cache instead of F16 (for differential checks)
  int n_batch = 512;     // prompt tokens per forward pass
};

constexpr int kMaxTopLogprobs = 20;

struct GenerateOptions {
  SamplingOptions sampling;
  int num_predict = -1;       // tokens to generate; < 0: until end of generation or the context is full
  bool add_bos = true;        // prepend BOS when the vocabulary asks for it
  bool parse_special = false; // special-token text in the prompt becomes special tokens
  // Generation ends before the first of these strings appears in the output, which does not
  // include it (done_reason "stop"). Text that could be the start of one is held back until
  // it is not.
  std::vector<std::string> stop;
  bool logprobs = false;  // fill each GeneratedToken's logprob
  int top_logprobs = 0;   // and its top alternatives (0..kMaxTopLogprobs)
  // A GBNF grammar the output must follow (minnow/structured.h makes them from JSON Schemas);
  // "" for none. Every sampled token keeps the text a prefix of a sentence of the grammar;
  // generation ends when the sentence is complete and nothing may follow, and heads for the
  // nearest complete sentence when the tokens left (num_predict, the context) run short.
  std::string grammar;
};

// A token's log-probability under the model's own distribution (softmax of its logits at
// temperature 1, before any sampling filter), the measure the OpenAI API's logprobs report.
struct TokenLogprob {
  int32_t id = 0;
  std::string text;   // the token's piece (bytes; may be part of a UTF-8 character)
  float logprob = 0;  // natural logarithm
};

struct GeneratedToken : TokenLogprob {
  std::vector<TokenLogprob> top;  // the top_logprobs likeliest tokens, likeliest first
};

// Generated text as it becomes final, with the tokens it completes (logprob 0 and no top
// alternatives unless GenerateOptions asked for them). Either may be empty.
struct GeneratedPiece {
  std::string_view text;
  std::span<const GeneratedToken> tokens;
};

struct GenerateStats {
  int prompt_tokens = 0;
  double prompt_seconds = 0;
  int prompt_cached_tokens = 0;  // of prompt_tokens, those reused from the session's context (not recomputed)
  int generated_tokens = 0;
  double generate_seconds = 0;
  std::string done_reason;  // "stop" (end of generation or callback), "length" (num_predict or context full)
};

// Embeddings (Session::embed): the final normed hidden states of an input's tokens (the output
// matrix's input, which is not run), pooled as ModelInfo::pooling says and scaled to unit L2 norm.
struct EmbedOptions {
  // An input longer than the context is cut to fit instead of being an error; a text keeps the
  // special token its vocabulary ends texts with (BERT's [SEP]) as its last.
  bool truncate = false;
  // > 0: only the first `dimensions` values, scaled to unit norm again (the APIs' "dimensions",
  // for Matryoshka-trained models); at most the embedding length.
  int dimensions = 0;
};

struct Embedding {
  std::vector<float> values;  // [dimensions, or the embedding length] unit L2 norm
  int n_tokens = 0;           // tokens evaluated (after truncation)
  bool truncated = false;
};

class Session;
class BatchGenerator;

// A function call the assistant made, as the OpenAI and Ollama APIs carry it.
struct ToolCall {
  std::string id;         // "call_1"; may be empty
  std::string name;       // the function's name
  std::string arguments;  // its arguments: a JSON object as text (templates see the object)
};

struct ChatMessage {
  ChatMessage() = default;
  ChatMessage(std::string r, std::string c) : role(std::move(r)), content(std::move(c)) {}

  std::string role;  // "system", "user", "assistant", "tool"
  std::string content;
  std::vector<ToolCall> tool_calls;  // assistant: the calls it made
  std::string tool_call_id;          // tool: the call this message answers
  std::string name;                  // tool: the function's name
};

struct ChatFormatOptions {
  bool add_generation_prompt = true;  // end with the assistant's turn opener
  std::string tools_json;             // the tools on offer: a JSON array (OpenAI's shape), "" for none
};

// The template used when a model carries none (tokenizer.chat_template absent): ChatML.
extern const char* const kDefaultChatTemplate;

class Model : public std::enable_shared_from_this<Model> {
 public:
  static Result<std::shared_ptr<Model>> load(const std::string& path, const LoadOptions& options);
  ~Model();

  const ModelInfo& info() const;

  // Errors when the model's vocabulary is not supported (see info().tokenizer_error).
  Result<std::vector<int32_t>> tokenize(std::string_view text, bool add_bos, bool parse_special) const;
  std::string token_to_piece(int32_t id) const;

  // The conversation as prompt tokens, formatted by the model's chat template (or
  // kDefaultChatTemplate when it has none: see info().chat_template), ending with the
  // assistant's turn opener when add_generation_prompt. Message contents are tokenized as plain
  // text: special-token text a user types stays text. BOS is added as the vocabulary asks,
  // once. Errors: no tokenizer, a template error or raise_exception().
  Result<std::vector<int32_t>> apply_chat_template(const std::vector<ChatMessage>& messages,
                                                   bool add_generation_prompt) const;
  // The same with tools offered to the model (the template renders them). Errors also for
  // tools_json that is not a JSON array.
  Result<std::vector<int32_t>> apply_chat_template(const std::vector<ChatMessage>& messages,
                                                   const ChatFormatOptions& options) const;
  // The conversation as the template renders it, as text (for inspection; prompts should use
  // apply_chat_template, which keeps message contents from becoming special tokens).
  Result<std::string> render_chat(const std::vector<ChatMessage>& messages, const ChatFormatOptions& options) const;

  Result<std::unique_ptr<Session>> new_session(const SessionOptions& options);

  struct Impl;

 private:
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend class Session;
  friend class BatchGenerator;
};

class Session {
 public:
  ~Session();

  int n_ctx() const;
  int n_past() const;  // tokens in the context so far
  void reset();        // empties the context

  // Appends tokens to the context. With all_logits, logits(i) is each token's row; otherwise
  // only the last token's (logits(0)). Errors: ids out of range, context overflow.
  Status eval(std::span<const int32_t> tokens, bool all_logits);
  std::span<const float> logits(int64_t i) const;  // [n_vocab]

  // The log-probability of each token given those before it (scoring a text, as log-likelihood
  // evaluations do), from an empty context: entry i > 0 has tokens[i]'s logprob under the logits
  // after tokens[0..i) and its top_n likeliest alternatives (0..kMaxTopLogprobs), as
  // GenerateOptions.logprobs reports generated tokens; entry 0 has nothing before it (logprob 0,
  // no alternatives). Each entry's text is the token's part of the tokens' decoded text (a
  // control token's is "", and SentencePiece's leading space of the first word is dropped as
  // decoding drops it), so that the texts concatenated are that text. The context then holds
  // the tokens. Errors: no tokens, ids out of range, more tokens than the context, top_n out of
  // range, no tokenizer.
  Result<std::vector<GeneratedToken>> prompt_logprobs(std::span<const int32_t> tokens, int top_n);

  // Tokenizes the prompt, evaluates it, and samples until end of generation, num_predict or
  // a full context, handing each piece of valid UTF-8 text to on_text (false stops).
  // The result is that of starting from an empty context, but the part of the prompt that
  // the context already holds (the tokens of an earlier prompt and its answer, up to where
  // they differ) is reused rather than recomputed: a chat's next turn evaluates only its new
  // tokens. A prompt that does not fit the context is an error.
  Result<GenerateStats> generate(std::string_view prompt, const GenerateOptions& options,
                                 const std::function<bool(std::string_view)>& on_text);
  // The same from prompt tokens (add_bos and parse_special are not used).
  Result<GenerateStats> generate(const std::vector<int32_t>& prompt, const GenerateOptions& options,
                                 const std::function<bool(std::string_view)>& on_text);
  // The same, handing on the tokens behind the text too (with log-probabilities when asked).
  Result<GenerateStats> generate(const std::vector<int32_t>& prompt, const GenerateOptions& options,
                                 const std::function<bool(const GeneratedPiece&)>& on_piece);

  // The embedding of one input of token ids, taken as they are (no special token is added).
  // Leaves the context empty: a generation's reusable prefix is gone. Errors: no tokens, ids out
  // of range, an input longer than the context without truncate, dimensions out of range, a
  // pooling type that is not supported.
  Result<Embedding> embed(std::span<const int32_t> tokens, const EmbedOptions& options);
  // Several inputs. Each result is the one that input gets alone (an encoder packs inputs into
  // shared passes, and its results do not depend on the packing).
  Result<std::vector<Embedding>> embed(const std::vector<std::vector<int32_t>>& inputs, const EmbedOptions& options);
  // Texts, tokenized with the special tokens the vocabulary adds (BOS; BERT's [CLS] ... [SEP]).
  // Errors also: no tokenizer, a text that gives no tokens.
  Result<std::vector<Embedding>> embed_texts(const std::vector<std::string>& texts, const EmbedOptions& options);

  struct Impl;

 private:
  explicit Session(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend class Model;
};

struct BatchOptions {
  int n_slots = 4;     // sequences that decode together, each in a KV cache of its own
  int n_ctx = 0;       // each slot's context; <= 0: the trained context, capped at 4096
  int n_batch = 512;   // tokens per step: one per decoding sequence, prompt chunks in the rest
                       // (raised to n_slots when below it)
  bool kv_f32 = false; // F32 KV caches instead of F16
};

// Generation for many callers at once on one model (continuous batching): each generate() call
// waits for a free slot (first come, first served), then its sequence joins the running batch.
// A worker thread steps the batch: the prompts of sequences that joined, in chunks, beside one
// token of every sequence already decoding, so that the weights are read once per step for all
// of them. Each sequence samples exactly as Session::generate does (its own sampler and seed,
// stop strings, logprobs, UTF-8 assembly, num_predict, a full context): its output is that of
// running it alone, whatever else runs beside it.
//
// A slot keeps its tokens after its request ends (a prompt cache): a new request takes the free
// slot whose tokens share the longest prefix with its prompt (unless that prefix is short next
// to the slot's other tokens, which an empty or least recently used slot then keeps) and
// evaluates only the rest (GenerateStats::prompt_cached_tokens), with the same result as
// evaluating all of it.
//
// The model's thread pool is the worker's while the generator exists: no session of the same
// model may run meanwhile.
class BatchGenerator {
 public:
  static Result<std::unique_ptr<BatchGenerator>> create(std::shared_ptr<Model> model, const BatchOptions& options);
  // No call may be inside generate() any more.
  ~BatchGenerator();

  int n_slots() const;
  int n_ctx() const;  // of each slot
  // Sequences in slots now, and calls waiting for a slot (for monitoring).
  int running() const;
  int waiting() const;

  // Session::generate's contract from prompt tokens, safe to call from many threads at once.
  // on_piece is called on the calling thread; false ends this sequence only (and no piece
  // follows), as does an exception, which is rethrown. Errors (a prompt longer than a slot's
  // context, ids outside the vocabulary, bad options) go to this call only, before it waits.
  Result<GenerateStats> generate(const std::vector<int32_t>& prompt, const GenerateOptions& options,
                                 const std::function<bool(const GeneratedPiece&)>& on_piece);

  struct Impl;

 private:
  explicit BatchGenerator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// This machine's memory read bandwidth in GB/s with n_threads threads (<= 0: one per hardware
// thread): the best of several passes over a buffer far larger than the caches (1 GiB, or an
// eighth of physical memory when that is less). Takes about a second; 0 when the buffer cannot
// be had. For stating speeds as a fraction of the machine's limit (`minnow bench`).
double measure_read_bandwidth(int n_threads);

}  // namespace minnow

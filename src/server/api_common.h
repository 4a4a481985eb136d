// What the Ollama and OpenAI handlers share: typed reading of request JSON with clear errors,
// options -> parameters, messages -> ChatMessage, keep_alive durations, timestamps, and running
// one generation on a loaded model.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "minnow/engine.h"
#include "minnow/parameters.h"
#include "minnow/tools.h"
#include "server/model_pool.h"

namespace minnow::server {

using nlohmann::json;

// An error a handler answers with: an HTTP status and a message for the client.
struct ApiError {
  int status = 400;
  std::string message;
};

// Typed access to a request object's optional fields; the first problem is kept as the error
// (naming the field and what it must be) and later reads return nothing.
class Fields {
 public:
  explicit Fields(const json& obj) : obj_(obj) {}
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  void fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
  }

  bool has(const char* key) const { return obj_.contains(key) && !obj_[key].is_null(); }
  std::optional<std::string> str(const char* key);
  std::optional<bool> boolean(const char* key);
  std::optional<double> number(const char* key, double lo, double hi);
  std::optional<int64_t> integer(const char* key, int64_t lo, int64_t hi);
  const json* object(const char* key);
  const json* array(const char* key);
  std::string required_str(const char* key);  // "" with an error when missing or not a string
  // The model a management request names: "model", or the older "name" (Ollama's).
  std::string model_name() { return has("model") ? required_str("model") : required_str("name"); }

 private:
  const json& obj_;
  std::string error_;
};

// The body as a JSON object, or a 400 naming the parse error.
std::optional<json> parse_body(const std::string& body, ApiError* err);

// Ollama options ({"temperature": 0.2, "stop": ["\n"], "num_ctx": 4096, ...}) over the
// stored model's parameters; unknown options and wrong types are errors.
Status apply_options(const json& options, RunParameters* p);
// The stored model's parameters (Modelfile PARAMETER lines) as the starting point.
Result<RunParameters> model_parameters(const LoadedModel& m);

// The grammar a request asks its output to follow ("" for none): Ollama's `format` ("json" or a
// JSON Schema object) or OpenAI's `response_format` (json_object, json_schema), or a GBNF
// `grammar` string in either API (as llama.cpp's server takes it). Read from the raw body, so
// that a schema's properties keep their order. Errors: 400s naming the field and the problem.
Result<std::string> request_grammar(const std::string& raw_body, bool openai);

// keep_alive as Ollama takes it: seconds as a number, or a duration string ("5m", "10s",
// "1h30m", "-1", "0"). Negative: forever.
Result<double> parse_keep_alive(const json& v);

// Messages in either API's shape: content a string or OpenAI's [{type: "text", text}] parts;
// tool calls with arguments as an object (Ollama) or a JSON string (OpenAI).
Result<std::vector<ChatMessage>> parse_messages(const json& messages);

// RFC 3339 time with nanoseconds, as Ollama writes created_at.
std::string rfc3339(std::chrono::system_clock::time_point t);
std::string rfc3339_now();

// OpenAI's "created" (seconds since the epoch) and a random id with its object's prefix
// ("chatcmpl-...").
int64_t unix_now();
std::string new_id(const char* prefix);

// The tools a chat request offers and what it lets the model do with them.
struct ToolUse {
  std::vector<ToolSpec> tools;
  std::string tools_json;  // as the request gave them (property order kept), for the template
  ToolChoice choice;
  ToolCallFormat format = ToolCallFormat::kHermes;  // the model's (set by apply_tools)
  // Whether the template gets the tools and the output is read for calls ("none" offers none).
  bool active() const { return !tools.empty() && choice.kind != ToolChoice::kNone; }
};

// `tools` and `tool_choice` ("none", "auto", "required" or {"type": "function", "function":
// {"name": ...}}) from the raw body, so that parameter schemas keep their property order.
// Ollama requests may send tool_choice too. Errors: 400s naming the field.
Result<ToolUse> read_tools(const std::string& raw_body);

// The model's call format, and for tool_choice "required" or a function the grammar that makes
// the output such calls (into p->generate.grammar, which must be free: a response format and a
// forced call cannot both shape one answer). Errors: 400s.
Status apply_tools(const LoadedModel& m, ToolUse* use, RunParameters* p);

// Tool calls as the APIs write them: OpenAI's (id, type, function.arguments as JSON text) or
// Ollama's (function.arguments as an object). New ids suit the model's format.
json openai_tool_calls(const std::vector<ToolCall>& calls, ToolCallFormat format);
json ollama_tool_calls(const std::vector<ToolCall>& calls);

// The chat prompt for messages: the stored system message first when the messages have none;
// tool calls and results without ids get them (call00000, ...). With tools (a JSON array, "" for none) the template must render them: a model whose template
// ignores tools is an error rather than a silent answer without them.
Result<std::vector<int32_t>> chat_prompt(const LoadedModel& m, std::vector<ChatMessage> messages,
                                         const std::string& tools_json);

// One generation, ready to run: it holds the model's generator (for the requested num_ctx)
// from prepare_job until it is destroyed, so that a prompt too long for the context is refused
// before any response is sent. Runs of one job or several may go at once: they decode together.
struct Job {
  std::shared_ptr<LoadedModel> model;
  GeneratorUse generator;
  std::vector<int32_t> prompt;
  RunParameters params;
  // on_piece returning false stops this generation (a client that went away).
  Result<GenerateStats> run(const std::function<bool(const GeneratedPiece&)>& on_piece) const {
    return run(params.generate, on_piece);
  }
  // The same with other options (the choices of an OpenAI request differ by seed).
  Result<GenerateStats> run(const GenerateOptions& options,
                            const std::function<bool(const GeneratedPiece&)>& on_piece) const;
};
Result<Job> prepare_job(std::shared_ptr<LoadedModel> m, std::vector<int32_t> prompt, RunParameters p);

}  // namespace minnow::server

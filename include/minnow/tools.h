// Tool calling: the tools a request offers (OpenAI's shape, which Ollama shares), the way a model
// family writes its calls, reading calls out of generated text, and grammars that make a model
// call a tool (tool_choice "required" or a named function).
//
//   auto tools = minnow::parse_tools(tools_json);              // 400 with tools.error() when bad
//   const auto format = minnow::tool_call_format(model.info().chat_template);
//   auto g = minnow::tool_call_grammar(format, *tools, {ToolChoice::kRequired, ""});
//   options.grammar = *g;                                       // the output is one or more calls
//   ... generate text ...
//   ParsedToolCalls p = minnow::parse_tool_calls(text, *tools);  // p.calls, p.content
//
// The formats (what each family was trained to write; the chat template renders the tools):
//   kHermes   <tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>  (Qwen 2.5, Hermes, SmolLM3)
//   kLlama3   {"name": ..., "parameters": {...}}, after <|python_tag|> or not  (Llama 3.1 - 3.3)
//   kMistral  [TOOL_CALLS][{"name": ..., "arguments": {...}}, ...]           (Mistral, Ministral)
//   kPhi4     <|tool_call|>[{"name": ..., "arguments": {...}}]<|/tool_call|>  (Phi-4-mini)
// The reader takes any of them whatever the model (control tokens such as [TOOL_CALLS] are not in
// the generated text, so their bare JSON counts too when it names offered tools).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "minnow/engine.h"
#include "minnow/error.h"

namespace minnow {

enum class ToolCallFormat { kHermes, kLlama3, kMistral, kPhi4 };

// The format a chat template's family writes its calls in; kHermes when nothing says otherwise.
ToolCallFormat tool_call_format(std::string_view chat_template);
const char* tool_call_format_name(ToolCallFormat f);

// One offered function.
struct ToolSpec {
  std::string name;
  std::string parameters_json;  // its JSON Schema (text, properties in their order); "" for none
};

// The tools of a request: a JSON array of {"type": "function", "function": {"name", "description",
// "parameters"}} (OpenAI's and Ollama's shape). Errors name the element and the problem.
Result<std::vector<ToolSpec>> parse_tools(std::string_view tools_json);

// What a request lets the model do with its tools.
struct ToolChoice {
  enum Kind { kAuto, kNone, kRequired, kFunction };
  Kind kind = kAuto;
  std::string function;  // kFunction: the one to call
};

// The grammar of one or more calls (kRequired) or of calls to `choice.function` (kFunction) in
// the format's syntax, each call's arguments following its function's parameters schema.
// Errors: an unknown function, a parameters schema the schema converter cannot take (named), no
// tools, or kAuto / kNone (which constrain nothing).
Result<std::string> tool_call_grammar(ToolCallFormat format, const std::vector<ToolSpec>& tools,
                                      const ToolChoice& choice);

struct ParsedToolCalls {
  std::string content;          // the text that is not a call (trimmed when there are calls)
  std::vector<ToolCall> calls;  // arguments as compact JSON object text; ids empty (the server names them)
};

// The calls in generated text, in any of the formats above. Text that is not a well-formed call
// stays content; calls without their format's opening marker count only when they name offered
// tools.
ParsedToolCalls parse_tool_calls(std::string_view text, const std::vector<ToolSpec>& tools);

// Streaming: which generated text can go to the client as content at once and which must wait
// because it may be (the start of) a call. push() returns the text to send now; finish() returns
// the rest, read as calls where it is calls.
class ToolCallStream {
 public:
  explicit ToolCallStream(std::vector<ToolSpec> tools) : tools_(std::move(tools)) {}
  std::string push(std::string_view piece);
  ParsedToolCalls finish();

 private:
  std::vector<ToolSpec> tools_;
  std::string held_;        // text not sent yet
  bool holding_all_ = false;  // a call (may have) started: everything waits for finish()
  bool started_ = false;      // some non-space text came
};

}  // namespace minnow

// Tool calling (minnow/tools.h): the families' call syntaxes, read out of generated text and
// written as grammars. Calls are JSON objects, so reading them is finding each object's extent
// (strings and escapes respected) and parsing it; the grammars reuse the JSON Schema converter
// for each function's arguments.
#include "minnow/tools.h"

#include <nlohmann/json.hpp>
#include <optional>

#include "grammar/json_schema.h"

namespace minnow {
namespace {

using json = nlohmann::ordered_json;

constexpr std::string_view kHermesOpen = "<tool_call>";
constexpr std::string_view kHermesClose = "</tool_call>";
// Markers that open a whole-answer call list (when the model writes them as text).
constexpr std::string_view kOpeners[] = {"<|python_tag|>", "[TOOL_CALLS]", "<|tool_call|>", "<|tool_calls|>",
                                         "functools"};
constexpr std::string_view kClosers[] = {"<|/tool_call|>", "<|/tool_calls|>", "</tool_call>", "<|eom_id|>",
                                         "<|eot_id|>"};

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool starts_with(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

// The length of the JSON object or array at the start of s, or npos when it does not close.
size_t json_extent(std::string_view s) {
  if (s.empty() || (s[0] != '{' && s[0] != '[')) return std::string_view::npos;
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') ++depth;
    else if ((c == '}' || c == ']') && --depth == 0) return i + 1;
  }
  return std::string_view::npos;
}

bool offered(const std::string& name, const std::vector<ToolSpec>& tools) {
  for (const ToolSpec& t : tools)
    if (t.name == name) return true;
  return false;
}

// A call object: {"name", "arguments" | "parameters"}, or OpenAI's {"type": "function",
// "function": {...}} around one. Arguments may be an object or JSON text of one.
std::optional<ToolCall> call_from(const json& j) {
  if (!j.is_object()) return std::nullopt;
  if (j.contains("function") && j["function"].is_object()) return call_from(j["function"]);
  if (!j.contains("name") || !j["name"].is_string()) return std::nullopt;
  ToolCall call;
  call.name = j["name"].get<std::string>();
  if (call.name.empty()) return std::nullopt;
  const char* key = j.contains("arguments") ? "arguments" : j.contains("parameters") ? "parameters" : nullptr;
  json args = json::object();
  if (key != nullptr) {
    args = j[key];
    if (args.is_string()) {
      args = json::parse(args.get<std::string>(), nullptr, false);
      if (args.is_discarded()) return std::nullopt;
    }
    if (args.is_null()) args = json::object();
    if (!args.is_object()) return std::nullopt;
  }
  call.arguments = args.dump();
  return call;
}

// Parses the JSON value at the start of s (its extent *used): std::nullopt when there is none.
std::optional<json> json_at(std::string_view s, size_t* used) {
  const size_t n = json_extent(s);
  if (n == std::string_view::npos) return std::nullopt;
  json j = json::parse(s.substr(0, n), nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  *used = n;
  return j;
}

// s (trimmed) as nothing but calls: one array of call objects, or call objects separated by
// whitespace, ';' or ','.
std::optional<std::vector<ToolCall>> whole_calls(std::string_view s) {
  std::vector<ToolCall> calls;
  s = trim(s);
  if (s.empty()) return std::nullopt;
  if (s[0] == '[') {
    size_t n = 0;
    auto j = json_at(s, &n);
    if (!j || !trim(s.substr(n)).empty() || j->empty()) return std::nullopt;
    for (const json& e : *j) {
      auto c = call_from(e);
      if (!c) return std::nullopt;
      calls.push_back(std::move(*c));
    }
    return calls;
  }
  while (!s.empty()) {
    size_t n = 0;
    auto j = json_at(s, &n);
    if (!j) return std::nullopt;
    auto c = call_from(*j);
    if (!c) return std::nullopt;
    calls.push_back(std::move(*c));
    s = trim(s.substr(n));
    while (!s.empty() && (s[0] == ';' || s[0] == ',')) s = trim(s.substr(1));
  }
  return calls;
}

// <tool_call> blocks among text: the calls, and the text around them as content. nullopt when a
// block does not hold a call.
std::optional<ParsedToolCalls> hermes_calls(std::string_view text) {
  ParsedToolCalls out;
  size_t at = 0;
  for (;;) {
    const size_t open = text.find(kHermesOpen, at);
    if (open == std::string_view::npos) {
      out.content += text.substr(at);
      break;
    }
    out.content += text.substr(at, open - at);
    std::string_view rest = text.substr(open + kHermesOpen.size());
    size_t lead = 0;
    while (lead < rest.size() && is_space(rest[lead])) ++lead;
    size_t n = 0;
    auto j = json_at(rest.substr(lead), &n);
    if (!j) return std::nullopt;
    auto c = call_from(*j);
    if (!c) return std::nullopt;
    out.calls.push_back(std::move(*c));
    size_t end = lead + n;
    while (end < rest.size() && is_space(rest[end])) ++end;
    if (starts_with(rest.substr(end), kHermesClose)) end += kHermesClose.size();
    at = static_cast<size_t>(rest.data() - text.data()) + end;
  }
  return out;
}

}  // namespace

ToolCallFormat tool_call_format(std::string_view t) {
  if (t.find("[TOOL_CALLS]") != std::string_view::npos || t.find("[AVAILABLE_TOOLS]") != std::string_view::npos)
    return ToolCallFormat::kMistral;
  if (t.find("<|tool_call|>") != std::string_view::npos || t.find("<|tool|>") != std::string_view::npos)
    return ToolCallFormat::kPhi4;
  if (t.find("<tool_call>") != std::string_view::npos) return ToolCallFormat::kHermes;
  if (t.find("<|python_tag|>") != std::string_view::npos || t.find("<|start_header_id|>") != std::string_view::npos)
    return ToolCallFormat::kLlama3;
  return ToolCallFormat::kHermes;
}

const char* tool_call_format_name(ToolCallFormat f) {
  switch (f) {
    case ToolCallFormat::kHermes:
      return "hermes";
    case ToolCallFormat::kLlama3:
      return "llama3";
    case ToolCallFormat::kMistral:
      return "mistral";
    case ToolCallFormat::kPhi4:
      return "phi4";
  }
  return "?";
}

Result<std::vector<ToolSpec>> parse_tools(std::string_view tools_json) {
  const json j = json::parse(tools_json, nullptr, false);
  if (j.is_discarded() || !j.is_array()) return make_error("'tools' must be an array of tools");
  std::vector<ToolSpec> tools;
  for (size_t i = 0; i < j.size(); ++i) {
    const json& t = j[i];
    const std::string where = strfmt("tools[%zu]", i);
    if (!t.is_object()) return make_error("%s must be an object", where.c_str());
    if (t.contains("type") && t["type"] != "function")
      return make_error("%s: only tools of type 'function' are supported", where.c_str());
    if (!t.contains("function") || !t["function"].is_object())
      return make_error("%s needs a 'function' object", where.c_str());
    const json& f = t["function"];
    if (!f.contains("name") || !f["name"].is_string() || f["name"].get<std::string>().empty())
      return make_error("%s.function needs a 'name'", where.c_str());
    ToolSpec spec;
    spec.name = f["name"].get<std::string>();
    for (const ToolSpec& other : tools)
      if (other.name == spec.name) return make_error("%s: a second function named '%s'", where.c_str(), spec.name.c_str());
    if (f.contains("parameters") && !f["parameters"].is_null()) {
      if (!f["parameters"].is_object())
        return make_error("%s.function.parameters must be a JSON Schema object", where.c_str());
      spec.parameters_json = f["parameters"].dump();
    }
    tools.push_back(std::move(spec));
  }
  return tools;
}

Result<std::string> tool_call_grammar(ToolCallFormat format, const std::vector<ToolSpec>& tools,
                                      const ToolChoice& choice) {
  if (choice.kind == ToolChoice::kAuto || choice.kind == ToolChoice::kNone)
    return make_error("tool_choice 'auto' and 'none' do not constrain the output");
  if (tools.empty()) return make_error("tool_choice asks for a tool call but no tools are offered");
  const char* args_key = format == ToolCallFormat::kLlama3 ? "parameters" : "arguments";
  json alternatives = json::array();
  for (const ToolSpec& t : tools) {
    if (choice.kind == ToolChoice::kFunction && t.name != choice.function) continue;
    json params = t.parameters_json.empty() ? json{{"type", "object"}} : json::parse(t.parameters_json, nullptr, false);
    if (params.is_discarded()) return make_error("function '%s': its parameters are not JSON", t.name.c_str());
    // A schema without a type but with properties describes an object (as tools usually mean).
    if (params.is_object() && !params.contains("type") && !params.contains("$ref") && !params.contains("anyOf") &&
        !params.contains("oneOf"))
      params["type"] = "object";
    json call = {{"type", "object"},
                 {"properties", {{"name", {{"const", t.name}}}, {args_key, std::move(params)}}},
                 {"required", {"name", args_key}}};
    alternatives.push_back(std::move(call));
  }
  if (alternatives.empty())
    return make_error("tool_choice names function '%s', which is not among the tools", choice.function.c_str());
  const json schema = alternatives.size() == 1 ? alternatives[0] : json{{"anyOf", alternatives}};
  const std::string call = "tool-call";  // the schema converter's root rule, used in root below
  auto rules = grammar::schema_to_gbnf(schema, call);
  if (!rules) {
    return make_error("the tools' parameters cannot constrain a call: %s", rules.error().message.c_str());
  }
  const bool several = choice.kind == ToolChoice::kRequired;
  std::string root;
  switch (format) {
    case ToolCallFormat::kHermes:
      root = "root ::= \"<tool_call>\\n\" " + call + " \"\\n</tool_call>\"" +
             (several ? " (\"\\n<tool_call>\\n\" " + call + " \"\\n</tool_call>\")*" : "");
      break;
    case ToolCallFormat::kLlama3:
      root = "root ::= " + call;
      break;
    case ToolCallFormat::kMistral:
    case ToolCallFormat::kPhi4:
      root = "root ::= \"[\" " + call + (several ? " (\", \" " + call + ")*" : "") + " \"]\"";
      break;
  }
  return root + "\n" + *rules;
}

ParsedToolCalls parse_tool_calls(std::string_view text, const std::vector<ToolSpec>& tools) {
  ParsedToolCalls none;
  none.content = std::string(text);
  if (text.find(kHermesOpen) != std::string_view::npos) {
    auto h = hermes_calls(text);
    if (!h || h->calls.empty()) return none;
    h->content = std::string(trim(h->content));
    return *h;
  }
  std::string_view t = trim(text);
  bool marked = false;
  for (std::string_view o : kOpeners) {
    if (starts_with(t, o)) {
      t = trim(t.substr(o.size()));
      marked = true;
      break;
    }
  }
  for (bool again = true; again;) {
    again = false;
    for (std::string_view c : kClosers) {
      if (t.size() >= c.size() && t.substr(t.size() - c.size()) == c) {
        t = trim(t.substr(0, t.size() - c.size()));
        again = true;
      }
    }
  }
  auto calls = whole_calls(t);
  if (!calls) return none;
  if (!marked) {
    for (const ToolCall& c : *calls)
      if (!offered(c.name, tools)) return none;
  }
  ParsedToolCalls out;
  out.calls = std::move(*calls);
  return out;
}

std::string ToolCallStream::push(std::string_view piece) {
  held_ += piece;
  if (holding_all_) return "";
  if (!started_) {
    const std::string_view t = trim(held_);
    if (t.empty()) return "";
    // A call list that is the whole answer starts with JSON or one of the markers.
    if (t[0] == '{' || t[0] == '[') {
      holding_all_ = true;
      return "";
    }
    for (std::string_view o : kOpeners) {
      if (starts_with(t, o)) {
        holding_all_ = true;
        return "";
      }
      if (t.size() < o.size() && starts_with(o, t)) return "";  // not decided yet
    }
    started_ = true;
  }
  const size_t open = held_.find(kHermesOpen);
  if (open != std::string::npos) {
    std::string out = held_.substr(0, open);
    held_.erase(0, open);
    holding_all_ = true;
    return out;
  }
  // Keep back an ending that may be the start of <tool_call>.
  size_t keep = 0;
  for (size_t n = std::min(held_.size(), kHermesOpen.size() - 1); n > 0; --n) {
    if (std::string_view(held_).substr(held_.size() - n) == kHermesOpen.substr(0, n)) {
      keep = n;
      break;
    }
  }
  std::string out = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

ParsedToolCalls ToolCallStream::finish() {
  ParsedToolCalls p = parse_tool_calls(held_, tools_);
  held_.clear();
  return p;
}

}  // namespace minnow

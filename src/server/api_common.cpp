#include "server/api_common.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <mutex>
#include <random>

#include "minnow/structured.h"

namespace minnow::server {

std::optional<std::string> Fields::str(const char* key) {
  if (!ok() || !has(key)) return std::nullopt;
  if (!obj_[key].is_string()) {
    fail(strfmt("'%s' must be a string", key));
    return std::nullopt;
  }
  return obj_[key].get<std::string>();
}

std::optional<bool> Fields::boolean(const char* key) {
  if (!ok() || !has(key)) return std::nullopt;
  if (!obj_[key].is_boolean()) {
    fail(strfmt("'%s' must be true or false", key));
    return std::nullopt;
  }
  return obj_[key].get<bool>();
}

std::optional<double> Fields::number(const char* key, double lo, double hi) {
  if (!ok() || !has(key)) return std::nullopt;
  const json& v = obj_[key];
  if (!v.is_number()) {
    fail(strfmt("'%s' must be a number", key));
    return std::nullopt;
  }
  const double d = v.get<double>();
  if (!std::isfinite(d) || d < lo || d > hi) {
    fail(strfmt("'%s' must be between %g and %g, not %s", key, lo, hi, v.dump().c_str()));
    return std::nullopt;
  }
  return d;
}

std::optional<int64_t> Fields::integer(const char* key, int64_t lo, int64_t hi) {
  if (!ok() || !has(key)) return std::nullopt;
  const json& v = obj_[key];
  const bool whole = v.is_number_integer() || (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>() &&
                                               std::fabs(v.get<double>()) < 9e15);
  if (!whole) {
    fail(strfmt("'%s' must be a whole number", key));
    return std::nullopt;
  }
  const double d = v.get<double>();
  if (d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
    fail(strfmt("'%s' must be between %lld and %lld, not %s", key, static_cast<long long>(lo),
                static_cast<long long>(hi), v.dump().c_str()));
    return std::nullopt;
  }
  return v.is_number_integer() ? v.get<int64_t>() : static_cast<int64_t>(d);
}

const json* Fields::object(const char* key) {
  if (!ok() || !has(key)) return nullptr;
  if (!obj_[key].is_object()) {
    fail(strfmt("'%s' must be an object", key));
    return nullptr;
  }
  return &obj_[key];
}

const json* Fields::array(const char* key) {
  if (!ok() || !has(key)) return nullptr;
  if (!obj_[key].is_array()) {
    fail(strfmt("'%s' must be an array", key));
    return nullptr;
  }
  return &obj_[key];
}

std::string Fields::required_str(const char* key) {
  if (!ok()) return "";
  if (!has(key)) {
    fail(strfmt("'%s' is required", key));
    return "";
  }
  auto s = str(key);
  if (s && s->empty()) fail(strfmt("'%s' must not be empty", key));
  return s.value_or("");
}

Result<std::string> request_grammar(const std::string& raw_body, bool openai) {
  nlohmann::ordered_json body;
  try {
    body = nlohmann::ordered_json::parse(raw_body);
  } catch (const nlohmann::json::exception&) {
    return make_error("the request body is not valid JSON");  // parse_body said so first
  }
  if (!body.is_object()) return std::string();
  std::string grammar;
  if (body.contains("grammar") && !body["grammar"].is_null()) {
    if (!body["grammar"].is_string()) return make_error("'grammar' must be a string (GBNF)");
    grammar = body["grammar"].get<std::string>();
    if (Status st = check_grammar(grammar); !st.ok()) return st.error().with_context("'grammar'");
  }
  const char* field = openai ? "response_format" : "format";
  if (!body.contains(field) || body[field].is_null()) return grammar;
  const nlohmann::ordered_json& f = body[field];
  std::string from_format;
  if (!openai) {
    if (f.is_string() && f.get<std::string>().empty()) return grammar;
    if (f.is_string() && f.get<std::string>() == "json") {
      from_format = grammar_for_json(true);
    } else if (f.is_object()) {
      auto g = grammar_for_json_schema(f.dump());
      if (!g.ok()) return g.error().with_context("'format'");
      from_format = std::move(*g);
    } else {
      return make_error("'format' must be \"json\" or a JSON Schema object");
    }
  } else {
    if (!f.is_object() || !f.contains("type") || !f["type"].is_string())
      return make_error("'response_format' must be an object with a 'type'");
    const std::string type = f["type"].get<std::string>();
    if (type == "text") return grammar;
    if (type == "json_object") {
      from_format = grammar_for_json(true);
    } else if (type == "json_schema") {
      if (!f.contains("json_schema") || !f["json_schema"].is_object() || !f["json_schema"].contains("schema"))
        return make_error("'response_format.json_schema.schema' is required for type json_schema");
      auto g = grammar_for_json_schema(f["json_schema"]["schema"].dump());
      if (!g.ok()) return g.error().with_context("'response_format.json_schema.schema'");
      from_format = std::move(*g);
    } else {
      return make_error("'response_format' type '%s' is not one of text, json_object, json_schema", type.c_str());
    }
  }
  if (!grammar.empty()) return make_error("'%s' and 'grammar' cannot both be given", field);
  return from_format;
}

std::optional<json> parse_body(const std::string& body, ApiError* err) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) {
    *err = {400, body.empty() ? "the request body is empty; a JSON object was expected"
                              : "the request body is not valid JSON"};
    return std::nullopt;
  }
  if (!j.is_object()) {
    *err = {400, "the request body must be a JSON object"};
    return std::nullopt;
  }
  return j;
}

Status apply_options(const json& options, RunParameters* p) {
  if (!options.is_object()) return make_error("'options' must be an object");
  for (const auto& [name, v] : options.items()) {
    if (v.is_null()) continue;
    if (name == "stop") {
      if (!v.is_array() && !v.is_string()) return make_error("option 'stop' must be a string or an array of strings");
      for (const json& s : v.is_array() ? v : json::array({v})) {
        if (!s.is_string()) return make_error("option 'stop' must be a string or an array of strings");
        MINNOW_CHECK_OK(set_parameter("stop", s.get<std::string>(), p));
      }
      continue;
    }
    if (v.is_boolean() || !v.is_number()) {
      // Options Ollama has that change nothing here are accepted and ignored; others are errors.
      if (name == "num_gpu" || name == "main_gpu" || name == "use_mmap" || name == "use_mlock" || name == "numa" ||
          name == "low_vram" || name == "f16_kv" || name == "vocab_only" || name == "penalize_newline")
        continue;
      return make_error("option '%s' must be a number, not %s", name.c_str(), v.dump().c_str());
    }
    if (name == "num_thread" || name == "num_gpu" || name == "main_gpu" || name == "num_batch" || name == "num_keep")
      continue;  // the server decides threads and batches; there is no GPU
    const Status st = set_parameter(name, v.dump(), p);
    if (!st.ok()) {
      const std::string& msg = st.error().message;
      return make_error("option %s", msg.rfind("parameter ", 0) == 0 ? msg.c_str() + 10 : msg.c_str());
    }
  }
  return Status();
}

Result<RunParameters> model_parameters(const LoadedModel& m) {
  RunParameters p;
  MINNOW_CHECK_OK(set_parameters(m.defaults.parameters, &p));
  return p;
}

Result<double> parse_keep_alive(const json& v) {
  if (v.is_number()) {
    const double d = v.get<double>();
    if (!std::isfinite(d)) return make_error("'keep_alive' must be a finite number of seconds");
    return d;
  }
  if (!v.is_string()) return make_error("'keep_alive' must be a duration such as \"5m\" or a number of seconds");
  const std::string s = v.get<std::string>();
  // A bare number is seconds; otherwise a sequence of <number><unit> (Go's duration syntax).
  char* end = nullptr;
  const double bare = std::strtod(s.c_str(), &end);
  if (!s.empty() && *end == '\0' && std::isfinite(bare)) return bare;
  double total = 0;
  size_t i = 0;
  const bool negative = !s.empty() && s[0] == '-';
  if (negative) ++i;
  if (i == s.size()) return make_error("'keep_alive' \"%s\" is not a duration", s.c_str());
  while (i < s.size()) {
    const double n = std::strtod(s.c_str() + i, &end);
    const size_t used = static_cast<size_t>(end - (s.c_str() + i));
    if (used == 0 || !std::isfinite(n) || n < 0) return make_error("'keep_alive' \"%s\" is not a duration", s.c_str());
    i += used;
    double unit = 0;
    if (s.compare(i, 2, "ms") == 0) unit = 1e-3, i += 2;
    else if (s.compare(i, 2, "us") == 0) unit = 1e-6, i += 2;
    else if (s.compare(i, 2, "ns") == 0) unit = 1e-9, i += 2;
    else if (i < s.size() && s[i] == 'h') unit = 3600, i += 1;
    else if (i < s.size() && s[i] == 'm') unit = 60, i += 1;
    else if (i < s.size() && s[i] == 's') unit = 1, i += 1;
    else return make_error("'keep_alive' \"%s\" is not a duration (units: h, m, s, ms)", s.c_str());
    total += n * unit;
  }
  return negative ? -total : total;
}

namespace {

Result<std::string> content_text(const json& c) {
  if (c.is_null()) return std::string();
  if (c.is_string()) return c.get<std::string>();
  if (!c.is_array()) return make_error("a message's 'content' must be a string or an array of parts");
  std::string text;
  for (const json& part : c) {
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
      return make_error("a content part must be an object with a 'type'");
    const std::string type = part["type"];
    if (type != "text") return make_error("content parts of type '%s' are not supported (text only)", type.c_str());
    if (!part.contains("text") || !part["text"].is_string()) return make_error("a text part needs a string 'text'");
    text += part["text"].get<std::string>();
  }
  return text;
}

}  // namespace

Result<std::vector<ChatMessage>> parse_messages(const json& messages) {
  if (!messages.is_array()) return make_error("'messages' must be an array");
  std::vector<ChatMessage> out;
  for (size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    auto fail = [&](const std::string& why) { return make_error("messages[%zu]: %s", i, why.c_str()); };
    if (!m.is_object()) return fail("must be an object");
    if (!m.contains("role") || !m["role"].is_string()) return fail("'role' must be a string");
    ChatMessage msg;
    msg.role = m["role"];
    if (msg.role != "system" && msg.role != "user" && msg.role != "assistant" && msg.role != "tool" &&
        msg.role != "developer")
      return fail("unknown role '" + msg.role + "' (system, user, assistant, tool)");
    if (msg.role == "developer") msg.role = "system";
    auto text = content_text(m.contains("content") ? m["content"] : json());
    if (!text) return fail(text.error().message);
    msg.content = std::move(*text);
    if (m.contains("images") && m["images"].is_array() && !m["images"].empty())
      return fail("images are not supported by this server's models");
    for (const char* key : {"tool_call_id", "name", "tool_name"}) {
      if (!m.contains(key) || m[key].is_null()) continue;
      if (!m[key].is_string()) return fail(std::string("'") + key + "' must be a string");
      (std::string(key) == "tool_call_id" ? msg.tool_call_id : msg.name) = m[key].get<std::string>();
    }
    if (m.contains("tool_calls") && !m["tool_calls"].is_null()) {
      if (!m["tool_calls"].is_array()) return fail("'tool_calls' must be an array");
      for (const json& tc : m["tool_calls"]) {
        if (!tc.is_object() || !tc.contains("function") || !tc["function"].is_object())
          return fail("each tool call needs a 'function' object");
        const json& f = tc["function"];
        if (!f.contains("name") || !f["name"].is_string()) return fail("a tool call's function needs a 'name'");
        ToolCall call;
        call.name = f["name"];
        if (tc.contains("id") && tc["id"].is_string()) call.id = tc["id"];
        if (f.contains("arguments")) {
          const json& a = f["arguments"];
          if (a.is_string()) call.arguments = a.get<std::string>();
          else if (a.is_object()) call.arguments = a.dump();
          else return fail("a tool call's 'arguments' must be an object or a JSON string");
        } else {
          call.arguments = "{}";
        }
        msg.tool_calls.push_back(std::move(call));
      }
    }
    out.push_back(std::move(msg));
  }
  return out;
}

std::string rfc3339(std::chrono::system_clock::time_point t) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ns / 1000000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return strfmt("%s.%09lldZ", buf, static_cast<long long>(ns % 1000000000));
}

std::string rfc3339_now() {
  return rfc3339(std::chrono::system_clock::now());
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string new_id(const char* prefix) {
  static std::mt19937_64 rng{std::random_device{}()};
  static std::mutex mu;
  std::lock_guard lk(mu);
  return strfmt("%s-%016llx", prefix, static_cast<unsigned long long>(rng()));
}

Result<std::vector<int32_t>> chat_prompt(const LoadedModel& m, std::vector<ChatMessage> messages,
                                         const std::string& tools_json) {
  const bool has_system = std::any_of(messages.begin(), messages.end(), [](const ChatMessage& x) {
    return x.role == "system";
  });
  if (!has_system && !m.defaults.system.empty()) messages.insert(messages.begin(), ChatMessage("system", m.defaults.system));
  // Calls without ids (Ollama's messages carry none) get some, and tool results without one the
  // id of the call they answer, in order: templates such as Mistral's require them (9 letters or
  // digits).
  std::vector<std::string> open_calls;
  int next_id = 0;
  for (ChatMessage& msg : messages) {
    if (msg.role == "assistant" && !msg.tool_calls.empty()) {
      open_calls.clear();
      for (ToolCall& c : msg.tool_calls) {
        if (c.id.empty()) c.id = strfmt("call%05d", next_id++ % 100000);
        open_calls.push_back(c.id);
      }
      std::reverse(open_calls.begin(), open_calls.end());
    } else if (msg.role == "tool" && msg.tool_call_id.empty() && !open_calls.empty()) {
      msg.tool_call_id = open_calls.back();
      open_calls.pop_back();
    }
  }
  ChatFormatOptions o;
  o.tools_json = tools_json;
  if (!tools_json.empty() && !m.takes_tools) {
    return make_error(
        "model '%s' does not support tools: its chat template does not render them (a Modelfile's TEMPLATE can "
        "give it one that does)",
        m.name.c_str());
  }
  return m.model->apply_chat_template(messages, o);
}

Result<ToolUse> read_tools(const std::string& raw_body) {
  ToolUse use;
  const auto body = nlohmann::ordered_json::parse(raw_body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return use;  // parse_body has answered already
  if (body.contains("tools") && !body["tools"].is_null()) {
    if (!body["tools"].is_array()) return make_error("'tools' must be an array");
    use.tools_json = body["tools"].dump();
    auto tools = parse_tools(use.tools_json);
    if (!tools) return tools.error();
    use.tools = std::move(*tools);
    if (use.tools.empty()) use.tools_json.clear();
  }
  if (body.contains("tool_choice") && !body["tool_choice"].is_null()) {
    const auto& c = body["tool_choice"];
    if (c == "none") {
      use.choice.kind = ToolChoice::kNone;
    } else if (c == "auto") {
      use.choice.kind = ToolChoice::kAuto;
    } else if (c == "required") {
      use.choice.kind = ToolChoice::kRequired;
    } else if (c.is_object() && c.contains("function") && c["function"].is_object() &&
               c["function"].contains("name") && c["function"]["name"].is_string() &&
               (!c.contains("type") || c["type"] == "function")) {
      use.choice.kind = ToolChoice::kFunction;
      use.choice.function = c["function"]["name"].get<std::string>();
    } else {
      return make_error(
          "'tool_choice' must be \"none\", \"auto\", \"required\" or {\"type\": \"function\", \"function\": "
          "{\"name\": ...}}");
    }
    if ((use.choice.kind == ToolChoice::kRequired || use.choice.kind == ToolChoice::kFunction) && use.tools.empty())
      return make_error("'tool_choice' asks for a tool call but 'tools' offers none");
  }
  return use;
}

Status apply_tools(const LoadedModel& m, ToolUse* use, RunParameters* p) {
  if (!use->active()) return Status();
  use->format = tool_call_format(m.model->info().chat_template);
  if (use->choice.kind == ToolChoice::kAuto) return Status();
  if (!p->generate.grammar.empty())
    return make_error("'tool_choice' %s cannot go with a response format or grammar: both would shape the answer",
                      use->choice.kind == ToolChoice::kRequired ? "\"required\"" : "naming a function");
  auto g = tool_call_grammar(use->format, use->tools, use->choice);
  if (!g) return g.error();
  p->generate.grammar = std::move(*g);
  return Status();
}

namespace {
// OpenAI's "call_" and 24 letters and digits; for Mistral's templates, which check them when the
// conversation comes back, 9 letters and digits.
std::string call_id(ToolCallFormat format) {
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  thread_local std::mt19937_64 rng(std::random_device{}());
  const bool mistral = format == ToolCallFormat::kMistral;
  std::string id = mistral ? "" : "call_";
  for (int i = 0; i < (mistral ? 9 : 24); ++i) id += kChars[rng() % (sizeof kChars - 1)];
  return id;
}
}  // namespace

json openai_tool_calls(const std::vector<ToolCall>& calls, ToolCallFormat format) {
  json out = json::array();
  for (const ToolCall& c : calls)
    out.push_back({{"id", c.id.empty() ? call_id(format) : c.id},
                   {"type", "function"},
                   {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
  return out;
}

json ollama_tool_calls(const std::vector<ToolCall>& calls) {
  json out = json::array();
  for (size_t i = 0; i < calls.size(); ++i) {
    json args = json::parse(calls[i].arguments, nullptr, false);
    if (args.is_discarded()) args = json::object();
    out.push_back({{"function", {{"index", i}, {"name", calls[i].name}, {"arguments", args}}}});
  }
  return out;
}


Result<Job> prepare_job(std::shared_ptr<LoadedModel> m, std::vector<int32_t> prompt, RunParameters p) {
  if (m->model->info().embedding_only)
    return make_error("model '%s' is an embedding model: it cannot generate text (use /api/embed or /v1/embeddings)",
                      m->name.c_str());
  if (prompt.empty()) return make_error("the prompt is empty");
  Job job;
  auto use = use_generator(m, p.n_ctx);
  if (!use) return use.error();
  job.generator = std::move(*use);
  if (static_cast<int64_t>(prompt.size()) > job.generator->n_ctx()) {
    return make_error("the prompt is %zu tokens, longer than the context of %d tokens (raise num_ctx)", prompt.size(),
                      job.generator->n_ctx());
  }
  job.model = std::move(m);
  job.prompt = std::move(prompt);
  job.params = std::move(p);
  return job;
}

Result<GenerateStats> Job::run(const GenerateOptions& options,
                               const std::function<bool(const GeneratedPiece&)>& on_piece) const {
  return generator->generate(prompt, options, on_piece);
}

}  // namespace minnow::server

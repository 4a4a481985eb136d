// The Ollama API (github.com/ollama/ollama docs/api.md): /api/generate and /api/chat with
// NDJSON streaming and timings in nanoseconds, model listing and management, /api/ps and
// /api/version. Errors are {"error": "..."} with a 4xx/5xx status.
#include <chrono>
#include <filesystem>
#include <optional>

#include "server/api_common.h"
#include "server/client_watch.h"
#include "server/http_util.h"
#include "server/router_api.h"
#include "server/state.h"

namespace minnow::server {
namespace {

using Clock = std::chrono::steady_clock;

int64_t ns(double seconds) {
  return static_cast<int64_t>(seconds * 1e9);
}

// "135M", "1.2B" from a parameter count, as Ollama's details.parameter_size.
std::string parameter_size(uint64_t n) {
  if (n >= 1000000000ull) return strfmt("%.1fB", static_cast<double>(n) / 1e9);
  if (n < 1000000ull) return strfmt("%.0fK", static_cast<double>(n) / 1e3);
  return strfmt("%.0fM", static_cast<double>(n) / 1e6);
}

json details(const ModelInfo* info) {
  json d = {{"parent_model", ""}, {"format", "gguf"}, {"family", ""}, {"families", nullptr},
            {"parameter_size", ""}, {"quantization_level", ""}};
  if (info) {
    d["family"] = info->architecture;
    d["families"] = json::array({info->architecture});
    d["parameter_size"] = parameter_size(info->n_params);
    d["quantization_level"] = info->quantization;
  }
  return d;
}

// The model's info when it is loaded (listing does not load models).
const ModelInfo* loaded_info(const std::string& name, const std::vector<LoadedInfo>& loaded) {
  for (const LoadedInfo& l : loaded)
    if (l.name == name) return &l.model->model->info();
  return nullptr;
}

bool refuse_unsupported(const json& body, ApiError* err) {
  if (body.contains("images") && body["images"].is_array() && !body["images"].empty()) {
    *err = {400, "images are not supported by this server's models"};
    return true;
  }
  if (body.contains("suffix") && body["suffix"].is_string() && !body["suffix"].get<std::string>().empty()) {
    *err = {400, "'suffix' (fill in the middle) is not supported by this server yet"};
    return true;
  }
  return false;
}

// The final object's timings and counts.
void add_stats(json& j, const GenerateStats& st, const Lease& lease, Clock::time_point t0) {
  j["done_reason"] = st.done_reason;
  j["total_duration"] = ns(std::chrono::duration<double>(Clock::now() - t0).count());
  j["load_duration"] = ns(lease.load_seconds);
  j["prompt_eval_count"] = st.prompt_tokens - st.prompt_cached_tokens;
  j["prompt_eval_duration"] = ns(st.prompt_seconds);
  j["eval_count"] = st.generated_tokens;
  j["eval_duration"] = ns(st.generate_seconds);
}

// Runs the lease's job and answers: one JSON object, or NDJSON lines as text comes. make(text)
// builds a line's object (the final one gets done and the stats). With tools (chat), the output
// is read for calls, which go out as message.tool_calls; text that may be a call waits for the end.
void respond(State& state, const httplib::Request& req, httplib::Response& res, std::shared_ptr<Lease> lease,
             bool stream, Clock::time_point t0,
             std::function<json(const std::string& text, bool done)> make, std::shared_ptr<const ToolUse> tools = nullptr) {
  auto with_calls = [make](const ParsedToolCalls& p, bool done) {
    json j = make(p.content, done);
    if (!p.calls.empty()) j["message"]["tool_calls"] = ollama_tool_calls(p.calls);
    return j;
  };
  if (!stream) {
    std::string text;
    ClientWatch client(req);  // nothing is written until the end: a client that left stops it
    auto st = lease->job->run([&](const GeneratedPiece& p) {
      text += p.text;
      return !client.gone();
    });
    if (!st) return ollama_error(res, 500, st.error().message);
    if (client.gone()) {
      state.metrics.cancelled++;
      return ollama_error(res, 499, "the client closed the connection");
    }
    count_generation(state.metrics, *st);
    json j = tools ? with_calls(parse_tool_calls(text, tools->tools), true) : make(text, true);
    add_stats(j, *st, *lease, t0);
    return send_json(res, 200, j);
  }
  res.set_chunked_content_provider("application/x-ndjson", [&state, lease, t0, make, tools,
                                                            with_calls](size_t, httplib::DataSink& sink) {
    bool gone = false;
    std::optional<ToolCallStream> calls;
    if (tools) calls.emplace(tools->tools);
    auto write = [&](const json& j) {
      const std::string line = dump(j) + "\n";
      gone = !sink.write(line.data(), line.size());
    };
    auto st = lease->job->run([&](const GeneratedPiece& p) {
      const std::string text = calls ? calls->push(p.text) : std::string(p.text);
      if (text.empty()) return true;
      write(make(text, false));
      return !gone;
    });
    if (gone) {
      state.metrics.cancelled++;
      return false;
    }
    json last;
    if (st) {
      count_generation(state.metrics, *st);
      if (calls) {
        const ParsedToolCalls rest = calls->finish();
        if (!rest.content.empty() || !rest.calls.empty()) write(with_calls(rest, false));
      }
      last = make("", true);
      add_stats(last, *st, *lease, t0);
    } else {
      last = {{"error", st.error().message}};
    }
    write(last);
    sink.done();
    lease->job.reset();  // the generator is free for another num_ctx now
    return true;
  });
}

// A request with no prompt or messages only loads (or, with keep_alive 0, unloads) the model.
void answer_load_only(httplib::Response& res, Lease& lease, bool chat) {
  const bool unload = lease.keep_alive_s == 0;
  json j = {{"model", lease.model->name}, {"created_at", rfc3339_now()}, {"done", true},
            {"done_reason", unload ? "unload" : "load"}};
  if (chat) j["message"] = {{"role", "assistant"}, {"content", ""}};
  else j["response"] = "";
  send_json(res, 200, j);
}

void handle_generate(State& state, const httplib::Request& req, httplib::Response& res) {
  const auto t0 = Clock::now();
  ApiError err;
  auto body = parse_body(req.body, &err);
  if (!body) return ollama_error(res, err.status, err.message);
  if (body->contains("model") && (*body)["model"].is_string() && find_router(state, (*body)["model"]) != nullptr)
    return ollama_error(res, 400, "'" + (*body)["model"].get<std::string>() +
                                      "' is a router: it answers chat requests (/api/chat) only");
  Fields f(*body);
  const std::string model = f.required_str("model");
  const std::string prompt = f.str("prompt").value_or("");
  const std::optional<std::string> system = f.str("system");
  const bool raw = f.boolean("raw").value_or(false);
  const bool stream = f.boolean("stream").value_or(true);
  if (f.str("template").value_or("") != "") f.fail("'template' in a request is not supported; set TEMPLATE in a Modelfile");
  f.object("options");
  if (!f.ok()) return ollama_error(res, 400, f.error());
  if (refuse_unsupported(*body, &err)) return ollama_error(res, err.status, err.message);
  auto grammar = request_grammar(req.body, false);
  if (!grammar) return ollama_error(res, 400, grammar.error().message);

  auto lease = begin_request(state, model, &err);
  if (!lease) return ollama_error(res, err.status, err.message);
  if (!read_keep_alive(*body, *lease, &err)) return ollama_error(res, err.status, err.message);
  if (prompt.empty()) return answer_load_only(res, *lease, false);
  RunParameters params;
  if (!read_parameters(*body, *lease, &params, &err)) return ollama_error(res, err.status, err.message);
  params.generate.grammar = std::move(*grammar);

  const LoadedModel& m = *lease->model;
  Result<std::vector<int32_t>> tokens = std::vector<int32_t>{};
  if (raw) {
    tokens = m.model->tokenize(prompt, true, false);
  } else {
    std::vector<ChatMessage> messages;
    const std::string sys = system.value_or(m.defaults.system);
    if (!sys.empty()) messages.emplace_back("system", sys);
    messages.emplace_back("user", prompt);
    tokens = chat_prompt(m, std::move(messages), "");
  }
  if (!tokens) return ollama_error(res, 400, tokens.error().message);
  auto job = prepare_job(lease->model, std::move(*tokens), std::move(params));
  if (!job) return ollama_error(res, 400, job.error().message);
  lease->job = std::move(*job);
  const std::string name = m.name;
  respond(state, req, res, lease, stream, t0, [name](const std::string& text, bool done) {
    return json{{"model", name}, {"created_at", rfc3339_now()}, {"response", text}, {"done", done}};
  });
}

// An Ollama chat request naming a router: asked as the OpenAI chat request it amounts to
// (options -> sampling fields, format -> response_format), answered in Ollama's shape (streamed:
// the message, then the closing line).
void routed_chat(State& state, const httplib::Request& req, httplib::Response& res, const RouterDef& r,
                 const json& body, Clock::time_point t0) {
  json ask = {{"model", r.name}, {"messages", body.value("messages", json::array())}};
  for (const char* k : {"tools", "local_only", "metadata"})
    if (body.contains(k)) ask[k] = body[k];
  if (body.contains("options") && body["options"].is_object()) {
    const json& o = body["options"];
    for (const char* k : {"temperature", "top_p", "seed", "stop", "presence_penalty", "frequency_penalty"})
      if (o.contains(k)) ask[k] = o[k];
    if (o.contains("num_predict")) ask["max_tokens"] = o["num_predict"];
  }
  if (body.contains("format")) {
    const json& fmt = body["format"];
    if (fmt == "json") ask["response_format"] = {{"type", "json_object"}};
    else if (fmt.is_object())
      ask["response_format"] = {{"type", "json_schema"}, {"json_schema", {{"name", "format"}, {"schema", fmt}}}};
  }
  Routed routed = route_chat(state, req, r, ask);
  set_routed_headers(res, routed);
  if (routed.status != 200) {
    const json& e = routed.body;
    const bool has_message = e.is_object() && e.contains("error") && e["error"].is_object() &&
                             e["error"].contains("message") && e["error"]["message"].is_string();
    return ollama_error(res, routed.status, has_message ? e["error"]["message"].get<std::string>() : "router error");
  }
  const json& a = routed.body;
  const json& choice = a["choices"][0];
  json message = {{"role", "assistant"}, {"content", choice["message"].value("content", json(""))}};
  if (message["content"].is_null()) message["content"] = "";
  if (choice["message"].contains("tool_calls")) {
    json calls = json::array();
    for (const json& c : choice["message"]["tool_calls"]) {
      json args = json::parse(c["function"].value("arguments", std::string("{}")), nullptr, false);
      calls.push_back({{"function", {{"name", c["function"].value("name", std::string())},
                                     {"arguments", args.is_discarded() ? json::object() : args}}}});
    }
    message["tool_calls"] = calls;
  }
  const json usage = a.value("usage", json::object());
  const auto total_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
  const std::string created = rfc3339_now();
  json done = {{"model", r.name},
               {"created_at", created},
               {"message", {{"role", "assistant"}, {"content", ""}}},
               {"done", true},
               {"done_reason", choice.value("finish_reason", json("stop")) == "length" ? "length" : "stop"},
               {"total_duration", total_ns},
               {"prompt_eval_count", usage.value("prompt_tokens", 0)},
               {"eval_count", usage.value("completion_tokens", 0)},
               {"minnow", a["minnow"]}};
  const bool stream = !(body.contains("stream") && body["stream"].is_boolean() && !body["stream"].get<bool>());
  if (!stream) {
    done["message"] = message;
    return send_json(res, 200, done);
  }
  json first = {{"model", r.name}, {"created_at", created}, {"message", message}, {"done", false}};
  res.status = 200;
  res.set_content(dump(first) + "\n" + dump(done) + "\n", "application/x-ndjson");
}

void handle_chat(State& state, const httplib::Request& req, httplib::Response& res) {
  const auto t0 = Clock::now();
  ApiError err;
  auto body = parse_body(req.body, &err);
  if (!body) return ollama_error(res, err.status, err.message);
  if (body->contains("model") && (*body)["model"].is_string())
    if (const RouterDef* r = find_router(state, (*body)["model"].get<std::string>()))
      return routed_chat(state, req, res, *r, *body, t0);
  Fields f(*body);
  const std::string model = f.required_str("model");
  const bool stream = f.boolean("stream").value_or(true);
  const json* messages_json = f.array("messages");
  f.array("tools");
  f.object("options");
  if (!f.ok()) return ollama_error(res, 400, f.error());
  if (refuse_unsupported(*body, &err)) return ollama_error(res, err.status, err.message);
  auto grammar = request_grammar(req.body, false);
  if (!grammar) return ollama_error(res, 400, grammar.error().message);
  auto tool_use = read_tools(req.body);
  if (!tool_use) return ollama_error(res, 400, tool_use.error().message);
  std::vector<ChatMessage> messages;
  if (messages_json) {
    auto parsed = parse_messages(*messages_json);
    if (!parsed) return ollama_error(res, 400, parsed.error().message);
    messages = std::move(*parsed);
  }

  auto lease = begin_request(state, model, &err);
  if (!lease) return ollama_error(res, err.status, err.message);
  if (!read_keep_alive(*body, *lease, &err)) return ollama_error(res, err.status, err.message);
  if (messages.empty()) return answer_load_only(res, *lease, true);
  RunParameters params;
  if (!read_parameters(*body, *lease, &params, &err)) return ollama_error(res, err.status, err.message);
  params.generate.grammar = std::move(*grammar);
  if (Status st = apply_tools(*lease->model, &*tool_use, &params); !st.ok())
    return ollama_error(res, 400, st.error().message);
  auto tokens = chat_prompt(*lease->model, std::move(messages), tool_use->active() ? tool_use->tools_json : "");
  if (!tokens) return ollama_error(res, 400, tokens.error().message);
  auto job = prepare_job(lease->model, std::move(*tokens), std::move(params));
  if (!job) return ollama_error(res, 400, job.error().message);
  lease->job = std::move(*job);
  const std::string name = lease->model->name;
  auto tools = tool_use->active() ? std::make_shared<const ToolUse>(std::move(*tool_use)) : nullptr;
  respond(
      state, req, res, lease, stream, t0,
      [name](const std::string& text, bool done) {
        return json{{"model", name},
                    {"created_at", rfc3339_now()},
                    {"message", {{"role", "assistant"}, {"content", text}}},
                    {"done", done}};
      },
      std::move(tools));
}

json model_entry(const StoredModel& m, const ModelInfo* info) {
  return {{"name", m.name}, {"model", m.name}, {"modified_at", m.modified}, {"size", m.size},
          {"digest", m.digest.rfind("sha256:", 0) == 0 ? m.digest.substr(7) : m.digest}, {"details", details(info)}};
}

void handle_tags(State& state, httplib::Response& res) {
  auto loaded = state.pool.loaded();
  json models = json::array();
  for (const StoredModel& m : state.pool.store().list()) models.push_back(model_entry(m, loaded_info(m.name, loaded)));
  send_json(res, 200, {{"models", models}});
}

void handle_ps(State& state, httplib::Response& res) {
  json models = json::array();
  for (const LoadedInfo& l : state.pool.loaded()) {
    json e = model_entry(l.model->defaults, &l.model->model->info());
    e["expires_at"] = l.expires_at == std::chrono::system_clock::time_point::max() ? "0001-01-01T00:00:00Z"
                                                                                   : rfc3339(l.expires_at);
    e["size_vram"] = 0;
    e["context_length"] = l.model->context_length();
    models.push_back(e);
  }
  send_json(res, 200, {{"models", models}});
}

void handle_show(State& state, const httplib::Request& req, httplib::Response& res) {
  ApiError err;
  auto body = parse_body(req.body, &err);
  if (!body) return ollama_error(res, err.status, err.message);
  Fields f(*body);
  const std::string name = f.model_name();
  if (!f.ok()) return ollama_error(res, 400, f.error());
  auto stored = state.pool.store().find(name);
  if (!stored) return ollama_error(res, 404, "model '" + name + "' not found");
  // A loaded model answers from memory; another is opened for its metadata only (mapped, not
  // repacked, not kept in the pool), as showing a model must not load it for serving.
  std::shared_ptr<const Model> model;
  bool takes_tools = false;
  for (const LoadedInfo& l : state.pool.loaded()) {
    if (l.name == stored->name) {
      model = l.model->model;
      takes_tools = l.model->takes_tools;
    }
  }
  if (!model) {
    auto opened = Model::load(stored->model_path, LoadOptions{.n_threads = 1, .isa = "",
                                                              .chat_template = stored->chat_template, .repack = false});
    if (!opened) return ollama_error(res, 500, opened.error().with_context(stored->name).message);
    model = std::move(*opened);
    takes_tools = renders_tools(*model);
  }
  const ModelInfo& info = model->info();
  std::string parameters, modelfile = "FROM " + stored->model_path + "\n";
  for (const auto& [k, v] : stored->parameters) {
    parameters += k + " " + v + "\n";
    modelfile += "PARAMETER " + k + " " + v + "\n";
  }
  if (!stored->system.empty()) modelfile += "SYSTEM \"\"\"" + stored->system + "\"\"\"\n";
  json model_info = json::object();
  for (const auto& [k, v] : info.metadata) model_info[k] = v;
  json capabilities = json::array({info.embedding_only ? "embedding" : "completion"});
  if (takes_tools) capabilities.push_back("tools");
  send_json(res, 200,
            {{"modelfile", modelfile},
             {"parameters", parameters},
             {"template", info.chat_template},
             {"system", stored->system},
             {"details", details(&info)},
             {"model_info", model_info},
             {"capabilities", capabilities},
             {"modified_at", stored->modified}});
}

void handle_delete(State& state, const httplib::Request& req, httplib::Response& res) {
  ApiError err;
  auto body = parse_body(req.body, &err);
  if (!body) return ollama_error(res, err.status, err.message);
  Fields f(*body);
  const std::string name = f.model_name();
  if (!f.ok()) return ollama_error(res, 400, f.error());
  if (!state.pool.store().find(name)) return ollama_error(res, 404, "model '" + name + "' not found");
  state.pool.unload(name);
  Store store = state.pool.store();
  if (Status st = store.remove(name); !st.ok()) return ollama_error(res, 500, st.error().message);
  res.status = 200;
}

void handle_copy(State& state, const httplib::Request& req, httplib::Response& res) {
  ApiError err;
  auto body = parse_body(req.body, &err);
  if (!body) return ollama_error(res, err.status, err.message);
  Fields f(*body);
  const std::string from = f.required_str("source"), to = f.required_str("destination");
  if (!f.ok()) return ollama_error(res, 400, f.error());
  if (!state.pool.store().find(from)) return ollama_error(res, 404, "model '" + from + "' not found");
  Store store = state.pool.store();
  if (Status st = store.copy(from, to); !st.ok()) return ollama_error(res, 400, st.error().message);
  res.status = 200;
}

}  // namespace

// The request's keep_alive into the lease; false with err set when malformed.
bool read_keep_alive(const json& body, Lease& lease, ApiError* err) {
  if (!body.contains("keep_alive") || body["keep_alive"].is_null()) return true;
  auto k = parse_keep_alive(body["keep_alive"]);
  if (!k) {
    *err = {400, k.error().message};
    return false;
  }
  lease.keep_alive_s = *k;
  return true;
}

// Parameters: the stored model's, then the request's options.
bool read_parameters(const json& body, const Lease& lease, RunParameters* p, ApiError* err) {
  auto base = model_parameters(*lease.model);
  if (!base) {
    *err = {500, "the stored parameters of " + lease.model->name + ": " + base.error().message};
    return false;
  }
  *p = std::move(*base);
  if (body.contains("options") && !body["options"].is_null()) {
    if (Status st = apply_options(body["options"], p); !st.ok()) {
      *err = {400, st.error().message};
      return false;
    }
  }
  return true;
}

void add_ollama_routes(httplib::Server& http, State& state) {
  http.Post("/api/generate", [&state](const httplib::Request& q, httplib::Response& r) { handle_generate(state, q, r); });
  http.Post("/api/chat", [&state](const httplib::Request& q, httplib::Response& r) { handle_chat(state, q, r); });
  http.Get("/api/tags", [&state](const httplib::Request&, httplib::Response& r) { handle_tags(state, r); });
  http.Get("/api/ps", [&state](const httplib::Request&, httplib::Response& r) { handle_ps(state, r); });
  http.Post("/api/show", [&state](const httplib::Request& q, httplib::Response& r) { handle_show(state, q, r); });
  http.Delete("/api/delete", [&state](const httplib::Request& q, httplib::Response& r) { handle_delete(state, q, r); });
  http.Post("/api/copy", [&state](const httplib::Request& q, httplib::Response& r) { handle_copy(state, q, r); });
  http.Get("/api/version", [](const httplib::Request&, httplib::Response& r) {
    send_json(r, 200, {{"version", MINNOW_VERSION}});
  });
}

}  // namespace minnow::server

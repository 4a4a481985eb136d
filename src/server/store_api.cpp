// The Ollama API's slow store changes: /api/pull (a model from Hugging Face, minnow/pull.h) and
// /api/create (a model from a Modelfile or Ollama's JSON fields, minnow/create.h). Both stream
// NDJSON status objects by default, ending in {"status": "success"} or {"error": "..."}; with
// "stream": false they answer once, when done. Malformed requests are 400s before any work.
#include "minnow/create.h"
#include "minnow/parameters.h"
#include "minnow/pull.h"
#include "server/api_common.h"
#include "server/http_util.h"
#include "server/state.h"

namespace minnow::server {
namespace {

// Sends one status object; false once the client has gone away.
using Emit = std::function<bool(const json&)>;

// Runs work and answers: NDJSON lines as work emits them (an error as a last {"error"} line),
// or, not streaming, {"status": "success"} or the error with error_status once work is done.
void respond(httplib::Response& res, bool stream, int error_status, std::function<Status(const Emit&)> work) {
  if (!stream) {
    const Status st = work([](const json&) { return true; });
    if (!st.ok()) return ollama_error(res, error_status, st.error().message);
    return send_json(res, 200, {{"status", "success"}});
  }
  res.set_chunked_content_provider("application/x-ndjson", [work](size_t, httplib::DataSink& sink) {
    bool gone = false;
    const Emit emit = [&](const json& j) {
      const std::string line = dump(j) + "\n";
      gone = gone || !sink.write(line.data(), line.size());
      return !gone;
    };
    const Status st = work(emit);
    if (gone) return false;
    if (!st.ok()) emit({{"error", st.error().message}});
    sink.done();
    return true;
  });
}

void handle_pull(State& state, const httplib::Request& req, httplib::Response& res) {
  ApiError err;
  auto body = parse_body(req.body, &err);
  if (!body) return ollama_error(res, err.status, err.message);
  Fields f(*body);
  const std::string name = f.model_name();
  const bool stream = f.boolean("stream").value_or(true);
  f.boolean("insecure");  // checked, and moot: Hugging Face is reached over https unless a mirror says otherwise
  if (!f.ok()) return ollama_error(res, 400, f.error());
  if (auto source = resolve_pull_name(name); !source) return ollama_error(res, 400, source.error().message);

  respond(res, stream, 500, [&state, name](const Emit& emit) -> Status {
    Store store = state.pool.store();
    PullOptions o;
    o.progress = [&emit](const PullProgress& p) {
      json j = {{"status", p.status}};
      if (!p.digest.empty()) {
        j["digest"] = p.digest;
        j["total"] = p.total;
        j["completed"] = p.completed;
      }
      return emit(j);  // a client that went away cancels the pull (the next one resumes it)
    };
    auto pulled = pull_model(store, name, o);
    if (!pulled) return pulled.error();
    state.pool.unload(pulled->name);  // a loaded older version of the name gives way
    return Status();
  });
}

// Ollama's "parameters" object ({"temperature": 0.2, "stop": ["a", "b"]}) as PARAMETER lines.
Status json_parameters(const json& params, std::vector<std::pair<std::string, std::string>>* out) {
  for (const auto& [key, value] : params.items()) {
    const std::vector<json> values = value.is_array() ? value.get<std::vector<json>>() : std::vector<json>{value};
    for (const json& v : values) {
      if (v.is_string()) out->emplace_back(key, v.get<std::string>());
      else if (v.is_number() || v.is_boolean()) out->emplace_back(key, v.dump());
      else return make_error("parameter '%s' must be a string, number or boolean, or an array of them", key.c_str());
    }
  }
  return Status();
}

// The Modelfile a create request describes: its "modelfile" text (the older API), or "from",
// with "system", "template", "license" and "parameters" on top.
Result<Modelfile> request_modelfile(Fields& f, const json& body) {
  const std::optional<std::string> text = f.str("modelfile"), from = f.str("from");
  const std::optional<std::string> system = f.str("system"), tmpl = f.str("template");
  const json* params = f.object("parameters");
  if (!f.ok()) return make_error("%s", f.error().c_str());
  for (const char* unsupported : {"files", "adapters"}) {
    if (body.contains(unsupported) && !body[unsupported].is_null() && !body[unsupported].empty()) {
      return make_error("'%s' (uploaded blobs) are not supported: create FROM a store model or a GGUF file on the "
                        "server",
                        unsupported);
    }
  }
  if (body.contains("quantize") && !body["quantize"].is_null() && body["quantize"] != "") {
    return make_error("'quantize' is not supported by /api/create; `minnow quantize` makes a quantized GGUF");
  }
  if (body.contains("messages") && !body["messages"].is_null() && !body["messages"].empty()) {
    return make_error("'messages' (a conversation to start from) is not supported");
  }
  Modelfile mf;
  if (text) {
    // "from" is the FROM line of a Modelfile that has none; both is a second FROM, an error.
    auto parsed = Modelfile::parse(from ? "FROM " + *from + "\n" + *text : *text);
    if (!parsed) return parsed.error();
    mf = std::move(*parsed);
  } else if (from && !from->empty()) {
    mf.from = *from;
  } else {
    return make_error("'from' is required: a model in the store or the path of a GGUF file on the server");
  }
  if (system) mf.system = *system;
  if (tmpl) mf.chat_template = *tmpl;
  if (body.contains("license")) {
    const json& l = body["license"];
    const std::vector<json> parts = l.is_array() ? l.get<std::vector<json>>() : std::vector<json>{l};
    for (const json& p : parts) {
      if (!p.is_string()) return make_error("'license' must be a string or an array of strings");
      mf.license += (mf.license.empty() ? "" : "\n") + p.get<std::string>();
    }
  }
  if (params) MINNOW_CHECK_OK(json_parameters(*params, &mf.parameters));
  return mf;
}

void handle_create(State& state, const httplib::Request& req, httplib::Response& res) {
  ApiError err;
  auto body = parse_body(req.body, &err);
  if (!body) return ollama_error(res, err.status, err.message);
  Fields f(*body);
  const std::string name = f.model_name();
  const bool stream = f.boolean("stream").value_or(true);
  if (!f.ok()) return ollama_error(res, 400, f.error());
  auto parsed = ModelName::parse(name);
  if (!parsed) return ollama_error(res, 400, parsed.error().message);
  auto mf = request_modelfile(f, *body);
  if (!mf) return ollama_error(res, 400, mf.error().message);
  RunParameters check;  // create_model checks them too; here they are a 400 even when streaming
  if (Status st = set_parameters(mf->parameters, &check); !st.ok()) {
    return ollama_error(res, 400, "parameters: " + st.error().message);
  }

  respond(res, stream, 400, [&state, full = parsed->full(), mf = std::move(*mf)](const Emit& emit) -> Status {
    Store store = state.pool.store();
    CreateOptions o;
    o.on_status = [&emit](const std::string& s) { emit({{"status", s}}); };
    auto created = create_model(store, full, mf, o);
    if (!created) return created.error();
    state.pool.unload(created->name);  // a loaded older version of the name gives way
    emit({{"status", "success"}});
    return Status();
  });
}

}  // namespace

void add_store_routes(httplib::Server& http, State& state) {
  http.Post("/api/pull", [&state](const httplib::Request& q, httplib::Response& r) { handle_pull(state, q, r); });
  http.Post("/api/create", [&state](const httplib::Request& q, httplib::Response& r) { handle_create(state, q, r); });
}

}  // namespace minnow::server

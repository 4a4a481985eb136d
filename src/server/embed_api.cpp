// Embeddings over HTTP: Ollama's /api/embed ({model, input: string | [string], truncate, options,
// keep_alive, dimensions}) and its legacy /api/embeddings ({model, prompt}), and OpenAI's
// /v1/embeddings (input: string | [string] | [int] | [[int]], encoding_format float | base64,
// dimensions). A request holds the model's session, and its lock, as a generation does. Errors
// come in each API's shape; a request without its input only loads the model (Ollama's idiom),
// and an empty one is a 400.
#include <bit>
#include <chrono>
#include <cstring>
#include <map>

#include "server/api_common.h"
#include "server/http_util.h"
#include "server/state.h"

namespace minnow::server {
namespace {

using Clock = std::chrono::steady_clock;
// JSON whose floats are float32 and print as the shortest text that reads back the same float
// (0.060709834, not the double 0.06070983409881592): responses of thousands of values are half
// the size, as Ollama's and OpenAI's are.
using json32 = nlohmann::basic_json<std::map, std::vector, std::string, bool, int64_t, uint64_t, float>;

constexpr size_t kMaxInputs = 2048;  // inputs per request, OpenAI's limit

int64_t ns_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
}

// A request's inputs: texts (tokenized with the vocabulary's special tokens), or token ids as given.
struct Inputs {
  std::vector<std::string> texts;
  std::vector<std::vector<int32_t>> tokens;
  bool is_tokens = false;
};

// A string or an array of strings, none empty, into texts; else the error for `key`.
bool read_texts(const json& v, const char* key, std::vector<std::string>* texts, std::string* err) {
  auto fail = [err](std::string why) {
    *err = std::move(why);
    return false;
  };
  if (v.is_string()) {
    texts->push_back(v.get<std::string>());
  } else if (v.is_array()) {
    for (const json& x : v) {
      if (!x.is_string()) return fail(strfmt("'%s' must be a string or an array of strings", key));
      texts->push_back(x.get<std::string>());
    }
  } else {
    return fail(strfmt("'%s' must be a string or an array of strings", key));
  }
  if (texts->empty()) return fail(strfmt("'%s' is empty", key));
  if (texts->size() > kMaxInputs) return fail(strfmt("'%s' has more than %zu inputs", key, kMaxInputs));
  for (size_t i = 0; i < texts->size(); ++i) {
    if ((*texts)[i].empty())
      return fail(v.is_string() ? strfmt("'%s' is empty", key) : strfmt("'%s'[%zu] is empty", key, i));
  }
  return true;
}

// A whole number that can be a token id (the model checks its vocabulary).
bool token_id(const json& x, int32_t* id) {
  if (!x.is_number_integer()) return false;
  const int64_t v = x.get<int64_t>();
  if (v < 0 || v > INT32_MAX) return false;
  *id = static_cast<int32_t>(v);
  return true;
}

// OpenAI's input: a string, strings, token ids, or arrays of token ids.
bool read_openai_input(const json& v, Inputs* in, std::string* err) {
  const bool ids = v.is_array() && !v.empty() && v[0].is_number();
  const bool id_lists = v.is_array() && !v.empty() && v[0].is_array();
  if (!ids && !id_lists) return read_texts(v, "input", &in->texts, err);
  auto fail = [err](std::string why) {
    *err = std::move(why);
    return false;
  };
  in->is_tokens = true;
  for (const json& one : ids ? json::array({v}) : v) {
    std::vector<int32_t> tokens;
    bool valid = one.is_array();
    for (size_t i = 0; valid && i < one.size(); ++i) {
      int32_t id = 0;
      valid = token_id(one[i], &id);
      tokens.push_back(id);
    }
    if (!valid) {
      return fail(
          "'input' must be a string, an array of strings, an array of token ids (whole numbers >= 0) or "
          "an array of such arrays");
    }
    if (tokens.empty()) return fail(strfmt("'input'[%zu] has no tokens", in->tokens.size()));
    in->tokens.push_back(std::move(tokens));
  }
  if (in->tokens.size() > kMaxInputs) return fail(strfmt("'input' has more than %zu inputs", kMaxInputs));
  return true;
}

// The embeddings of the inputs on the model's session, between generations (with_session). A
// session that cannot be made is the server's failure (500); anything the embedding refuses is
// the request's (400).
Result<std::vector<Embedding>> run_embed(const std::shared_ptr<LoadedModel>& m, const Inputs& in, int n_ctx,
                                         const EmbedOptions& o, ApiError* err) {
  Result<std::vector<Embedding>> out = Error{"not run"};
  Status st = with_session(m, n_ctx, [&](Session& s) {
    out = in.is_tokens ? s.embed(in.tokens, o) : s.embed_texts(in.texts, o);
  });
  if (!st.ok()) {
    *err = {500, st.error().message};
    return st.error();
  }
  if (!out) *err = {400, out.error().message};
  return out;
}

int prompt_tokens(const std::vector<Embedding>& e) {
  int n = 0;
  for (const Embedding& x : e) n += x.n_tokens;
  return n;
}

void send_json32(httplib::Response& res, const json32& body) {
  res.status = 200;
  res.set_content(body.dump(-1, ' ', false, json32::error_handler_t::replace), "application/json");
}

// The floats' little-endian IEEE bytes in base64, OpenAI's encoding_format "base64".
std::string base64_floats(const std::vector<float>& v) {
  static_assert(std::endian::native == std::endian::little, "the wire format is little-endian float32");
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bytes(v.size() * sizeof(float), '\0');
  std::memcpy(bytes.data(), v.data(), bytes.size());
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const size_t n = std::min<size_t>(3, bytes.size() - i);
    uint32_t group = 0;
    for (size_t j = 0; j < 3; ++j)
      group = group << 8 | (j < n ? static_cast<unsigned char>(bytes[i + j]) : 0u);
    for (size_t j = 0; j < 4; ++j) out += j <= n ? kAlphabet[(group >> (18 - 6 * j)) & 63] : '=';
  }
  return out;
}

void handle_embed(State& state, const httplib::Request& req, httplib::Response& res) {
  const auto t0 = Clock::now();
  ApiError err;
  auto body = parse_body(req.body, &err);
  if (!body) return ollama_error(res, err.status, err.message);
  Fields f(*body);
  const std::string model = f.required_str("model");
  const bool truncate = f.boolean("truncate").value_or(true);
  const int dims = static_cast<int>(f.integer("dimensions", 0, 1 << 20).value_or(0));
  f.object("options");
  Inputs in;
  const bool has_input = f.has("input");
  if (f.ok() && has_input) {
    std::string why;
    if (!read_texts((*body)["input"], "input", &in.texts, &why)) f.fail(why);
  }
  if (!f.ok()) return ollama_error(res, 400, f.error());

  auto lease = begin_request(state, model, &err);
  if (!lease) return ollama_error(res, err.status, err.message);
  RunParameters params;
  if (!read_keep_alive(*body, *lease, &err) || !read_parameters(*body, *lease, &params, &err))
    return ollama_error(res, err.status, err.message);
  json32 out = {{"model", lease->model->name}, {"embeddings", json32::array()}};
  int count = 0;
  if (has_input) {
    auto e = run_embed(lease->model, in, params.n_ctx, EmbedOptions{truncate, dims}, &err);
    if (!e) return ollama_error(res, err.status, err.message);
    for (const Embedding& x : *e) out["embeddings"].push_back(x.values);
    count = prompt_tokens(*e);
  }
  out["total_duration"] = ns_since(t0);
  out["load_duration"] = static_cast<int64_t>(lease->load_seconds * 1e9);
  out["prompt_eval_count"] = count;
  send_json32(res, out);
}

// The legacy endpoint: one prompt, {"embedding": [...]}, truncated to the context.
void handle_embeddings(State& state, const httplib::Request& req, httplib::Response& res) {
  ApiError err;
  auto body = parse_body(req.body, &err);
  if (!body) return ollama_error(res, err.status, err.message);
  Fields f(*body);
  const std::string model = f.required_str("model");
  const std::optional<std::string> prompt = f.str("prompt");
  f.object("options");
  if (f.ok() && prompt && prompt->empty()) f.fail("'prompt' is empty");
  if (!f.ok()) return ollama_error(res, 400, f.error());

  auto lease = begin_request(state, model, &err);
  if (!lease) return ollama_error(res, err.status, err.message);
  RunParameters params;
  if (!read_keep_alive(*body, *lease, &err) || !read_parameters(*body, *lease, &params, &err))
    return ollama_error(res, err.status, err.message);
  if (!prompt) return send_json32(res, {{"embedding", json32::array()}});
  Inputs in;
  in.texts.push_back(*prompt);
  auto e = run_embed(lease->model, in, params.n_ctx, EmbedOptions{true, 0}, &err);
  if (!e) return ollama_error(res, err.status, err.message);
  send_json32(res, {{"embedding", e->front().values}});
}

void handle_openai(State& state, const httplib::Request& req, httplib::Response& res) {
  ApiError err;
  auto body = parse_body(req.body, &err);
  if (!body) return openai_error(res, err.status, err.message);
  Fields f(*body);
  const std::string model = f.required_str("model");
  const std::string format = f.str("encoding_format").value_or("float");
  const int dims = static_cast<int>(f.integer("dimensions", 1, 1 << 20).value_or(0));
  f.str("user");
  if (f.ok() && format != "float" && format != "base64")
    f.fail("'encoding_format' must be \"float\" or \"base64\", not \"" + format + "\"");
  Inputs in;
  if (f.ok()) {
    std::string why;
    if (!f.has("input"))
      f.fail("'input' is required");
    else if (!read_openai_input((*body)["input"], &in, &why))
      f.fail(why);
  }
  if (!f.ok()) return openai_error(res, 400, f.error());

  auto lease = begin_request(state, model, &err);
  if (!lease) return openai_error(res, err.status, err.message);
  auto base = model_parameters(*lease->model);
  if (!base) return openai_error(res, 500, base.error().message);
  // OpenAI refuses inputs beyond the context rather than cutting them.
  auto e = run_embed(lease->model, in, base->n_ctx, EmbedOptions{false, dims}, &err);
  if (!e) return openai_error(res, err.status, err.message);
  json32 data = json32::array();
  for (size_t i = 0; i < e->size(); ++i) {
    const std::vector<float>& v = (*e)[i].values;
    data.push_back({{"object", "embedding"},
                    {"index", i},
                    {"embedding", format == "base64" ? json32(base64_floats(v)) : json32(v)}});
  }
  const int n = prompt_tokens(*e);
  send_json32(res, {{"object", "list"},
                    {"data", data},
                    {"model", lease->model->name},
                    {"usage", {{"prompt_tokens", n}, {"total_tokens", n}}}});
}

}  // namespace

void add_embed_routes(httplib::Server& http, State& state) {
  http.Post("/api/embed",
            [&state](const httplib::Request& q, httplib::Response& r) { handle_embed(state, q, r); });
  http.Post("/api/embeddings",
            [&state](const httplib::Request& q, httplib::Response& r) { handle_embeddings(state, q, r); });
  http.Post("/v1/embeddings",
            [&state](const httplib::Request& q, httplib::Response& r) { handle_openai(state, q, r); });
}

}  // namespace minnow::server

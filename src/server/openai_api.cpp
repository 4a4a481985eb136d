// The OpenAI API (platform.openai.com/docs/api-reference): /v1/chat/completions and
// /v1/completions with SSE streaming (stream_options.include_usage), stop, seed, max_tokens,
// logprobs and n > 1, echo with the prompt's logprobs (log-likelihood scoring), prompts as token
// ids and several prompts in one request; /v1/models.
// Errors are {"error": {"message", "type", "param", "code"}}.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "server/api_common.h"
#include "server/client_watch.h"
#include "server/router_api.h"
#include "server/http_util.h"
#include "server/state.h"

namespace minnow::server {
namespace {

json bytes_of(const std::string& s) {
  json b = json::array();
  for (unsigned char c : s) b.push_back(static_cast<int>(c));
  return b;
}

// What both completion endpoints read from a request.
struct Common {
  std::string model;
  bool stream = false;
  bool include_usage = false;
  int n = 1;
  RunParameters params;
  bool has_seed = false;
  ToolUse tools;  // chat: the tools offered and tool_choice
};

// Reads the sampling fields shared by both endpoints onto the model's parameters (after the
// lease, which gives the stored defaults). min_tokens: the least max_tokens the endpoint takes
// (completions take 0: a prompt scored with echo and logprobs, nothing generated).
bool read_sampling(Fields& f, const json& body, Lease& lease, int min_tokens, Common* c, ApiError* err) {
  auto base = model_parameters(*lease.model);
  if (!base) {
    *err = {500, base.error().message};
    return false;
  }
  c->params = std::move(*base);
  SamplingOptions& s = c->params.generate.sampling;
  if (auto v = f.number("temperature", 0, 2)) s.temperature = static_cast<float>(*v);
  if (auto v = f.number("top_p", 0, 1)) s.top_p = *v <= 0 ? 1e-6f : static_cast<float>(*v);
  if (auto v = f.number("frequency_penalty", -2, 2)) s.frequency_penalty = static_cast<float>(*v);
  if (auto v = f.number("presence_penalty", -2, 2)) s.presence_penalty = static_cast<float>(*v);
  if (auto v = f.integer("seed", INT64_MIN, INT64_MAX)) {
    s.seed = static_cast<uint64_t>(*v);
    c->has_seed = true;
  }
  for (const char* key : {"max_tokens", "max_completion_tokens"})
    if (auto v = f.integer(key, min_tokens, 1 << 24)) c->params.generate.num_predict = static_cast<int>(*v);
  if (auto v = f.integer("n", 1, 16)) c->n = static_cast<int>(*v);
  if (f.has("stop")) {
    const json& st = body["stop"];
    if (st.is_string()) {
      if (!st.get<std::string>().empty()) c->params.generate.stop.push_back(st);
    } else if (st.is_array() && st.size() <= 16) {
      for (const json& x : st) {
        if (!x.is_string()) f.fail("'stop' must be a string or an array of strings");
        else if (!x.get<std::string>().empty()) c->params.generate.stop.push_back(x);
      }
    } else {
      f.fail("'stop' must be a string or an array of at most 16 strings");
    }
  }
  if (const json* so = f.object("stream_options")) {
    if (so->contains("include_usage")) {
      if (!(*so)["include_usage"].is_boolean()) f.fail("'stream_options.include_usage' must be true or false");
      else c->include_usage = (*so)["include_usage"];
    }
  }
  if (!f.ok()) {
    *err = {400, f.error()};
    return false;
  }
  return true;
}

const char* finish_reason(const GenerateStats& st) {
  return st.done_reason == "length" ? "length" : "stop";
}

json usage(int prompt, int completion) {
  return {{"prompt_tokens", prompt}, {"completion_tokens", completion}, {"total_tokens", prompt + completion}};
}

// Chat logprobs entries for tokens.
json chat_logprobs(std::span<const GeneratedToken> tokens) {
  json content = json::array();
  for (const GeneratedToken& t : tokens) {
    json top = json::array();
    for (const TokenLogprob& a : t.top)
      top.push_back({{"token", a.text}, {"logprob", a.logprob}, {"bytes", bytes_of(a.text)}});
    content.push_back({{"token", t.text}, {"logprob", t.logprob}, {"bytes", bytes_of(t.text)}, {"top_logprobs", top}});
  }
  return content;
}

// The legacy completions logprobs object: the echoed prompt's tokens (text offsets from 0; the
// first has nothing before it, so null where a logprob would be, as OpenAI writes it), then the
// generated tokens, whose offsets count from `offset` (where they start in the choice's text).
json completion_logprobs(std::span<const GeneratedToken> prompt, std::span<const GeneratedToken> tokens,
                         size_t offset, bool with_top) {
  json toks = json::array(), lps = json::array(), tops = json::array(), offs = json::array();
  auto add = [&](const GeneratedToken& t, size_t at, bool first) {
    toks.push_back(t.text);
    lps.push_back(first ? json(nullptr) : json(t.logprob));
    offs.push_back(at);
    if (!with_top) return;
    json m = json::object();
    for (const TokenLogprob& a : t.top) m[a.text] = a.logprob;
    tops.push_back(first ? json(nullptr) : m);
  };
  size_t at = 0;
  for (size_t i = 0; i < prompt.size(); ++i) {
    add(prompt[i], at, i == 0);
    at += prompt[i].text.size();
  }
  for (const GeneratedToken& t : tokens) {
    add(t, offset, false);
    offset += t.text.size();
  }
  return {{"tokens", toks}, {"token_logprobs", lps}, {"top_logprobs", with_top ? tops : json(nullptr)},
          {"text_offset", offs}};
}

void sse(httplib::DataSink& sink, const std::string& data, bool* gone) {
  if (*gone) return;
  const std::string ev = "data: " + data + "\n\n";
  *gone = !sink.write(ev.data(), ev.size());
}

// Choice i of n samples with seed + i, so that n > 1 samples differ (and the same request
// repeats itself).
Result<GenerateStats> run_choice(const Lease& lease, int i, const std::function<bool(const GeneratedPiece&)>& on_piece) {
  GenerateOptions o = lease.job->params.generate;
  if (o.num_predict == 0) {
    // max_tokens 0 (a prompt scored with echo): the generator would evaluate the prompt only to
    // write nothing, doubling the work of a log-likelihood request.
    GenerateStats st;
    st.prompt_tokens = static_cast<int>(lease.job->prompt.size());
    st.done_reason = "length";
    return st;
  }
  o.sampling.seed += static_cast<uint64_t>(i);
  return lease.job->run(o, on_piece);
}

// Runs fn(i) for every choice at once, choice 0 on this thread: they decode together in the
// model's batch (beyond its free slots, they wait for one).
void for_each_choice(int n, const std::function<void(int)>& fn) {
  std::vector<std::thread> others;
  for (int i = 1; i < n; ++i) others.emplace_back(fn, i);
  fn(0);
  for (std::thread& t : others) t.join();
}

// What a text completion echoes before its own text: the prompt, and with logprobs its tokens'
// (Session::prompt_logprobs).
struct Echo {
  std::string text;
  std::vector<GeneratedToken> tokens;
};

// Shared by both endpoints: runs n choices and answers, streamed or not. chat: the chat shape,
// else the text-completion shape, each completion after the echo.
void respond(State& state, const httplib::Request& req, httplib::Response& res, std::shared_ptr<Lease> lease,
             const Common& c, bool chat, const Echo& echo) {
  const std::string id = new_id(chat ? "chatcmpl" : "cmpl");
  const int64_t created = unix_now();
  const std::string model = lease->model->name;
  const bool want_logprobs = lease->job->params.generate.logprobs;
  const bool want_top = lease->job->params.generate.top_logprobs > 0;
  const int prompt_tokens = static_cast<int>(lease->job->prompt.size());
  if (!c.stream) {
    struct Choice {
      std::string text;
      std::vector<GeneratedToken> tokens;
      Result<GenerateStats> stats = Error{"not run"};
    };
    std::vector<Choice> out(static_cast<size_t>(c.n));
    ClientWatch client(req);  // nothing is written until the end: a client that left stops it
    for_each_choice(c.n, [&](int i) {
      Choice& ch = out[static_cast<size_t>(i)];
      ch.stats = run_choice(*lease, i, [&](const GeneratedPiece& p) {
        ch.text += p.text;
        if (want_logprobs) ch.tokens.insert(ch.tokens.end(), p.tokens.begin(), p.tokens.end());
        return !client.gone();
      });
    });
    if (client.gone()) {
      state.metrics.cancelled++;
      return openai_error(res, 499, "the client closed the connection");
    }
    json choices = json::array();
    int completion_tokens = 0;
    for (int i = 0; i < c.n; ++i) {
      const Choice& ch = out[static_cast<size_t>(i)];
      if (!ch.stats) return openai_error(res, 500, ch.stats.error().message);
      count_generation(state.metrics, *ch.stats);
      completion_tokens += ch.stats->generated_tokens;
      json choice = {{"index", i}, {"finish_reason", finish_reason(*ch.stats)}};
      if (chat && c.tools.active()) {
        const ParsedToolCalls parsed = parse_tool_calls(ch.text, c.tools.tools);
        choice["message"] = {{"role", "assistant"}, {"content", parsed.content}};
        if (!parsed.calls.empty()) {
          if (parsed.content.empty()) choice["message"]["content"] = nullptr;
          choice["message"]["tool_calls"] = openai_tool_calls(parsed.calls, c.tools.format);
          choice["finish_reason"] = "tool_calls";
        }
        choice["logprobs"] = want_logprobs ? json{{"content", chat_logprobs(ch.tokens)}} : json(nullptr);
      } else if (chat) {
        choice["message"] = {{"role", "assistant"}, {"content", ch.text}};
        choice["logprobs"] = want_logprobs ? json{{"content", chat_logprobs(ch.tokens)}} : json(nullptr);
      } else {
        choice["text"] = echo.text + ch.text;
        choice["logprobs"] =
            want_logprobs ? completion_logprobs(echo.tokens, ch.tokens, echo.text.size(), want_top) : json(nullptr);
      }
      choices.push_back(choice);
    }
    return send_json(res, 200,
                     {{"id", id}, {"object", chat ? "chat.completion" : "text_completion"}, {"created", created},
                      {"model", model}, {"system_fingerprint", "minnow"}, {"choices", choices},
                      {"usage", usage(prompt_tokens, completion_tokens)}});
  }
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider("text/event-stream", [&state, lease, c, chat, echo, id, created, model,
                                                         want_logprobs, want_top,
                                                         prompt_tokens](size_t, httplib::DataSink& sink) {
    // The choices stream at once, their events interleaved (each carries its index); writes
    // to the sink go one at a time.
    std::mutex write_mu;
    bool gone = false;
    const char* object = chat ? "chat.completion.chunk" : "text_completion";
    auto chunk = [&](json choice) {
      return json{{"id", id},       {"object", object},           {"created", created},
                  {"model", model}, {"system_fingerprint", "minnow"}, {"choices", json::array({std::move(choice)})}};
    };
    for (int i = 0; i < c.n; ++i) {
      if (chat) sse(sink, dump(chunk({{"index", i}, {"delta", {{"role", "assistant"}, {"content", ""}}},
                                      {"logprobs", nullptr}, {"finish_reason", nullptr}})), &gone);
      else if (!echo.text.empty())
        sse(sink, dump(chunk({{"index", i}, {"text", echo.text},
                              {"logprobs", want_logprobs ? completion_logprobs(echo.tokens, {}, echo.text.size(), want_top)
                                                         : json(nullptr)},
                              {"finish_reason", nullptr}})), &gone);
    }
    int completion_tokens = 0;
    if (!gone) for_each_choice(c.n, [&](int i) {
      size_t offset = echo.text.size();
      // With tools, text that may be a call waits for the end, where it goes out as calls.
      std::optional<ToolCallStream> calls;
      if (chat && c.tools.active()) calls.emplace(c.tools.tools);
      auto st = run_choice(*lease, i, [&](const GeneratedPiece& p) {
        std::string text(p.text);
        if (calls) text = calls->push(p.text);
        if (text.empty() && (!want_logprobs || p.tokens.empty())) return true;
        json choice = {{"index", i}, {"finish_reason", nullptr}};
        if (chat) {
          choice["delta"] = {{"content", text}};
          choice["logprobs"] = want_logprobs ? json{{"content", chat_logprobs(p.tokens)}} : json(nullptr);
        } else {
          choice["text"] = std::string(p.text);
          choice["logprobs"] = want_logprobs ? completion_logprobs({}, p.tokens, offset, want_top) : json(nullptr);
          // Offsets count the tokens' bytes, as the unstreamed answer's do (a character split
          // across tokens comes in the piece of its last token, after the others' offsets).
          for (const GeneratedToken& t : p.tokens) offset += t.text.size();
        }
        const std::string event = dump(chunk(choice));
        std::lock_guard lk(write_mu);
        sse(sink, event, &gone);
        return !gone;
      });
      std::lock_guard lk(write_mu);
      if (gone) return;
      if (!st) {
        sse(sink, dump({{"error", {{"message", st.error().message}, {"type", "server_error"}, {"param", nullptr},
                                   {"code", nullptr}}}}),
            &gone);
        return;
      }
      count_generation(state.metrics, *st);
      completion_tokens += st->generated_tokens;
      json last = {{"index", i}, {"finish_reason", finish_reason(*st)}, {"logprobs", nullptr}};
      if (calls) {
        const ParsedToolCalls rest = calls->finish();
        if (!rest.content.empty())
          sse(sink, dump(chunk({{"index", i}, {"delta", {{"content", rest.content}}}, {"logprobs", nullptr},
                                {"finish_reason", nullptr}})), &gone);
        if (!rest.calls.empty()) {
          json deltas = openai_tool_calls(rest.calls, c.tools.format);
          for (size_t k = 0; k < deltas.size(); ++k) deltas[k]["index"] = k;
          sse(sink, dump(chunk({{"index", i}, {"delta", {{"tool_calls", deltas}}}, {"logprobs", nullptr},
                                {"finish_reason", nullptr}})), &gone);
          last["finish_reason"] = "tool_calls";
        }
      }
      if (chat) last["delta"] = json::object();
      else last["text"] = "";
      sse(sink, dump(chunk(last)), &gone);
    });
    if (gone) {
      state.metrics.cancelled++;
      return false;
    }
    if (c.include_usage) {
      json u = {{"id", id},       {"object", object},     {"created", created},
                {"model", model}, {"choices", json::array()}, {"usage", usage(prompt_tokens, completion_tokens)}};
      sse(sink, dump(u), &gone);
    }
    sse(sink, "[DONE]", &gone);
    sink.done();
    lease->job.reset();
    return true;
  });
}

// A chat request naming a router, answered by route_chat; streamed as one chunk when asked.
void routed_chat(State& state, const httplib::Request& req, httplib::Response& res, const RouterDef& r,
                 const json& body) {
  const bool stream = body.contains("stream") && body["stream"].is_boolean() && body["stream"].get<bool>();
  const bool include_usage = stream && body.contains("stream_options") && body["stream_options"].is_object() &&
                             body["stream_options"].contains("include_usage") &&
                             body["stream_options"]["include_usage"] == true;
  Routed routed = route_chat(state, req, r, body);
  set_routed_headers(res, routed);
  if (routed.status != 200 || !stream) return send_json(res, routed.status, routed.body);
  const json& a = routed.body;
  json chunk = {{"id", a["id"]}, {"object", "chat.completion.chunk"}, {"created", a["created"]}, {"model", r.name},
                {"minnow", a["minnow"]}};
  std::string out;
  // The answer is a chat completion of our own making (route_chat: the local handler's, or an
  // upstream's rebuilt): each choice has a message with content.
  const json& choices = a["choices"];
  for (size_t i = 0; i < choices.size(); ++i) {
    const json& msg = choices[i]["message"];
    json delta = {{"role", "assistant"}, {"content", msg["content"]}};
    if (msg.contains("tool_calls")) {
      delta["tool_calls"] = msg["tool_calls"];
      for (size_t k = 0; k < delta["tool_calls"].size(); ++k) delta["tool_calls"][k]["index"] = k;
    }
    chunk["choices"] = json::array({{{"index", i}, {"delta", delta}, {"logprobs", choices[i].value("logprobs", json())},
                                     {"finish_reason", nullptr}}});
    out += "data: " + dump(chunk) + "\n\n";
    chunk["choices"] = json::array(
        {{{"index", i}, {"delta", json::object()}, {"finish_reason", choices[i].value("finish_reason", json("stop"))}}});
    out += "data: " + dump(chunk) + "\n\n";
  }
  if (include_usage) {
    chunk["choices"] = json::array();
    chunk["usage"] = a.value("usage", json());
    out += "data: " + dump(chunk) + "\n\n";
  }
  out += "data: [DONE]\n\n";
  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  res.set_content(out, "text/event-stream");
}

void handle_chat(State& state, const httplib::Request& req, httplib::Response& res) {
  ApiError err;
  auto body = parse_body(req.body, &err);
  if (!body) return openai_error(res, err.status, err.message);
  if (body->contains("model") && (*body)["model"].is_string())
    if (const RouterDef* r = find_router(state, (*body)["model"].get<std::string>()))
      return routed_chat(state, req, res, *r, *body);
  Fields f(*body);
  Common c;
  c.model = f.required_str("model");
  c.stream = f.boolean("stream").value_or(false);
  const json* messages_json = f.array("messages");
  if (f.ok() && !messages_json) f.fail("'messages' is required");
  f.array("tools");
  const bool logprobs = f.boolean("logprobs").value_or(false);
  const int top = static_cast<int>(f.integer("top_logprobs", 0, kMaxTopLogprobs).value_or(0));
  if (!f.ok()) return openai_error(res, 400, f.error());
  auto grammar = request_grammar(req.body, true);
  if (!grammar) return openai_error(res, 400, grammar.error().message);
  auto tool_use = read_tools(req.body);
  if (!tool_use) return openai_error(res, 400, tool_use.error().message);
  c.tools = std::move(*tool_use);
  auto messages = parse_messages(*messages_json);
  if (!messages) return openai_error(res, 400, messages.error().message);
  if (messages->empty()) return openai_error(res, 400, "'messages' must not be empty");

  auto lease = begin_request(state, c.model, &err);
  if (!lease) return openai_error(res, err.status, err.message);
  if (!read_sampling(f, *body, *lease, 1, &c, &err)) return openai_error(res, err.status, err.message);
  c.params.generate.logprobs = logprobs || top > 0;
  c.params.generate.top_logprobs = top;
  c.params.generate.grammar = std::move(*grammar);
  if (Status st = apply_tools(*lease->model, &c.tools, &c.params); !st.ok())
    return openai_error(res, 400, st.error().message);
  auto tokens = chat_prompt(*lease->model, std::move(*messages), c.tools.active() ? c.tools.tools_json : "");
  if (!tokens) return openai_error(res, 400, tokens.error().message);
  auto job = prepare_job(lease->model, std::move(*tokens), c.params);
  if (!job) return openai_error(res, 400, job.error().message, "context_length_exceeded");
  lease->job = std::move(*job);
  respond(state, req, res, lease, c, true, Echo{});
}

// Token ids of a prompt (ids outside the vocabulary are found when the prompt is evaluated).
void read_token_ids(const json& a, std::vector<int32_t>* ids, Fields& f) {
  if (!a.is_array() || a.empty()) return f.fail("'prompt' token ids must be a non-empty array of integers");
  for (const json& v : a) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX)
      return f.fail("'prompt' token ids must be integers >= 0");
    ids->push_back(static_cast<int32_t>(v.get<int64_t>()));
  }
}

void handle_completions(State& state, const httplib::Request& req, httplib::Response& res);

constexpr size_t kMaxPrompts = 256;  // prompts in one request

// A completions request with several prompts: each prompt is answered as a request of its own
// (n_parallel at a time, so they decode together), and the choices are put together in prompt
// order (index = prompt x n + choice), usage summed. The first error answers for all.
void several_prompts(State& state, const httplib::Request& req, httplib::Response& res, const json& body) {
  const json& prompts = body["prompt"];
  if (prompts.size() > kMaxPrompts)
    return openai_error(res, 400, strfmt("'prompt' has %zu prompts, at most %zu", prompts.size(), kMaxPrompts));
  // Each one a string or token ids, checked here: a nested array would otherwise be a batch of
  // batches, each level multiplying the requests.
  for (const json& one : prompts) {
    const bool ids = one.is_array() && std::all_of(one.begin(), one.end(), [](const json& v) { return v.is_number(); });
    if (!one.is_string() && !ids)
      return openai_error(res, 400, "'prompt' must be a string, token ids, or an array of them");
  }
  std::vector<httplib::Response> out(prompts.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < prompts.size(); i = next++) {
      json one = body;
      one["prompt"] = prompts[i];
      handle_completions(state, internal_request(req, req.path, one.dump()), out[i]);
    }
  };
  const size_t n_threads = std::min(prompts.size(), static_cast<size_t>(std::max(1, state.options.n_parallel)));
  std::vector<std::thread> threads;
  for (size_t t = 1; t < n_threads; ++t) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();
  json all;
  json usage_sum = {{"prompt_tokens", 0}, {"completion_tokens", 0}, {"total_tokens", 0}};
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i].status != 200) {
      res.status = out[i].status;
      res.set_content(out[i].body, "application/json");
      return;
    }
    json one = json::parse(out[i].body);
    if (i == 0) all = one, all["choices"] = json::array();
    const int64_t n = static_cast<int64_t>(one["choices"].size());
    for (json& ch : one["choices"]) {
      ch["index"] = static_cast<int64_t>(i) * n + ch["index"].get<int64_t>();
      all["choices"].push_back(std::move(ch));
    }
    for (const char* k : {"prompt_tokens", "completion_tokens", "total_tokens"})
      usage_sum[k] = usage_sum[k].get<int64_t>() + one["usage"][k].get<int64_t>();
  }
  all["usage"] = usage_sum;
  send_json(res, 200, all);
}

void handle_completions(State& state, const httplib::Request& req, httplib::Response& res) {
  ApiError err;
  auto body = parse_body(req.body, &err);
  if (!body) return openai_error(res, err.status, err.message);
  if (body->contains("model") && (*body)["model"].is_string() && find_router(state, (*body)["model"]) != nullptr)
    return openai_error(res, 400, "'" + (*body)["model"].get<std::string>() +
                                      "' is a router: it answers chat requests (/v1/chat/completions) only");
  Fields f(*body);
  Common c;
  c.model = f.required_str("model");
  c.stream = f.boolean("stream").value_or(false);
  const bool echo = f.boolean("echo").value_or(false);
  const int logprobs = static_cast<int>(f.integer("logprobs", 0, 5).value_or(-1));
  // OpenAI's prompt: a string, token ids, or an array of several of either (a batch, answered
  // as one request per prompt; lm-evaluation-harness sends token ids by default).
  const json p = body->contains("prompt") ? (*body)["prompt"] : json();
  const bool several = p.is_array() && p.size() > 1 && (p[0].is_string() || p[0].is_array());
  if (f.ok() && several) {
    if (c.stream) return openai_error(res, 400, "'stream' with several prompts is not supported; send one per request");
    return several_prompts(state, req, res, *body);
  }
  std::string prompt;
  std::vector<int32_t> ids;
  const bool as_ids = f.ok() && p.is_array() && !p.empty() && (p[0].is_number() || p[0].is_array());
  if (f.ok()) {
    if (p.is_string()) prompt = p;
    else if (p.is_array() && p.size() == 1 && p[0].is_string()) prompt = p[0];
    else if (as_ids) read_token_ids(p[0].is_array() ? p[0] : p, &ids, f);
    else f.fail("'prompt' must be a string, token ids, or an array of them");
  }
  if (f.str("suffix").value_or("") != "") f.fail("'suffix' (fill in the middle) is not supported by this server yet");
  if (!f.ok()) return openai_error(res, 400, f.error());
  if (!as_ids && prompt.empty()) return openai_error(res, 400, "'prompt' must not be empty");
  auto grammar = request_grammar(req.body, true);
  if (!grammar) return openai_error(res, 400, grammar.error().message);

  auto lease = begin_request(state, c.model, &err);
  if (!lease) return openai_error(res, err.status, err.message);
  if (!read_sampling(f, *body, *lease, 0, &c, &err)) return openai_error(res, err.status, err.message);
  if (!f.has("max_tokens")) c.params.generate.num_predict = 16;  // the API's default max_tokens
  c.params.generate.logprobs = logprobs >= 0;
  c.params.generate.top_logprobs = std::max(0, logprobs);
  c.params.generate.grammar = std::move(*grammar);
  const int64_t n_vocab = lease->model->model->info().n_vocab;
  for (int32_t id : ids)
    if (id >= n_vocab)
      return openai_error(res, 400, strfmt("'prompt' has token id %d, outside the vocabulary of %lld", id,
                                           static_cast<long long>(n_vocab)));
  auto tokens = as_ids ? Result<std::vector<int32_t>>(std::move(ids)) : lease->model->model->tokenize(prompt, true, false);
  if (!tokens) return openai_error(res, 400, tokens.error().message);
  Echo echoed;
  if (echo) echoed.text = prompt;
  // Token ids echo as their text, which the scored tokens carry (logprobs dropped unless asked).
  if (echo && (logprobs >= 0 || as_ids)) {
    // The prompt's logprobs need every position's logits, which the generator does not keep: the
    // model's session computes them, before the job holds the generator (the session waits for
    // the model's generations to end, and they for it).
    Result<std::vector<GeneratedToken>> scored = Error{"not run"};
    const Status st = with_session(lease->model, c.params.n_ctx,
                                   [&](Session& s) { scored = s.prompt_logprobs(*tokens, std::max(0, logprobs)); });
    if (!st.ok()) return openai_error(res, 500, st.error().message);
    if (!scored) {
      const bool too_long = scored.error().message.find("longer than the context") != std::string::npos;
      return openai_error(res, 400, scored.error().message, too_long ? "context_length_exceeded" : nullptr);
    }
    if (as_ids)
      for (const GeneratedToken& t : *scored) echoed.text += t.text;
    if (logprobs >= 0) echoed.tokens = std::move(*scored);
  }
  auto job = prepare_job(lease->model, std::move(*tokens), c.params);
  if (!job) return openai_error(res, 400, job.error().message, "context_length_exceeded");
  lease->job = std::move(*job);
  respond(state, req, res, lease, c, false, echoed);
}

json model_object(const StoredModel& m) {
  return {{"id", m.name}, {"object", "model"}, {"created", unix_now()}, {"owned_by", "library"}};
}

// A router is listed as a model of its own (clients pick models from this list).
json router_object(const RouterDef& r) {
  return {{"id", r.name}, {"object", "model"}, {"created", unix_now()}, {"owned_by", "router"}};
}

}  // namespace

void openai_chat(State& state, const httplib::Request& req, httplib::Response& res) {
  handle_chat(state, req, res);
}

void add_openai_routes(httplib::Server& http, State& state) {
  http.Post("/v1/chat/completions",
            [&state](const httplib::Request& q, httplib::Response& r) { handle_chat(state, q, r); });
  http.Post("/v1/completions",
            [&state](const httplib::Request& q, httplib::Response& r) { handle_completions(state, q, r); });
  http.Get("/v1/models", [&state](const httplib::Request&, httplib::Response& r) {
    json data = json::array();
    for (const StoredModel& m : state.pool.store().list()) data.push_back(model_object(m));
    for (const RouterDef& rd : state.routers) data.push_back(router_object(rd));
    send_json(r, 200, {{"object", "list"}, {"data", data}});
  });
  http.Get(R"(/v1/models/(.+))", [&state](const httplib::Request& q, httplib::Response& r) {
    if (const RouterDef* rd = find_router(state, q.matches[1].str())) return send_json(r, 200, router_object(*rd));
    auto m = state.pool.store().find(q.matches[1].str());
    if (!m) return openai_error(r, 404, "model '" + q.matches[1].str() + "' not found");
    send_json(r, 200, model_object(*m));
  });
}

}  // namespace minnow::server

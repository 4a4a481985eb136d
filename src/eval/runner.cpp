// Running an eval: each model over each example (local models in-process through the public
// engine API, upstreams through chat_upstream), scoring the answers, and the summary statistics.
#include <chrono>
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>

#include "minnow/eval.h"
#include "minnow/structured.h"

namespace minnow {
namespace {

using json = nlohmann::json;

// The judge answers with an object rather than a bare enum: OpenAI's json_schema response
// format wants an object at the top.
constexpr const char* kJudgeSchema =
    R"({"type":"object","properties":{"score":{"type":"integer","enum":[1,2,3,4,5]}},"required":["score"]})";
constexpr const char* kDefaultRubric =
    "5: the answer is correct and complete; 3: partly correct; 1: wrong or missing.";

// A model ready to answer: a loaded local model with its session, or an upstream.
struct Responder {
  const EvalModel* def = nullptr;
  std::shared_ptr<Model> model;
  std::unique_ptr<Session> session;
};

Result<Responder> open_responder(const EvalModel& m, const EvalOptions& options) {
  Responder r;
  r.def = &m;
  if (!m.local) return r;
  LoadOptions lo;
  lo.n_threads = options.n_threads;
  lo.chat_template = m.chat_template;
  auto model = Model::load(m.path, lo);
  if (!model) return model.error().with_context(m.name);
  if ((*model)->info().embedding_only) return make_error("%s is an embedding model: it cannot answer", m.name.c_str());
  auto session = (*model)->new_session({});
  if (!session) return session.error().with_context(m.name);
  r.model = std::move(*model);
  r.session = std::move(*session);
  return r;
}

ExampleResult answer_local(Responder& r, const std::vector<ChatMessage>& messages, const std::string& schema,
                           const EvalOptions& options) {
  ExampleResult out;
  std::vector<ChatMessage> msgs;
  if (!r.def->system.empty() && messages.front().role != "system") msgs.emplace_back("system", r.def->system);
  msgs.insert(msgs.end(), messages.begin(), messages.end());
  GenerateOptions go;
  go.sampling.temperature = options.temperature;
  go.sampling.seed = static_cast<uint32_t>(options.seed);
  go.num_predict = options.num_predict;
  go.logprobs = true;
  if (!schema.empty()) {
    auto g = grammar_for_json_schema(schema);
    if (!g) {
      out.error = "schema: " + g.error().message;
      return out;
    }
    go.grammar = std::move(*g);
  }
  auto tokens = r.model->apply_chat_template(msgs, true);
  if (!tokens) {
    out.error = tokens.error().message;
    return out;
  }
  double logprob_sum = 0;
  int n_tokens = 0;
  const auto t0 = std::chrono::steady_clock::now();
  auto stats = r.session->generate(*tokens, go, [&](const GeneratedPiece& p) {
    out.answer.append(p.text);
    for (const GeneratedToken& t : p.tokens) {
      logprob_sum += t.logprob;
      ++n_tokens;
    }
    return true;
  });
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!stats) {
    out.error = stats.error().message;
    return out;
  }
  out.prompt_tokens = stats->prompt_tokens;
  out.completion_tokens = stats->generated_tokens;
  // No tokens, no confidence: the cascade escalates an empty answer.
  out.has_confidence = n_tokens > 0;
  out.confidence = n_tokens > 0 ? logprob_sum / n_tokens : 0;
  return out;
}

ExampleResult answer_upstream(const Upstream& up, const std::vector<ChatMessage>& messages, const std::string& schema,
                              const EvalOptions& options) {
  ExampleResult out;
  json req;
  req["messages"] = json::array();
  for (const ChatMessage& m : messages) req["messages"].push_back({{"role", m.role}, {"content", m.content}});
  req["temperature"] = options.temperature;
  if (!schema.empty()) {
    req["response_format"] = {{"type", "json_schema"},
                              {"json_schema", {{"name", "answer"}, {"schema", json::parse(schema)}}}};
  }
  auto reply = chat_upstream(up, req.dump());
  if (!reply) {
    out.error = reply.error().message;
    return out;
  }
  out.answer = std::move(reply->content);
  out.seconds = reply->seconds;
  out.prompt_tokens = reply->prompt_tokens;
  out.completion_tokens = reply->completion_tokens;
  out.cost = reply->cost;
  return out;
}

ExampleResult answer(Responder& r, const std::vector<ChatMessage>& messages, const std::string& schema,
                     const EvalOptions& options) {
  return r.def->local ? answer_local(r, messages, schema, options)
                      : answer_upstream(r.def->upstream, messages, schema, options);
}

const std::string& expected_text(const EvalExample& ex) {
  return ex.expected.empty() && !ex.label.empty() ? ex.label : ex.expected;
}

// The judge's score of an answer, normalized from 1..5 to 0..1.
Result<double> judge_score(Responder& judge, const EvalExample& ex, const std::string& answer,
                           const EvalOptions& options) {
  std::string question;
  for (const ChatMessage& m : ex.messages) question += m.role + ": " + m.content + "\n";
  const std::string prompt =
      "You grade answers. Rubric:\n" + (options.rubric.empty() ? std::string(kDefaultRubric) : options.rubric) +
      "\n\nConversation:\n" + question + "\nReference answer:\n" + expected_text(ex) + "\n\nAnswer to grade:\n" +
      answer + "\n\nReply with a JSON object {\"score\": N}, N from 1 (worst) to 5 (best).";
  EvalOptions greedy = options;
  greedy.temperature = 0;
  greedy.num_predict = 32;  // {"score": N} and some room: the grammar closes it as tokens run short
  ExampleResult r = ::minnow::answer(judge, {ChatMessage("user", prompt)}, kJudgeSchema, greedy);
  if (!r.error.empty()) return make_error("judge %s: %s", judge.def->name.c_str(), r.error.c_str());
  json j = json::parse(r.answer, nullptr, false);
  if (!j.is_object() || !j.contains("score") || !j["score"].is_number())
    return make_error("judge %s: not a score: %s", judge.def->name.c_str(), r.answer.c_str());
  const double s = j["score"].get<double>();
  if (s < 1 || s > 5) return make_error("judge %s: score %g is outside 1..5", judge.def->name.c_str(), s);
  return (s - 1) / 4;
}

Result<double> score(const EvalExample& ex, const std::string& answer, const EvalOptions& options, Responder* judge) {
  switch (options.metric) {
    case Metric::exact: return exact_match(answer, expected_text(ex));
    case Metric::label: return label_match(answer, ex.label.empty() ? ex.expected : ex.label);
    case Metric::f1: return token_f1(answer, expected_text(ex));
    case Metric::json: return json_field_match(answer, expected_text(ex));
    case Metric::regex: {
      const std::string& pattern = ex.regex.empty() ? options.regex : ex.regex;
      if (pattern.empty()) return make_error("no regex: the example has none and --regex was not given");
      return regex_match(answer, pattern);
    }
    case Metric::judge: return judge_score(*judge, ex, answer, options);
  }
  return 0.0;
}

}  // namespace

Result<EvalResult> run_eval(const Dataset& data, const std::vector<EvalModel>& models, const EvalOptions& options,
                            const EvalProgress& progress) {
  EvalResult result;
  result.examples = data.examples;
  result.skipped = data.skipped;
  Responder judge;
  if (options.metric == Metric::judge) {
    if (!options.has_judge) return make_error("the judge metric needs a judge model (--judge)");
    auto j = open_responder(options.judge, options);
    if (!j) return j.error().with_context("judge");
    judge = std::move(*j);
  }
  const int total = static_cast<int>(models.size() * data.examples.size());
  int done = 0;
  for (const EvalModel& m : models) {
    auto r = open_responder(m, options);
    if (!r) return r.error();
    ModelResult mr;
    mr.name = m.name;
    mr.local = m.local;
    for (const EvalExample& ex : data.examples) {
      ExampleResult er = answer(*r, ex.messages, ex.schema, options);
      if (er.error.empty()) {
        auto s = score(ex, er.answer, options, &judge);
        if (s) {
          er.score = *s;
        } else {
          er.error = s.error().message;
        }
      }
      mr.examples.push_back(std::move(er));
      if (progress) progress(++done, total, m.name);
    }
    result.models.push_back(std::move(mr));
  }
  summarize_eval(&result, options);
  return result;
}

void summarize_eval(EvalResult* result, const EvalOptions& options) {
  result->metric = options.metric;
  result->seed = options.seed;
  result->threshold_pct = options.threshold_pct;
  result->verdicts.clear();
  result->has_curve = false;
  std::vector<std::vector<double>> scores;
  for (size_t i = 0; i < result->models.size(); ++i) {
    ModelResult& m = result->models[i];
    std::vector<double> s, seconds;
    m.errors = 0;
    m.first_error.clear();
    m.prompt_tokens = m.completion_tokens = 0;
    m.cost = 0;
    for (const ExampleResult& e : m.examples) {
      s.push_back(e.score);
      seconds.push_back(e.seconds);
      if (!e.error.empty() && m.errors++ == 0) m.first_error = e.error;
      m.prompt_tokens += e.prompt_tokens;
      m.completion_tokens += e.completion_tokens;
      m.cost += e.cost;
    }
    // Each model resamples with its own stream, all fixed by the one seed.
    m.score = bootstrap_mean(s, options.resamples, options.seed + 1000003 * i);
    m.latency_p50 = quantile(seconds, 0.5);
    m.latency_p95 = quantile(seconds, 0.95);
    m.mean_tokens = m.examples.empty() ? 0 : static_cast<double>(m.prompt_tokens + m.completion_tokens) / m.examples.size();
    scores.push_back(std::move(s));
  }
  if (result->models.size() < 2) return;
  auto best_of = [&](int skip) {
    int best = -1;
    for (int i = 0; i < static_cast<int>(result->models.size()); ++i)
      if (i != skip && (best < 0 || result->models[i].score.mean > result->models[best].score.mean)) best = i;
    return best;
  };
  const int best = best_of(-1);
  const ModelResult& ref = result->models[best];
  for (int i = 0; i < static_cast<int>(result->models.size()); ++i) {
    const ModelResult& m = result->models[i];
    if (!m.local) continue;
    if (i == best) {
      Verdict v;
      v.small = v.reference = m.name;
      v.decision = "switch";
      v.n = static_cast<int>(m.examples.size());
      v.text = "switch: " + m.name + " scores best of all the models";
      result->verdicts.push_back(std::move(v));
      continue;
    }
    result->verdicts.push_back(paired_verdict(m.name, scores[i], ref.name, scores[best], options.threshold_pct,
                                              ref.score.mean, options.resamples, options.seed + 7919 * (i + 1)));
  }
  // The router: the first local model answers, the best of the others takes what it escalates.
  int small = -1;
  for (int i = 0; i < static_cast<int>(result->models.size()) && small < 0; ++i)
    if (result->models[i].local) small = i;
  if (small < 0) return;
  const int large = best_of(small);
  const ModelResult& sm = result->models[small];
  const ModelResult& lg = result->models[large];
  std::vector<double> conf, costs;
  for (const ExampleResult& e : sm.examples) conf.push_back(e.has_confidence ? e.confidence : -INFINITY);
  for (const ExampleResult& e : lg.examples) costs.push_back(e.cost);
  RouterCurve& c = result->curve;
  c = RouterCurve{};
  c.local = sm.name;
  c.large = lg.name;
  c.points = threshold_curve(scores[small], conf, scores[large], costs);
  c.target_score = options.target_score >= 0 ? options.target_score
                                             : lg.score.mean - options.threshold_pct / 100 * lg.score.mean;
  for (const CurvePoint& p : c.points) {
    if (p.score >= c.target_score - 1e-12) {
      c.reached = true;
      c.at_target = p;
      break;
    }
  }
  result->has_curve = !c.points.empty();
}

}  // namespace minnow

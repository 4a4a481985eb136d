// `minnow run MODEL [PROMPT]`: generate from a prompt, streaming only the text to stdout; with
// no prompt on a terminal, an interactive chat (chat.cpp); with no prompt otherwise, stdin.
// MODEL is a GGUF path or a store name (pulled first when it is a pullable name not in the
// store); a stored model's Modelfile defaults (system message, template, parameters) apply, and
// flags given on the command line override them.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <string>

#include "cli/chat.h"
#include "cli/commands.h"
#include "cli/model_ref.h"
#include "minnow/parameters.h"
#include "minnow/engine.h"
#include "minnow/structured.h"

namespace minnow::cli {
namespace {

// Flags that set an Ollama parameter, by flag and parameter name.
constexpr std::pair<const char*, const char*> kParameterFlags[] = {
    {"--temperature", "temperature"},
    {"--top-k", "top_k"},
    {"--top-p", "top_p"},
    {"--min-p", "min_p"},
    {"--seed", "seed"},
    {"--num-predict", "num_predict"},
    {"--ctx-size", "num_ctx"},
    {"--repeat-penalty", "repeat_penalty"},
    {"--repeat-last-n", "repeat_last_n"},
    {"--frequency-penalty", "frequency_penalty"},
    {"--presence-penalty", "presence_penalty"},
};

struct RunArgs {
  std::string model;
  std::string prompt;
  bool raw = false;
  bool verbose = false;
  int threads = 0;
  std::string isa;
  std::string flag_values[std::size(kParameterFlags)];
  std::vector<std::string> stops;
  std::vector<std::pair<std::string, std::string>> given;  // the parameter flags on the command line
  std::string format;        // --format: "json" or a JSON Schema file
  std::string grammar_file;  // --grammar: a GBNF file
};

// The grammar --format or --grammar asks for ("" for none).
Result<std::string> output_grammar(const RunArgs& a) {
  if (!a.format.empty() && !a.grammar_file.empty()) return make_error("--format and --grammar cannot both be given");
  auto read = [](const std::string& path) -> Result<std::string> {
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error("cannot read '%s'", path.c_str());
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  if (a.format == "json") return grammar_for_json(true);
  if (!a.format.empty()) {
    auto text = read(a.format);
    if (!text) return text.error().with_context("--format (\"json\" or a JSON Schema file)");
    auto g = grammar_for_json_schema(*text);
    if (!g) return g.error().with_context("--format " + a.format);
    return g;
  }
  if (a.grammar_file.empty()) return std::string();
  auto text = read(a.grammar_file);
  if (!text) return text.error().with_context("--grammar");
  if (Status st = check_grammar(*text); !st.ok()) return st.error().with_context("--grammar " + a.grammar_file);
  return text;
}

int run(const RunArgs& a) {
  const auto t0 = std::chrono::steady_clock::now();
  auto ref = resolve_model(a.model, /*pull_missing=*/true);
  if (!ref) return fail(ref.error().message);
  RunParameters params;
  params.generate.sampling.seed = std::random_device{}();
  if (Status st = set_parameters(ref->defaults.parameters, &params); !st.ok()) {
    return fail(a.model + ": stored " + st.error().message);
  }
  if (Status st = set_parameters(a.given, &params); !st.ok()) return fail(st.error().message);
  auto grammar = output_grammar(a);
  if (!grammar) return fail(grammar.error().message);
  params.generate.grammar = std::move(*grammar);

  LoadOptions lo;
  lo.n_threads = a.threads;
  lo.isa = a.isa;
  lo.chat_template = ref->defaults.chat_template;
  auto model = Model::load(ref->path, lo);
  if (!model) return fail(model.error().message);
  if ((*model)->info().embedding_only)
    return fail(a.model + " is an embedding model: it cannot generate text (minnow embed computes its embeddings)");
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  SessionOptions so;
  so.n_ctx = params.n_ctx;
  auto session = (*model)->new_session(so);
  if (!session) return fail(session.error().message);

  const GenerateOptions& go = params.generate;
  const std::string& system = ref->defaults.system;
  if (!a.raw && (*model)->info().chat_template.empty()) {
    std::fprintf(stderr, "minnow: %s has no chat template; using the ChatML default (--raw feeds the prompt as is)\n",
                 a.model.c_str());
  }
  std::string prompt = a.prompt;
  if (prompt.empty()) {
    if (isatty(0) && !a.raw) return run_interactive_chat(*model, std::move(*session), go, system, a.verbose);
    prompt.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  auto print = [](std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return true;
  };
  Result<GenerateStats> stats = GenerateStats{};
  if (a.raw) {
    // A raw completion shows the whole text: the prompt, then its continuation.
    std::fwrite(prompt.data(), 1, prompt.size(), stdout);
    stats = (*session)->generate(prompt, go, print);
  } else {
    // One user turn (after the stored system message), formatted as the model was trained.
    std::vector<ChatMessage> messages;
    if (!system.empty()) messages.emplace_back("system", system);
    messages.emplace_back("user", prompt);
    auto tokens = (*model)->apply_chat_template(messages, true);
    if (!tokens) return fail(tokens.error().message);
    stats = (*session)->generate(*tokens, go, print);
  }
  std::fputc('\n', stdout);
  if (!stats) return fail(stats.error().message);
  if (a.verbose) {
    const ModelInfo& info = (*model)->info();
    std::fprintf(stderr, "load time:        %.3f s (%s, %d threads)\n", load_s, info.isa.c_str(), info.n_threads);
    std::fprintf(stderr, "prompt eval:      %d tokens, %.3f s, %.2f tokens/s\n", stats->prompt_tokens,
                 stats->prompt_seconds, stats->prompt_tokens / std::max(stats->prompt_seconds, 1e-9));
    std::fprintf(stderr, "generation:       %d tokens, %.3f s, %.2f tokens/s\n", stats->generated_tokens,
                 stats->generate_seconds, stats->generated_tokens / std::max(stats->generate_seconds, 1e-9));
    std::fprintf(stderr, "done reason:      %s\n", stats->done_reason.c_str());
  }
  return 0;
}

}  // namespace

void add_run_command(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run", "Chat with a model, or generate text from a prompt");
  cmd->add_option("model", a->model, "A .gguf file, a model name in the store, or one to pull (hf.co/ORG/REPO:QUANT, smollm2:135m, ...)")->required();
  cmd->add_option("prompt", a->prompt, "The prompt (absent: an interactive chat on a terminal, else stdin)");
  cmd->add_flag("--raw", a->raw, "Complete the prompt as is (BOS per the model, no chat template); prints prompt + continuation");
  cmd->add_flag("--verbose,-v", a->verbose, "Print load time and tokens/s to stderr");
  cmd->add_option("--threads,-t", a->threads, "Threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--isa", a->isa, "Force the kernel set: scalar, avx2, avx512 or amx");
  const char* help[] = {"Sampling temperature (0: greedy)",
                        "Keep the k most likely tokens (0: off)",
                        "Nucleus sampling threshold (1: off)",
                        "Drop tokens below min-p x the top probability",
                        "Random seed (default: random)",
                        "Tokens to generate (-1: until the model stops)",
                        "Context size in tokens (default: the model's, at most 4096)",
                        "Penalty for repeated tokens (1: off)",
                        "Tokens the repeat penalty looks back at",
                        "Penalty per occurrence",
                        "Penalty once a token occurred"};
  std::vector<CLI::Option*> opts;
  for (size_t i = 0; i < std::size(kParameterFlags); ++i) {
    std::string flag = kParameterFlags[i].first;
    if (flag == "--num-predict") flag += ",-n";
    if (flag == "--ctx-size") flag += ",-c";
    opts.push_back(cmd->add_option(flag, a->flag_values[i], help[i]));
  }
  cmd->add_option("--stop", a->stops, "End the answer before this text (repeat for several)")->allow_extra_args(false);
  cmd->add_option("--format", a->format, "Answer in JSON: \"json\", or a JSON Schema file the answer must follow");
  cmd->add_option("--grammar", a->grammar_file, "A GBNF grammar file the answer must follow");
  cmd->callback([a, exit_code, opts] {
    for (size_t i = 0; i < opts.size(); ++i) {
      if (opts[i]->count() > 0) a->given.emplace_back(kParameterFlags[i].second, a->flag_values[i]);
    }
    for (const std::string& s : a->stops) a->given.emplace_back("stop", s);
    *exit_code = run(*a);
  });
}

}  // namespace minnow::cli

// `minnow run MODEL [PROMPT]`: generate from a prompt, streaming only the text to stdout; with
// no prompt on a terminal, an interactive chat (chat.cpp); with no prompt otherwise, stdin.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <random>
#include <string>

#include "cli/chat.h"
#include "cli/commands.h"
#include "minnow/engine.h"

namespace minnow::cli {
namespace {

struct RunArgs {
  std::string model;
  std::string prompt;
  bool raw = false;
  bool verbose = false;
  int num_predict = -1;
  int ctx_size = 0;
  int threads = 0;
  int64_t seed = -1;
  std::string isa;
  SamplingOptions sampling;
};

int run(const RunArgs& a) {
  const auto t0 = std::chrono::steady_clock::now();
  LoadOptions lo;
  lo.n_threads = a.threads;
  lo.isa = a.isa;
  auto model = Model::load(a.model, lo);
  if (!model) return fail(model.error().message);
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  SessionOptions so;
  so.n_ctx = a.ctx_size;
  auto session = (*model)->new_session(so);
  if (!session) return fail(session.error().message);

  GenerateOptions go;
  go.sampling = a.sampling;
  go.sampling.seed = a.seed >= 0 ? static_cast<uint64_t>(a.seed) : std::random_device{}();
  go.num_predict = a.num_predict;
  if (!a.raw && (*model)->info().chat_template.empty()) {
    std::fprintf(stderr, "minnow: %s has no chat template; using the ChatML default (--raw feeds the prompt as is)\n",
                 a.model.c_str());
  }
  std::string prompt = a.prompt;
  if (prompt.empty()) {
    if (isatty(0) && !a.raw) return run_interactive_chat(*model, std::move(*session), go, a.verbose);
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
    // One user turn, formatted as the model was trained to see it.
    auto tokens = (*model)->apply_chat_template({{"user", prompt}}, true);
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
  CLI::App* cmd = app.add_subcommand("run", "Generate text from a prompt");
  cmd->add_option("model", a->model, "Path to a .gguf model file")->required();
  cmd->add_option("prompt", a->prompt, "The prompt (absent: an interactive chat on a terminal, else stdin)");
  cmd->add_flag("--raw", a->raw, "Complete the prompt as is (BOS per the model, no chat template); prints prompt + continuation");
  cmd->add_flag("--verbose,-v", a->verbose, "Print load time and tokens/s to stderr");
  cmd->add_option("--num-predict,-n", a->num_predict, "Tokens to generate (-1: until the model stops)");
  cmd->add_option("--ctx-size,-c", a->ctx_size, "Context size in tokens (0: the model's, at most 4096)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--threads,-t", a->threads, "Threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", a->seed, "Random seed (default: random)");
  cmd->add_option("--temperature", a->sampling.temperature, "Sampling temperature (0: greedy)");
  cmd->add_option("--top-k", a->sampling.top_k, "Keep the k most likely tokens (0: off)");
  cmd->add_option("--top-p", a->sampling.top_p, "Nucleus sampling threshold (1: off)");
  cmd->add_option("--min-p", a->sampling.min_p, "Drop tokens below min-p x the top probability");
  cmd->add_option("--repeat-penalty", a->sampling.repeat_penalty, "Penalty for repeated tokens (1: off)");
  cmd->add_option("--repeat-last-n", a->sampling.repeat_last_n, "Tokens the repeat penalty looks back at");
  cmd->add_option("--frequency-penalty", a->sampling.frequency_penalty, "Penalty per occurrence");
  cmd->add_option("--presence-penalty", a->sampling.presence_penalty, "Penalty once a token occurred");
  cmd->add_option("--isa", a->isa, "Force the kernel set: scalar or avx2");
  cmd->callback([a, exit_code] { *exit_code = run(*a); });
}

}  // namespace minnow::cli

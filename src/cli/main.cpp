// The minnow command line: an Ollama-shaped CLI over the public engine API.
#include <cstdio>

#include "cli/commands.h"

namespace minnow::cli {

int fail(const std::string& message) {
  std::fprintf(stderr, "minnow: %s\n", message.c_str());
  return 1;
}

}  // namespace minnow::cli

int main(int argc, char** argv) {
  CLI::App app{"minnow: run small language models on your own hardware", "minnow"};
  app.require_subcommand(1);
  int exit_code = 0;
  minnow::cli::add_run_command(app, &exit_code);
  minnow::cli::add_logits_command(app, &exit_code);
  minnow::cli::add_show_command(app, &exit_code);
  minnow::cli::add_bench_command(app, &exit_code);
  minnow::cli::add_tokenize_command(app, &exit_code);
  minnow::cli::add_import_tokenizer_command(app, &exit_code);
  minnow::cli::add_template_command(app, &exit_code);
  minnow::cli::add_convert_command(app, &exit_code);
  minnow::cli::add_create_command(app, &exit_code);
  minnow::cli::add_list_command(app, &exit_code);
  minnow::cli::add_rm_command(app, &exit_code);
  minnow::cli::add_cp_command(app, &exit_code);
  minnow::cli::add_quantize_command(app, &exit_code);
  minnow::cli::add_perplexity_command(app, &exit_code);
  minnow::cli::add_serve_command(app, &exit_code);
  minnow::cli::add_pull_command(app, &exit_code);
  minnow::cli::add_ps_command(app, &exit_code);
  minnow::cli::add_stop_command(app, &exit_code);
  minnow::cli::add_embed_command(app, &exit_code);
  minnow::cli::add_eval_command(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}

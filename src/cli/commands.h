// Each CLI command registers itself on the app and sets the exit code when it runs.
#pragma once

#include <CLI/CLI.hpp>

namespace minnow::cli {

// Every command writes its result to stdout and one-line errors ("minnow: ...") to stderr,
// and stores its process exit code in *exit_code.
void add_run_command(CLI::App& app, int* exit_code);
void add_logits_command(CLI::App& app, int* exit_code);
void add_show_command(CLI::App& app, int* exit_code);
void add_bench_command(CLI::App& app, int* exit_code);
void add_tokenize_command(CLI::App& app, int* exit_code);
void add_import_tokenizer_command(CLI::App& app, int* exit_code);
void add_template_command(CLI::App& app, int* exit_code);
void add_convert_command(CLI::App& app, int* exit_code);
void add_create_command(CLI::App& app, int* exit_code);
void add_list_command(CLI::App& app, int* exit_code);
void add_rm_command(CLI::App& app, int* exit_code);
void add_cp_command(CLI::App& app, int* exit_code);
void add_quantize_command(CLI::App& app, int* exit_code);
void add_perplexity_command(CLI::App& app, int* exit_code);
void add_serve_command(CLI::App& app, int* exit_code);
void add_pull_command(CLI::App& app, int* exit_code);
void add_ps_command(CLI::App& app, int* exit_code);
void add_stop_command(CLI::App& app, int* exit_code);
void add_embed_command(CLI::App& app, int* exit_code);
void add_eval_command(CLI::App& app, int* exit_code);

// Prints "minnow: message" to stderr and returns 1, for `return fail(...)`.
int fail(const std::string& message);

}  // namespace minnow::cli

// `minnow template render --template F.jinja --context CTX.json`: prints a chat template's
// rendering exactly (no newline added); a template that raises or fails gives exit 1 and the
// error on stderr.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "minnow/chat_template.h"

namespace minnow::cli {
namespace {

struct TemplateArgs {
  std::string template_path;
  std::string context_path;
};

bool read_file(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

int render(const TemplateArgs& a) {
  std::string source, context;
  if (!read_file(a.template_path, &source)) return fail("cannot read '" + a.template_path + "'");
  if (!read_file(a.context_path, &context)) return fail("cannot read '" + a.context_path + "'");
  auto text = render_chat_template(source, context);
  if (!text) return fail(text.error().message);
  std::fwrite(text->data(), 1, text->size(), stdout);
  return 0;
}

}  // namespace

void add_template_command(CLI::App& app, int* exit_code) {
  CLI::App* cmd = app.add_subcommand("template", "Work with chat templates");
  cmd->require_subcommand(1);
  auto a = std::make_shared<TemplateArgs>();
  CLI::App* render_cmd = cmd->add_subcommand("render", "Render a chat template with a JSON context");
  render_cmd->add_option("--template", a->template_path, "The .jinja template")->required();
  render_cmd->add_option("--context", a->context_path, "A JSON object: messages, add_generation_prompt, ...")
      ->required();
  render_cmd->callback([a, exit_code] { *exit_code = render(*a); });
}

}  // namespace minnow::cli

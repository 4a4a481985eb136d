// `minnow tokenize MODEL [TEXT | --file F] [--no-special]`: the token ids of a text, space
// separated on one line. By default BOS/EOS are added as the vocabulary asks and special-token
// text is parsed; --no-special does neither (how the reference tokenizer tests are made).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "cli/commands.h"
#include "minnow/vocab.h"

namespace minnow::cli {
namespace {

struct TokenizeArgs {
  std::string model;
  std::string text;
  std::string file;
  bool no_special = false;
};

int tokenize(const TokenizeArgs& a) {
  std::string text = a.text;
  if (!a.file.empty()) {
    std::ifstream in(a.file, std::ios::binary);
    if (!in) return fail("cannot read '" + a.file + "'");
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  } else if (text.empty()) {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  auto vocab = Vocab::load(a.model);
  if (!vocab) return fail(vocab.error().message);
  const std::vector<int32_t> ids = (*vocab)->encode(text, !a.no_special, !a.no_special);
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ' ';
    out += std::to_string(ids[i]);
  }
  out += '\n';
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace

void add_tokenize_command(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<TokenizeArgs>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Print the token ids of a text");
  cmd->add_option("model", a->model, "A .gguf model or vocabulary file")->required();
  CLI::Option* text = cmd->add_option("text", a->text, "The text (read from --file or stdin when absent)");
  cmd->add_option("--file,-f", a->file, "Read the text from this file (byte for byte)")->excludes(text);
  cmd->add_flag("--no-special", a->no_special, "Add no BOS/EOS and parse no special-token text");
  cmd->callback([a, exit_code] { *exit_code = tokenize(*a); });
}

}  // namespace minnow::cli

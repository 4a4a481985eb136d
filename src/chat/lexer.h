// Template lexer: splits source into text and tag tokens, applying Jinja2's whitespace rules
// exactly as Hugging Face configures them (trim_blocks, lstrip_blocks, `-`/`+` markers, one
// trailing newline dropped). Expression tokens inside tags are produced here too.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace minnow::chat {

enum class Tok { Text, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, Int, Float, String, Op, End };

struct Token {
  Tok type;
  std::string text;  // text, name, operator, or the decoded string literal / number spelling
  int line, column;
};

// Throws TemplateError (with line/column) on malformed input.
std::vector<Token> lex(std::string_view source);

}  // namespace minnow::chat

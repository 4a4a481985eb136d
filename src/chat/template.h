// Public entry to the chat-template engine: a sandboxed Jinja2 subset configured the way Hugging
// Face renders chat templates (trim_blocks, lstrip_blocks, loop controls, tojson keeping non-ASCII,
// raise_exception, strftime_now). Parse once with Template::parse, render many times.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/error.h"

namespace minnow::chat {

struct Program;

class Template {
 public:
  // Errors read "chat template: line L, column C: message".
  static Result<Template> parse(std::string_view source);
  // `context` must be a JSON object; its keys become template variables. Key order is part of
  // the output (tojson, dict iteration), so pass ordered_json to keep the caller's order; plain
  // nlohmann::json has already sorted its keys.
  Result<std::string> render(const nlohmann::ordered_json& context) const;
  Result<std::string> render(const nlohmann::json& context) const;

 private:
  std::shared_ptr<const Program> program_;
};

Result<std::string> render_template(std::string_view source, const nlohmann::ordered_json& context);
Result<std::string> render_template(std::string_view source, const nlohmann::json& context);

}  // namespace minnow::chat

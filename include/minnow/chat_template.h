// Renders a Jinja chat template (as GGUF files carry in tokenizer.chat_template) the way Hugging
// Face transformers does: sandboxed, trim_blocks, lstrip_blocks, loop controls, tojson keeping
// non-ASCII, raise_exception(), strftime_now().
#pragma once

#include <string>
#include <string_view>

#include "minnow/error.h"

namespace minnow {

// context_json: a JSON object whose keys become template variables (messages,
// add_generation_prompt, bos_token, tools, ...), key order kept. Errors name the line and
// column of the template, or what is wrong with the JSON; a raise_exception() is an error too.
Result<std::string> render_chat_template(std::string_view source, std::string_view context_json);

}  // namespace minnow

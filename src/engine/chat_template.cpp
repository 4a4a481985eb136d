// Implements the public render_chat_template over the chat engine in src/chat.
#include "minnow/chat_template.h"

#include <nlohmann/json.hpp>

#include "chat/template.h"

namespace minnow {

Result<std::string> render_chat_template(std::string_view source, std::string_view context_json) {
  nlohmann::ordered_json context;
  try {
    context = nlohmann::ordered_json::parse(context_json);
  } catch (const nlohmann::json::exception& e) {
    return make_error("template context: invalid JSON: %s", e.what());
  }
  if (!context.is_object()) return make_error("template context: expected a JSON object");
  return chat::render_template(source, context);
}

}  // namespace minnow

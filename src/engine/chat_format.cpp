// Model::apply_chat_template: a conversation -> prompt tokens through the model's Jinja chat
// template, with message contents kept as plain text so a user cannot type special tokens.
#include <nlohmann/json.hpp>

#include "chat/template.h"
#include "engine/model_impl.h"

namespace minnow {

// ChatML, which many small instruct models use and which reads sensibly to the rest.
const char* const kDefaultChatTemplate =
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

namespace {

// Contents are rendered as markers first: a private-use character pair around the message
// index, which templates pass through untouched, so where each content lands is known exactly.
std::string marker(size_t i) { return "\xee\x80\x80" + std::to_string(i) + "\xee\x80\x81"; }

// The template context as transformers builds it from OpenAI-shaped messages: tool call
// arguments as objects, tools as given. With markers, each non-empty content is its marker.
Result<nlohmann::ordered_json> context_for(const std::vector<ChatMessage>& messages, const ChatFormatOptions& options,
                                           const Tokenizer& tok, bool markers) {
  using Json = nlohmann::ordered_json;
  Json ctx;
  ctx["messages"] = Json::array();
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    Json msg = {{"role", m.role}, {"content", markers && !m.content.empty() ? marker(i) : m.content}};
    if (!m.tool_calls.empty()) {
      Json calls = Json::array();
      for (const ToolCall& call : m.tool_calls) {
        Json args = Json::parse(call.arguments, nullptr, false);
        if (args.is_discarded()) args = call.arguments;  // not JSON: the template sees the text
        Json c = Json::object();
        if (!call.id.empty()) c["id"] = call.id;
        c["type"] = "function";
        c["function"] = {{"name", call.name}, {"arguments", std::move(args)}};
        calls.push_back(std::move(c));
      }
      msg["tool_calls"] = std::move(calls);
    }
    if (!m.tool_call_id.empty()) msg["tool_call_id"] = m.tool_call_id;
    if (!m.name.empty()) msg["name"] = m.name;
    ctx["messages"].push_back(std::move(msg));
  }
  if (!options.tools_json.empty()) {
    Json tools = Json::parse(options.tools_json, nullptr, false);
    if (!tools.is_array()) return make_error("chat: tools must be a JSON array of tool definitions");
    ctx["tools"] = std::move(tools);
  }
  ctx["add_generation_prompt"] = options.add_generation_prompt;
  ctx["bos_token"] = tok.bos_id() >= 0 ? std::string(tok.token_text(tok.bos_id())) : "";
  ctx["eos_token"] = tok.eos_id() >= 0 ? std::string(tok.token_text(tok.eos_id())) : "";
  return ctx;
}

}  // namespace

Result<std::vector<int32_t>> Model::apply_chat_template(const std::vector<ChatMessage>& messages,
                                                        bool add_generation_prompt) const {
  ChatFormatOptions options;
  options.add_generation_prompt = add_generation_prompt;
  return apply_chat_template(messages, options);
}

Result<std::string> Model::render_chat(const std::vector<ChatMessage>& messages,
                                       const ChatFormatOptions& options) const {
  if (!impl_->tokenizer) return Error{impl_->info.tokenizer_error};
  const Result<chat::Template>& tmpl = impl_->chat_template;
  if (!tmpl) return tmpl.error();
  auto ctx = context_for(messages, options, *impl_->tokenizer, false);
  if (!ctx) return ctx.error();
  return tmpl->render(*ctx);
}

Result<std::vector<int32_t>> Model::apply_chat_template(const std::vector<ChatMessage>& messages,
                                                        const ChatFormatOptions& options) const {
  if (!impl_->tokenizer) return Error{impl_->info.tokenizer_error};
  const Tokenizer& tok = *impl_->tokenizer;
  const Result<chat::Template>& tmpl = impl_->chat_template;
  if (!tmpl) return tmpl.error();
  auto marked = context_for(messages, options, tok, true);
  if (!marked) return marked.error();
  auto rendered = tmpl->render(*marked);
  if (!rendered) return rendered.error();

  // Put the real contents where the markers are, noting where each landed: those byte ranges
  // are protected from special-token matching in the single tokenization below.
  std::string text;
  std::vector<std::pair<size_t, size_t>> spans;
  size_t pos = 0;
  size_t n_marked = 0;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (messages[i].content.empty()) continue;
    ++n_marked;
    const std::string m = marker(i);
    const size_t at = rendered->find(m, pos);
    if (at == std::string::npos || rendered->find(m, at + m.size()) != std::string::npos) {
      spans.clear();
      break;
    }
    text.append(*rendered, pos, at - pos);
    spans.emplace_back(text.size(), text.size() + messages[i].content.size());
    text += messages[i].content;
    pos = at + m.size();
  }
  if (spans.size() == n_marked) text.append(*rendered, pos, std::string::npos);
  // The markers stand for the contents only if the template copied them verbatim; one that
  // transformed a content (tojson, trim, ...) renders differently with the real text.
  auto plain = render_chat(messages, options);
  if (!plain) return plain.error();
  if (spans.size() != n_marked || text != *plain) {
    // The template dropped, repeated, reordered or transformed a content: protect every place
    // each content appears, as is, trimmed or JSON-escaped.
    text = std::move(*plain);
    spans.clear();
    for (const ChatMessage& msg : messages) {
      const size_t b = msg.content.find_first_not_of(" \t\r\n");
      const size_t e = msg.content.find_last_not_of(" \t\r\n");
      const std::string json = nlohmann::json(msg.content).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      for (const std::string& needle : {msg.content, b == std::string::npos ? std::string() : msg.content.substr(b, e - b + 1),
                                        json.substr(1, json.size() - 2)}) {
        if (needle.empty()) continue;
        for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
          spans.emplace_back(at, at + needle.size());
        }
      }
    }
  }
  std::vector<int32_t> ids = tok.encode(text, false, true, spans);
  if (tok.add_bos() && tok.bos_id() >= 0 && (ids.empty() || ids.front() != tok.bos_id())) {
    ids.insert(ids.begin(), tok.bos_id());
  }
  return ids;
}

}  // namespace minnow

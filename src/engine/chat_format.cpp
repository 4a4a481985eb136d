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

nlohmann::ordered_json context_for(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                   const Tokenizer& tok, bool markers) {
  nlohmann::ordered_json ctx;
  ctx["messages"] = nlohmann::ordered_json::array();
  for (size_t i = 0; i < messages.size(); ++i) {
    ctx["messages"].push_back({{"role", messages[i].role}, {"content", markers ? marker(i) : messages[i].content}});
  }
  ctx["add_generation_prompt"] = add_generation_prompt;
  ctx["bos_token"] = tok.bos_id() >= 0 ? std::string(tok.token_text(tok.bos_id())) : "";
  ctx["eos_token"] = tok.eos_id() >= 0 ? std::string(tok.token_text(tok.eos_id())) : "";
  return ctx;
}

}  // namespace

Result<std::vector<int32_t>> Model::apply_chat_template(const std::vector<ChatMessage>& messages,
                                                        bool add_generation_prompt) const {
  if (!impl_->tokenizer) return Error{impl_->info.tokenizer_error};
  const Tokenizer& tok = *impl_->tokenizer;
  const Result<chat::Template>& tmpl = impl_->chat_template;
  if (!tmpl) return tmpl.error();
  auto rendered = tmpl->render(context_for(messages, add_generation_prompt, tok, true));
  if (!rendered) return rendered.error();

  // Put the real contents where the markers are, noting where each landed: those byte ranges
  // are protected from special-token matching in the single tokenization below.
  std::string text;
  std::vector<std::pair<size_t, size_t>> spans;
  size_t pos = 0;
  for (size_t i = 0; i < messages.size(); ++i) {
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
  if (spans.size() == messages.size()) {
    text.append(*rendered, pos, std::string::npos);
  } else {
    // The template dropped, repeated or reordered a content (or changed it): render the real
    // contents and protect every place each content, or its trimmed form, appears.
    auto plain = tmpl->render(context_for(messages, add_generation_prompt, tok, false));
    if (!plain) return plain.error();
    text = std::move(*plain);
    spans.clear();
    for (const ChatMessage& msg : messages) {
      const size_t b = msg.content.find_first_not_of(" \t\r\n");
      const size_t e = msg.content.find_last_not_of(" \t\r\n");
      for (const std::string& needle : {msg.content, b == std::string::npos ? std::string() : msg.content.substr(b, e - b + 1)}) {
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

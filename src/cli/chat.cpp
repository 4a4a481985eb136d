// The interactive chat of `minnow run MODEL` on a terminal: a conversation formatted by the
// model's chat template, answers streamed as they are sampled, Ollama's slash commands.
// Each turn reuses the context the previous turns left (Session::generate keeps the common
// prefix), so a reply costs only the new message's tokens.
#include "cli/chat.h"

#include <sys/stat.h>

#include <algorithm>
#include <clocale>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "cli/line_editor.h"
#include "minnow/parameters.h"

namespace minnow::cli {
namespace {

constexpr const char* kHelp =
    "Available commands:\n"
    "  /set parameter NAME VALUE   Set a sampling parameter (/set parameter alone lists them)\n"
    "  /set system TEXT            Set the system message (clears the conversation)\n"
    "  /set verbose | quiet        Show or hide timings after each answer\n"
    "  /set history | nohistory    Remember input lines or not\n"
    "  /show info | parameters | system | template\n"
    "  /clear                      Clear the conversation and its context\n"
    "  /bye                        Exit (so does Ctrl-D on an empty line)\n"
    "  /?, /help                   This help\n"
    "\n"
    "Use \"\"\" to begin and end a multi-line message. Ctrl-C stops an answer.\n";

std::string history_path() {
  const char* home = std::getenv("HOME");
  if (!home || !*home) return "";
  const std::string dir = std::string(home) + "/.minnow";
  ::mkdir(dir.c_str(), 0755);  // may exist; a failure only means no saved history
  return dir + "/history";
}

class Chat {
 public:
  Chat(std::shared_ptr<Model> model, std::unique_ptr<Session> session, const GenerateOptions& options,
       const std::string& system, bool verbose)
      : model_(std::move(model)), session_(std::move(session)), options_(options), n_ctx_(session_->n_ctx()),
        editor_(history_path()), verbose_(verbose), system_(system) {}

  int loop() {
    install_interrupt_handler();
    for (;;) {
      std::string text;
      switch (read_message(&text)) {
        case LineEditor::Read::kEnd:
          std::printf("\n");
          return 0;
        case LineEditor::Read::kInterrupted:
          std::printf("\nUse Ctrl + d or /bye to exit.\n");
          continue;
        case LineEditor::Read::kLine:
          break;
      }
      if (text.empty()) continue;
      if (text[0] == '/') {
        if (!command(text)) return 0;
        continue;
      }
      answer(text);
    }
  }

 private:
  // One message: a line, or the lines between """ and """.
  LineEditor::Read read_message(std::string* text) {
    std::string line;
    auto r = editor_.read(">>> ", &line);
    if (r != LineEditor::Read::kLine) return r;
    if (!line.starts_with("\"\"\"")) {
      editor_.remember(line);
      *text = line;
      return r;
    }
    std::string all = line;
    std::string body = line.substr(3);
    while (!(body.size() >= 3 && body.ends_with("\"\"\"")) ) {
      body += "\n";
      r = editor_.read("... ", &line);
      if (r != LineEditor::Read::kLine) return r;
      all += "\n" + line;
      body += line;
    }
    body.resize(body.size() - 3);
    editor_.remember(all);
    *text = body;
    return LineEditor::Read::kLine;
  }

  // Runs a slash command; false ends the chat.
  bool command(const std::string& line) {
    std::istringstream in(line);
    std::string cmd, what;
    in >> cmd >> what;
    if (cmd == "/bye" || cmd == "/exit") return false;
    if (cmd == "/?" || cmd == "/help") {
      std::printf("%s", kHelp);
    } else if (cmd == "/clear") {
      messages_.clear();
      session_->reset();
      std::printf("Cleared session context\n");
    } else if (cmd == "/set" && what == "parameter") {
      std::string name, value;
      in >> name >> value;
      if (name.empty() || value.empty()) {
        std::printf("Parameters:\n%s", kParameterHelp);
      } else {
        set_parameter(name, value);
      }
    } else if (cmd == "/set" && what == "system") {
      std::string rest;
      std::getline(in >> std::ws, rest);
      system_ = rest;
      messages_.clear();
      std::printf("Set system message.\n");
    } else if (cmd == "/set" && (what == "verbose" || what == "quiet")) {
      verbose_ = what == "verbose";
      std::printf("Set '%s' mode.\n", what.c_str());
    } else if (cmd == "/set" && (what == "history" || what == "nohistory")) {
      editor_.set_history_enabled(what == "history");
      std::printf("Set '%s' mode.\n", what.c_str());
    } else if (cmd == "/show") {
      show(what);
    } else {
      std::printf("Unknown command '%s'. Type /? for help\n", line.c_str());
    }
    return true;
  }

  void set_parameter(const std::string& name, const std::string& value) {
    RunParameters p{options_, n_ctx_};
    if (Status st = minnow::set_parameter(name, value, &p); !st.ok()) {
      std::printf("%s\n", st.error().message.c_str());
      return;
    }
    if (p.n_ctx != n_ctx_) {
      auto session = model_->new_session(SessionOptions{.n_ctx = p.n_ctx, .kv_f32 = false, .n_batch = 512});
      if (!session) {
        std::printf("Cannot use num_ctx %s: %s\n", value.c_str(), session.error().message.c_str());
        return;
      }
      session_ = std::move(*session);
      n_ctx_ = p.n_ctx;
      messages_.clear();  // a new context: the conversation starts over
    }
    options_ = p.generate;
    std::printf("Set parameter '%s' to '%s'\n", name.c_str(), value.c_str());
  }

  void show(const std::string& what) {
    const ModelInfo& info = model_->info();
    if (what == "info") {
      std::printf("  architecture    %s\n  parameters      %.1fM\n  quantization    %s\n  context length  %lld\n"
                  "  context in use  %d\n",
                  info.architecture.c_str(), static_cast<double>(info.n_params) / 1e6, info.quantization.c_str(),
                  static_cast<long long>(info.context_length), n_ctx_);
    } else if (what == "parameters") {
      const SamplingOptions& s = options_.sampling;
      std::printf("temperature %g\ntop_k %d\ntop_p %g\nmin_p %g\nseed %llu\nnum_predict %d\nnum_ctx %d\n"
                  "repeat_penalty %g\nrepeat_last_n %d\nfrequency_penalty %g\npresence_penalty %g\n",
                  s.temperature, s.top_k, s.top_p, s.min_p, static_cast<unsigned long long>(s.seed),
                  options_.num_predict, n_ctx_, s.repeat_penalty, s.repeat_last_n, s.frequency_penalty,
                  s.presence_penalty);
    } else if (what == "system") {
      std::printf("%s\n", system_.empty() ? "No system message was specified." : system_.c_str());
    } else if (what == "template") {
      std::printf("%s\n", info.chat_template.empty() ? kDefaultChatTemplate : info.chat_template.c_str());
    } else {
      std::printf("Usage: /show info | parameters | system | template\n");
    }
  }

  std::vector<ChatMessage> conversation() const {
    std::vector<ChatMessage> all;
    if (!system_.empty()) all.emplace_back("system", system_);
    all.insert(all.end(), messages_.begin(), messages_.end());
    return all;
  }

  void answer(const std::string& text) {
    messages_.emplace_back("user", text);
    // Too long for the context: forget the oldest exchanges, as a chat window scrolls.
    Result<std::vector<int32_t>> prompt = model_->apply_chat_template(conversation(), true);
    while (prompt.ok() && static_cast<int>(prompt->size()) >= n_ctx_ && messages_.size() > 1) {
      messages_.erase(messages_.begin(), messages_.begin() + std::min<size_t>(2, messages_.size() - 1));
      prompt = model_->apply_chat_template(conversation(), true);
    }
    if (!prompt.ok() || static_cast<int>(prompt->size()) >= n_ctx_) {
      std::fprintf(stderr, "Error: %s\n",
                   prompt.ok() ? "the message does not fit the context (/set parameter num_ctx to raise it)"
                               : prompt.error().message.c_str());
      messages_.pop_back();
      return;
    }
    std::string reply;
    clear_interrupted();
    auto stats = session_->generate(*prompt, options_, [&](std::string_view piece) {
      if (interrupted()) return false;
      reply.append(piece);
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
      return true;
    });
    const bool stopped = interrupted();
    clear_interrupted();
    std::printf("\n\n");
    if (!stats) {
      std::fprintf(stderr, "Error: %s\n", stats.error().message.c_str());
      messages_.pop_back();
      return;
    }
    // A stopped answer stays in the conversation as far as it got: it is what the user saw.
    messages_.emplace_back("assistant", reply);
    if (verbose_) {
      std::printf("prompt eval count:    %d token(s) (%d reused)\n", stats->prompt_tokens, stats->prompt_cached_tokens);
      std::printf("prompt eval rate:     %.2f tokens/s\n",
                  (stats->prompt_tokens - stats->prompt_cached_tokens) / std::max(stats->prompt_seconds, 1e-9));
      std::printf("eval count:           %d token(s)%s\n", stats->generated_tokens, stopped ? " (stopped)" : "");
      std::printf("eval rate:            %.2f tokens/s\n\n",
                  stats->generated_tokens / std::max(stats->generate_seconds, 1e-9));
    }
  }

  std::shared_ptr<Model> model_;
  std::unique_ptr<Session> session_;
  GenerateOptions options_;
  int n_ctx_;
  LineEditor editor_;
  bool verbose_;
  std::string system_;
  std::vector<ChatMessage> messages_;  // the user and assistant turns so far
};

}  // namespace

int run_interactive_chat(std::shared_ptr<Model> model, std::unique_ptr<Session> session, const GenerateOptions& options,
                         const std::string& system, bool verbose) {
  // libedit edits in wide characters: it needs a UTF-8 locale to read and echo non-ASCII text.
  if (!std::setlocale(LC_CTYPE, "") || MB_CUR_MAX == 1) std::setlocale(LC_CTYPE, "C.UTF-8");
  Chat chat(std::move(model), std::move(session), options, system, verbose);
  return chat.loop();
}

}  // namespace minnow::cli

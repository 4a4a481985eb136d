// Interactive chat through a real pseudo-terminal: `minnow run MODEL` runs inside a detached
// tmux session, keys are sent with send-keys and the screen is read with capture-pane. Two
// turns (the second reusing the first's context), a multi-line message, /set parameter,
// Ctrl-C during a long answer (the answer stops, the program stays), /clear, /bye.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>

#include "e2e/cli_runner.h"
#include "tiny_model.h"

namespace minnow {
namespace {

namespace fs = std::filesystem;

std::string shell(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  pclose(p);
  return out;
}

bool have_tmux() { return std::system("tmux -V > /dev/null 2>&1") == 0; }

class Tmux {
 public:
  explicit Tmux(const std::string& command) : socket_("minnow_chat_test_" + std::to_string(getpid())) {
    shell("tmux -L " + socket_ + " new-session -d -x 160 -y 50 " + quote(command));
  }
  ~Tmux() { shell("tmux -L " + socket_ + " kill-server 2>/dev/null"); }

  // Keys as tmux names them ("Enter", "C-c") or literal text (-l).
  void keys(const std::string& k) { shell("tmux -L " + socket_ + " send-keys " + k); }
  void type(const std::string& text) {
    shell("tmux -L " + socket_ + " send-keys -l " + quote(text));
    keys("Enter");
  }
  // The whole scrollback, wrapped lines joined.
  std::string screen() { return shell("tmux -L " + socket_ + " capture-pane -p -J -S -5000"); }

  // Waits until pred(screen) holds; returns the screen it held on, or "" after timeout.
  template <typename Pred>
  std::string wait_for(Pred pred, double timeout_s = 60) {
    const auto t0 = std::chrono::steady_clock::now();
    for (;;) {
      std::string s = screen();
      if (pred(s)) return s;
      if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > timeout_s) return "";
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  std::string wait_for_text(const std::string& text, size_t occurrences = 1, double timeout_s = 60) {
    return wait_for([&](const std::string& s) { return count(s, text) >= occurrences; }, timeout_s);
  }

  static size_t count(const std::string& s, const std::string& needle) {
    size_t n = 0;
    for (size_t at = s.find(needle); at != std::string::npos; at = s.find(needle, at + 1)) ++n;
    return n;
  }

 private:
  static std::string quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
  }
  std::string socket_;
};

// A model slow enough (~50 MB of F32 weights per token) that an unbounded answer runs for
// many seconds, whose greedy answers never end by themselves (end-of-generation and control
// tokens have logit 0, below the best of ~300 random logits) and never print terminal
// control bytes.
std::string write_model(const fs::path& dir) {
  test::TinyLlamaSpec s;
  s.n_embd = 512;
  s.n_layer = 4;
  s.n_head = 8;
  s.n_head_kv = 4;
  s.n_ff = 1536;
  s.n_ctx = 4096;
  s.control_tokens = {"<|im_start|>", "<|im_end|>"};
  s.chat_template =
      "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
      "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
  const int n_vocab = static_cast<int>(test::tiny_vocab().size() + s.control_tokens.size());
  s.zero_output_rows = {0, 1, 2, n_vocab - 2, n_vocab - 1};
  for (int b = 0; b < 0x20; ++b) s.zero_output_rows.push_back(3 + b);  // byte tokens <0x00>..<0x1F>
  s.zero_output_rows.push_back(3 + 0x7F);
  const auto bytes = test::make_tiny_llama(s);
  const fs::path path = dir / "chat.gguf";
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return path.string();
}

TEST(InteractiveChat, TwoTurnsMultilineCtrlCClearBye) {
  if (!have_tmux()) GTEST_SKIP() << "needs tmux (scripts/setup installs it)";
  const fs::path dir = fs::temp_directory_path() / ("minnow_chat_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string model = write_model(dir);
  const std::string exit_file = (dir / "exit").string();
  Tmux t("HOME=" + dir.string() + " " + MINNOW_BINARY + " run " + model +
         " --temperature 0 --threads 2 --verbose; echo $? > " + exit_file + "; sleep 600");

  ASSERT_NE(t.wait_for_text(">>> "), "") << t.screen();
  t.type("/set parameter num_predict 12");
  ASSERT_NE(t.wait_for_text("Set parameter 'num_predict' to '12'"), "") << t.screen();

  // Turn 1, then turn 2: the second evaluates only its new tokens.
  t.type("the cat");
  std::string s = t.wait_for_text("\neval rate:", 1);
  ASSERT_NE(s, "") << t.screen();
  EXPECT_NE(s.find("token(s) (0 reused)"), std::string::npos) << s;
  EXPECT_NE(s.find("eval count:           12 token(s)"), std::string::npos) << s;
  t.type("\"\"\"in the hat");
  ASSERT_NE(t.wait_for_text("... "), "") << t.screen();
  t.type("on a mat\"\"\"");
  s = t.wait_for_text("\neval rate:", 2);
  ASSERT_NE(s, "") << t.screen();
  std::smatch m;
  const std::string second = s.substr(s.rfind("prompt eval count:"));
  ASSERT_TRUE(std::regex_search(second, m, std::regex(R"(\((\d+) reused\))"))) << s;
  EXPECT_GT(std::stoi(m[1]), 10) << second;  // turn 1's prompt and answer stayed in the cache

  // Ctrl-C in the middle of an unbounded answer stops the answer, not the program.
  t.type("/set parameter num_predict -1");
  ASSERT_NE(t.wait_for_text("Set parameter 'num_predict' to '-1'"), "") << t.screen();
  const size_t before = t.screen().size();
  t.type("tell me everything");
  // Wait for answer text to stream (the screen grows past the echoed line), then interrupt.
  ASSERT_NE(t.wait_for([&](const std::string& sc) { return sc.size() > before + 200; }), "") << t.screen();
  t.keys("C-c");
  s = t.wait_for_text("(stopped)", 1, 30);
  ASSERT_NE(s, "") << "Ctrl-C did not stop the answer:\n" << t.screen();
  EXPECT_EQ(s.find("Use Ctrl + d or /bye to exit."), std::string::npos) << "Ctrl-C reached the prompt instead";
  ASSERT_NE(t.wait_for([](const std::string& sc) { return sc.rfind(">>> ") > sc.rfind("(stopped)"); }), "")
      << t.screen();

  // Still alive: /clear empties the conversation, so the next turn reuses nothing.
  t.type("/set parameter num_predict 4");
  ASSERT_NE(t.wait_for_text("Set parameter 'num_predict' to '4'"), "") << t.screen();
  t.type("/clear");
  ASSERT_NE(t.wait_for_text("Cleared session context"), "") << t.screen();
  t.type("hello again");
  s = t.wait_for_text("\neval rate:", 4);
  ASSERT_NE(s, "") << t.screen();
  EXPECT_NE(s.substr(s.rfind("prompt eval count:")).find("(0 reused)"), std::string::npos) << s;

  // Ctrl-C at the prompt explains how to leave; /bye leaves with exit code 0.
  t.keys("C-c");
  ASSERT_NE(t.wait_for_text("Use Ctrl + d or /bye to exit."), "") << t.screen();
  t.type("/bye");
  const auto t0 = std::chrono::steady_clock::now();
  while (!fs::exists(exit_file) && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(30)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(test::read_file(exit_file), "0\n") << t.screen();
  // The lines typed are in the history file, the multi-line message as one entry.
  const std::string history = test::read_file((dir / ".minnow" / "history").string());
  EXPECT_NE(history.find("the\\040cat"), std::string::npos) << history;
  EXPECT_NE(history.find("\"\"\"in\\040the\\040hat\\012on\\040a\\040mat\"\"\""), std::string::npos) << history;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace minnow

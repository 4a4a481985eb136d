// LineEditor over libedit's native API (histedit.h). libedit's own reader retries reads that
// a signal interrupts, so Ctrl-C could not end a line; our reader returns the interruption
// instead, and el_wgets gives the line up.
#include "cli/line_editor.h"

#include <histedit.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cwchar>

namespace minnow::cli {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;

void on_sigint(int) { g_interrupted = 1; }

// One character from stdin, decoded from UTF-8 (libedit works in wide characters). Returns 1
// with *out set, 0 at end of input, -1 when interrupted by a signal or on a read error.
int read_char(EditLine*, wchar_t* out) {
  auto read_byte = [](unsigned char* b) -> int {
    for (;;) {
      const ssize_t n = ::read(STDIN_FILENO, b, 1);
      if (n == 1) return 1;
      if (n == 0) return 0;
      if (errno == EINTR && !g_interrupted) continue;  // another signal (SIGWINCH): keep reading
      return -1;
    }
  };
  unsigned char b = 0;
  const int r = read_byte(&b);
  if (r <= 0) return r;
  int extra = 0;
  uint32_t cp = b;
  if (b >= 0xF0 && b < 0xF8) {
    extra = 3;
    cp = b & 0x07;
  } else if (b >= 0xE0) {
    extra = b < 0xF0 ? 2 : 0;
    cp = b & 0x0F;
  } else if (b >= 0xC0) {
    extra = 1;
    cp = b & 0x1F;
  }
  if (b >= 0x80 && extra == 0) {
    *out = 0xFFFD;  // a stray continuation byte or an invalid lead byte
    return 1;
  }
  for (int i = 0; i < extra; ++i) {
    unsigned char c = 0;
    const int rc = read_byte(&c);
    if (rc <= 0) return rc;
    if ((c & 0xC0) != 0x80) {
      *out = 0xFFFD;
      return 1;
    }
    cp = (cp << 6) | (c & 0x3F);
  }
  *out = static_cast<wchar_t>(cp);
  return 1;
}

std::string g_prompt;  // the prompt libedit's callback shows (one editor at a time)

char* prompt_fn(EditLine*) { return g_prompt.data(); }

}  // namespace

bool interrupted() { return g_interrupted != 0; }
void clear_interrupted() { g_interrupted = 0; }

void install_interrupt_handler() {
  struct sigaction sa = {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocked read returns EINTR
  sigaction(SIGINT, &sa, nullptr);
}

struct LineEditor::Impl {
  EditLine* el = nullptr;
  History* hist = nullptr;
  std::string history_path;
};

LineEditor::LineEditor(const std::string& history_path) : impl_(std::make_unique<Impl>()) {
  impl_->history_path = history_path;
  impl_->el = el_init("minnow", stdin, stdout, stderr);
  impl_->hist = history_init();
  HistEvent ev;
  history(impl_->hist, &ev, H_SETSIZE, 1000);
  history(impl_->hist, &ev, H_SETUNIQUE, 1);
  if (!history_path.empty()) history(impl_->hist, &ev, H_LOAD, history_path.c_str());
  el_set(impl_->el, EL_EDITOR, "emacs");
  el_set(impl_->el, EL_HIST, history, impl_->hist);
  el_set(impl_->el, EL_PROMPT, prompt_fn);
  el_set(impl_->el, EL_GETCFN, read_char);
}

LineEditor::~LineEditor() {
  el_end(impl_->el);
  history_end(impl_->hist);
}

LineEditor::Read LineEditor::read(const std::string& prompt, std::string* line) {
  g_prompt = prompt;
  clear_interrupted();
  int count = 0;
  const char* text = el_gets(impl_->el, &count);
  if (interrupted()) {
    clear_interrupted();
    el_reset(impl_->el);  // drop the partial line and its editing state
    return Read::kInterrupted;
  }
  if (text == nullptr || count <= 0) return Read::kEnd;
  line->assign(text, static_cast<size_t>(count));
  if (!line->empty() && line->back() == '\n') line->pop_back();
  return Read::kLine;
}

void LineEditor::remember(const std::string& line) {
  if (!history_on_ || line.empty()) return;
  HistEvent ev;
  history(impl_->hist, &ev, H_ENTER, line.c_str());
  if (!impl_->history_path.empty()) history(impl_->hist, &ev, H_SAVE, impl_->history_path.c_str());
}

}  // namespace minnow::cli

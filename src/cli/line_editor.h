// Terminal line input for interactive chat: libedit's emacs-style editing and a persistent
// history, with Ctrl-C reported as an interruption of the line rather than ending the program.
// Not for pipes: the caller uses it only when stdin is a terminal.
#pragma once

#include <memory>
#include <string>

namespace minnow::cli {

// Set by the SIGINT handler that install_interrupt_handler() installs; cleared by whoever
// acts on it. Reads block until a signal interrupts them (no SA_RESTART).
bool interrupted();
void clear_interrupted();
void install_interrupt_handler();

class LineEditor {
 public:
  enum class Read {
    kLine,         // *line holds the text (without the newline)
    kInterrupted,  // Ctrl-C: the partial line is dropped
    kEnd,          // Ctrl-D on an empty line, or stdin closed
  };

  // history_path: where history persists ("" for none; a missing file is fine).
  explicit LineEditor(const std::string& history_path);
  ~LineEditor();
  LineEditor(const LineEditor&) = delete;
  LineEditor& operator=(const LineEditor&) = delete;

  Read read(const std::string& prompt, std::string* line);
  // Adds a line to the history (and saves it, when there is a history file).
  void remember(const std::string& line);
  void set_history_enabled(bool on) { history_on_ = on; }

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  bool history_on_ = true;
};

}  // namespace minnow::cli

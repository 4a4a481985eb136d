// `minnow pull NAME`: a model from Hugging Face into the store (hf.co/ORG/REPO[:QUANT] or a
// short name such as smollm2:135m), with a progress bar on stderr. `run` pulls through here too.
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "cli/commands.h"
#include "cli/model_ref.h"
#include "minnow/pull.h"

namespace minnow::cli {
namespace {

using Clock = std::chrono::steady_clock;

std::string human_bytes(uint64_t n) {
  const double v = static_cast<double>(n);
  if (n >= 1000000000ull) return strfmt("%.1f GB", v / 1e9);
  if (n >= 1000000ull) return strfmt("%.1f MB", v / 1e6);
  if (n >= 1000ull) return strfmt("%.0f KB", v / 1e3);
  return strfmt("%llu B", static_cast<unsigned long long>(n));
}

// Pull progress on stderr, as `ollama pull` shows it: each step on its own line; while bytes
// arrive, a bar redrawn in place on a terminal, or otherwise a line at every tenth of the file
// (a log stays short).
class ProgressPrinter {
 public:
  void show(const PullProgress& p) {
    if (p.status != status_) {
      end_line();
      status_ = p.status;
      started_ = Clock::now();
      start_bytes_ = p.completed;
      last_tenth_ = -1;
      if (p.total == 0) {
        std::fprintf(stderr, "%s\n", p.status.c_str());
        std::fflush(stderr);
        return;
      }
    }
    if (p.total == 0) return;
    const double frac = static_cast<double>(p.completed) / static_cast<double>(p.total);
    const double secs = std::chrono::duration<double>(Clock::now() - started_).count();
    const double rate = secs > 0.5 ? static_cast<double>(p.completed - start_bytes_) / secs : 0;
    if (tty_) {
      constexpr int kWidth = 30;
      const int filled = static_cast<int>(frac * kWidth);
      std::string bar(static_cast<size_t>(filled), '#');
      bar.resize(kWidth, ' ');
      std::fprintf(stderr, "\r%s: %3d%% [%s] %s/%s", p.status.c_str(), static_cast<int>(frac * 100), bar.c_str(),
                   human_bytes(p.completed).c_str(), human_bytes(p.total).c_str());
      if (rate > 0) std::fprintf(stderr, "  %s/s", human_bytes(static_cast<uint64_t>(rate)).c_str());
      std::fprintf(stderr, "\x1b[K");
      in_bar_ = true;
    } else {
      const int tenth = static_cast<int>(frac * 10);
      if (tenth == last_tenth_) return;
      last_tenth_ = tenth;
      std::fprintf(stderr, "%s: %d%% (%s of %s)\n", p.status.c_str(), tenth * 10, human_bytes(p.completed).c_str(),
                   human_bytes(p.total).c_str());
    }
    std::fflush(stderr);
  }
  void end_line() {
    if (in_bar_) std::fputc('\n', stderr);
    in_bar_ = false;
  }

 private:
  bool tty_ = isatty(2) != 0;
  bool in_bar_ = false;
  std::string status_;
  Clock::time_point started_;
  uint64_t start_bytes_ = 0;
  int last_tenth_ = -1;
};

}  // namespace

Result<StoredModel> pull_with_progress(Store& store, const std::string& name) {
  ProgressPrinter printer;
  PullOptions o;
  o.progress = [&printer](const PullProgress& p) {
    printer.show(p);
    return true;
  };
  auto m = pull_model(store, name, o);
  printer.end_line();
  return m;
}

void add_pull_command(CLI::App& app, int* exit_code) {
  auto name = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("pull", "Download a model from Hugging Face into the store");
  cmd->add_option("name", *name,
                  "hf.co/ORG/REPO[:QUANT] (a GGUF repository; QUANT such as Q4_K_M, the default) or a short name "
                  "(smollm2:135m, qwen2.5:0.5b, llama3.2:1b, gemma3:1b, phi4-mini, ...). Mirror: MINNOW_HF_ENDPOINT "
                  "or HF_ENDPOINT; gated repositories: HF_TOKEN")
      ->required();
  cmd->callback([name, exit_code] {
    auto store = Store::open("");
    if (!store) {
      *exit_code = fail(store.error().message);
      return;
    }
    auto m = pull_with_progress(*store, *name);
    if (!m) {
      *exit_code = fail(m.error().message);
      return;
    }
    std::printf("pulled %s (%s, %s)\n", m->name.c_str(), m->digest.substr(0, 19).c_str(), human_bytes(m->size).c_str());
    *exit_code = 0;
  });
}

}  // namespace minnow::cli

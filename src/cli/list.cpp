// `minnow list`: the models in the store, as `ollama list` shows them.
#include <cstdio>

#include "cli/commands.h"
#include "minnow/store.h"

namespace minnow::cli {

void add_list_command(CLI::App& app, int* exit_code) {
  CLI::App* cmd = app.add_subcommand("list", "List the models in the store");
  cmd->alias("ls");
  cmd->callback([exit_code] {
    auto store = Store::open("");
    if (!store) {
      *exit_code = fail(store.error().message);
      return;
    }
    const auto models = store->list();
    size_t width = 4;
    for (const StoredModel& m : models) width = std::max(width, m.name.size());
    std::printf("%-*s  %-12s  %10s  %s\n", static_cast<int>(width), "NAME", "ID", "SIZE", "MODIFIED");
    for (const StoredModel& m : models) {
      std::printf("%-*s  %-12s  %7.1f MB  %s\n", static_cast<int>(width), m.name.c_str(), m.digest.substr(7, 12).c_str(),
                  static_cast<double>(m.size) / 1e6, m.modified.c_str());
    }
    *exit_code = 0;
  });
}

}  // namespace minnow::cli

// `minnow rm NAME...` and `minnow cp SRC DST`: remove and copy store names (weights are shared;
// a blob goes when no name uses it any more).
#include <cstdio>

#include "cli/commands.h"
#include "minnow/store.h"

namespace minnow::cli {

void add_rm_command(CLI::App& app, int* exit_code) {
  auto names = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = app.add_subcommand("rm", "Remove models from the store");
  cmd->add_option("names", *names, "Model names")->required();
  cmd->callback([names, exit_code] {
    auto store = Store::open("");
    if (!store) {
      *exit_code = fail(store.error().message);
      return;
    }
    *exit_code = 0;
    for (const std::string& n : *names) {
      if (Status st = store->remove(n); !st.ok()) {
        *exit_code = fail(st.error().message);
      } else {
        std::printf("deleted '%s'\n", n.c_str());
      }
    }
  });
}

void add_cp_command(CLI::App& app, int* exit_code) {
  auto names = std::make_shared<std::pair<std::string, std::string>>();
  CLI::App* cmd = app.add_subcommand("cp", "Copy a model in the store to a new name");
  cmd->add_option("source", names->first, "The model to copy")->required();
  cmd->add_option("destination", names->second, "The new name")->required();
  cmd->callback([names, exit_code] {
    auto store = Store::open("");
    Status st = store ? store->copy(names->first, names->second) : Status(store.error());
    if (!st.ok()) {
      *exit_code = fail(st.error().message);
      return;
    }
    std::printf("copied '%s' to '%s'\n", names->first.c_str(), names->second.c_str());
    *exit_code = 0;
  });
}

}  // namespace minnow::cli

// Interactive chat on a terminal (`minnow run MODEL` with no prompt): see chat.cpp.
#pragma once

#include <memory>

#include "minnow/engine.h"

namespace minnow::cli {

// Reads messages from the terminal until /bye or Ctrl-D, answering each with the model.
// verbose: print token counts and speeds after each answer. Returns the exit code.
int run_interactive_chat(std::shared_ptr<Model> model, std::unique_ptr<Session> session, const GenerateOptions& options,
                         bool verbose);

}  // namespace minnow::cli

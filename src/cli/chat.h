// Interactive chat on a terminal (`minnow run MODEL` with no prompt): see chat.cpp.
#pragma once

#include <memory>
#include <string>

#include "minnow/engine.h"

namespace minnow::cli {

// Reads messages from the terminal until /bye or Ctrl-D, answering each with the model.
// system: the system message to start with ("" for none); verbose: print token counts and
// speeds after each answer. Returns the exit code.
int run_interactive_chat(std::shared_ptr<Model> model, std::unique_ptr<Session> session, const GenerateOptions& options,
                         const std::string& system, bool verbose);

}  // namespace minnow::cli

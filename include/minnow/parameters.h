// Ollama's model parameters by name ("temperature", "num_ctx", "stop", ...), as a Modelfile's
// PARAMETER lines, a stored model's defaults, the chat's /set parameter and the server's
// request options give them: each checked the same way, errors naming the parameter and what
// it accepts.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "minnow/engine.h"

namespace minnow {

struct RunParameters {
  GenerateOptions generate;
  int n_ctx = 0;  // 0: the model's default
};

// Sets one parameter from its text ("stop" adds a stop string each time).
Status set_parameter(const std::string& name, const std::string& value, RunParameters* p);
Status set_parameters(const std::vector<std::pair<std::string, std::string>>& params, RunParameters* p);

// The list of parameter names and what they take, for help texts.
extern const char* const kParameterHelp;

}  // namespace minnow

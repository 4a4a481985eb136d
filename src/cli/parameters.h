// Ollama's model parameters by name ("temperature", "num_ctx", ...): set from a Modelfile's
// PARAMETER lines, a stored model's defaults and the chat's /set parameter, checked the same way.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "minnow/engine.h"

namespace minnow::cli {

struct RunParameters {
  GenerateOptions generate;
  int n_ctx = 0;  // 0: the model's default
};

// Sets one parameter from its text; errors name the parameter and what it accepts.
Status set_parameter(const std::string& name, const std::string& value, RunParameters* p);
Status set_parameters(const std::vector<std::pair<std::string, std::string>>& params, RunParameters* p);

// The list of parameter names and what they take, for help texts.
extern const char* const kParameterHelp;

}  // namespace minnow::cli

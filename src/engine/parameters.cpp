#include "minnow/parameters.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>

namespace minnow {

const char* const kParameterHelp =
    "  temperature F      sampling temperature (0: greedy)\n"
    "  top_k N            keep the N most likely tokens (0: off)\n"
    "  top_p F            nucleus sampling threshold (1: off)\n"
    "  min_p F            drop tokens below F x the top probability\n"
    "  seed N             random seed\n"
    "  num_predict N      at most N tokens per answer (-1: no limit)\n"
    "  num_ctx N          context size in tokens\n"
    "  repeat_penalty F   penalty for repeated tokens (1: off)\n"
    "  repeat_last_n N    tokens the repeat penalty looks back at (-1: the whole context)\n"
    "  frequency_penalty F, presence_penalty F\n"
    "  stop TEXT          end the answer before TEXT (repeat for several)\n";

Status set_parameter(const std::string& name, const std::string& value, RunParameters* p) {
  if (name == "stop") {  // text, not a number; each one adds a stop string
    std::string text = value;
    if (text.size() >= 2 && text.front() == '"' && text.back() == '"') text = text.substr(1, text.size() - 2);
    if (text.empty()) return make_error("parameter stop: the stop text is empty");
    p->generate.stop.push_back(text);
    return Status();
  }
  char* end = nullptr;
  const double v = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || !std::isfinite(v)) {
    return make_error("parameter %s: '%s' is not a number", name.c_str(), value.c_str());
  }
  const bool whole = v == std::floor(v) && std::fabs(v) < 1e15;
  auto need = [&](bool ok, const char* what) {
    return ok ? Status() : make_error("parameter %s: '%s' is not %s", name.c_str(), value.c_str(), what);
  };
  SamplingOptions& s = p->generate.sampling;
  if (name == "temperature") {
    MINNOW_CHECK_OK(need(v >= 0 && v <= 100, "in [0, 100]"));
    s.temperature = static_cast<float>(v);
  } else if (name == "top_k") {
    MINNOW_CHECK_OK(need(whole && v >= 0 && v <= 1e9, "a whole number >= 0"));
    s.top_k = static_cast<int>(v);
  } else if (name == "top_p") {
    MINNOW_CHECK_OK(need(v > 0 && v <= 1, "in (0, 1]"));
    s.top_p = static_cast<float>(v);
  } else if (name == "min_p") {
    MINNOW_CHECK_OK(need(v >= 0 && v <= 1, "in [0, 1]"));
    s.min_p = static_cast<float>(v);
  } else if (name == "seed") {
    MINNOW_CHECK_OK(need(whole && v >= 0, "a whole number >= 0"));
    s.seed = static_cast<uint64_t>(v);
  } else if (name == "num_predict") {
    MINNOW_CHECK_OK(need(whole && v >= -1 && v <= 1e9, "a whole number >= -1"));
    p->generate.num_predict = static_cast<int>(v);
  } else if (name == "num_ctx") {
    MINNOW_CHECK_OK(need(whole && v >= 1 && v <= (1 << 20), "a whole number in [1, 1048576]"));
    p->n_ctx = static_cast<int>(v);
  } else if (name == "repeat_penalty") {
    MINNOW_CHECK_OK(need(v > 0 && v <= 100, "in (0, 100]"));
    s.repeat_penalty = static_cast<float>(v);
  } else if (name == "repeat_last_n") {
    MINNOW_CHECK_OK(need(whole && v >= -1 && v <= 1e9, "a whole number >= -1"));
    s.repeat_last_n = static_cast<int>(v);
  } else if (name == "frequency_penalty") {
    MINNOW_CHECK_OK(need(v >= -100 && v <= 100, "in [-100, 100]"));
    s.frequency_penalty = static_cast<float>(v);
  } else if (name == "presence_penalty") {
    MINNOW_CHECK_OK(need(v >= -100 && v <= 100, "in [-100, 100]"));
    s.presence_penalty = static_cast<float>(v);
  } else {
    return make_error("unknown parameter '%s' (known: temperature, top_k, top_p, min_p, seed, num_predict, num_ctx, "
                      "repeat_penalty, repeat_last_n, frequency_penalty, presence_penalty, stop)",
                      name.c_str());
  }
  return Status();
}

Status set_parameters(const std::vector<std::pair<std::string, std::string>>& params, RunParameters* p) {
  for (const auto& [name, value] : params) MINNOW_CHECK_OK(set_parameter(name, value, p));
  return Status();
}

}  // namespace minnow

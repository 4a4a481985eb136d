// JSONL datasets for `minnow eval`: one example per line; a malformed line is skipped with a
// message naming it, so that one bad line does not cost the run.
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "minnow/eval.h"

namespace minnow {
namespace {

using json = nlohmann::json;

// A text field's value; numbers and other JSON values as their JSON text (labels like 1 or true).
std::string as_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

Result<EvalExample> parse_line(std::string_view text, int line) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return make_error("not valid JSON");
  if (!j.is_object()) return make_error("not a JSON object");
  EvalExample ex;
  ex.line = line;
  if (j.contains("messages")) {
    const json& m = j["messages"];
    if (!m.is_array() || m.empty()) return make_error("'messages' must be a non-empty array");
    for (size_t i = 0; i < m.size(); ++i) {
      if (!m[i].is_object() || !m[i].contains("role") || !m[i]["role"].is_string() || !m[i].contains("content") ||
          !m[i]["content"].is_string())
        return make_error("messages[%zu] needs string 'role' and 'content'", i);
      ex.messages.emplace_back(m[i]["role"].get<std::string>(), m[i]["content"].get<std::string>());
    }
  } else if (j.contains("prompt")) {
    if (!j["prompt"].is_string()) return make_error("'prompt' must be a string");
    ex.messages.emplace_back("user", j["prompt"].get<std::string>());
  } else {
    return make_error("neither 'messages' nor 'prompt'");
  }
  const char* expected_key = j.contains("expected") ? "expected" : j.contains("answer") ? "answer" : nullptr;
  if (expected_key) ex.expected = as_text(j[expected_key]);
  if (j.contains("label")) ex.label = as_text(j["label"]);
  if (!expected_key && !j.contains("label")) return make_error("none of 'expected', 'answer', 'label'");
  if (j.contains("schema")) {
    if (!j["schema"].is_object()) return make_error("'schema' must be a JSON Schema object");
    ex.schema = j["schema"].dump();
  }
  if (j.contains("regex")) {
    if (!j["regex"].is_string()) return make_error("'regex' must be a string");
    ex.regex = j["regex"].get<std::string>();
  }
  ex.id = j.contains("id") ? as_text(j["id"]) : "line " + std::to_string(line);
  return ex;
}

}  // namespace

Dataset parse_dataset(std::string_view jsonl) {
  Dataset d;
  int line = 0;
  size_t pos = 0;
  while (pos < jsonl.size()) {
    size_t end = jsonl.find('\n', pos);
    if (end == std::string_view::npos) end = jsonl.size();
    std::string_view text = jsonl.substr(pos, end - pos);
    pos = end + 1;
    ++line;
    if (text.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    auto ex = parse_line(text, line);
    if (ex) {
      d.examples.push_back(std::move(*ex));
    } else {
      d.skipped.push_back({line, strfmt("line %d: %s", line, ex.error().message.c_str())});
    }
  }
  return d;
}

Result<Dataset> load_dataset(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("cannot read '%s'", path.c_str());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_dataset(text);
}

}  // namespace minnow

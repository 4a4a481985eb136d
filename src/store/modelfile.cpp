// Modelfile parsing (Ollama's format): one instruction per line, arguments to the end of the
// line, or a """-quoted block over several lines; '#' starts a comment line.
#include <cctype>

#include "minnow/store.h"

namespace minnow {
namespace {

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// A single-line argument in double quotes loses them ("a b" -> a b).
std::string unquote(std::string s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') return s.substr(1, s.size() - 2);
  return s;
}

}  // namespace

Result<Modelfile> Modelfile::parse(std::string_view text) {
  Modelfile mf;
  size_t pos = 0;
  int line_no = 0;
  auto next_line = [&](std::string* line) {
    if (pos > text.size()) return false;
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    *line = std::string(text.substr(pos, nl - pos));
    if (!line->empty() && line->back() == '\r') line->pop_back();
    pos = nl + 1;
    ++line_no;
    return true;
  };
  std::string line;
  while (next_line(&line)) {
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    const int at_line = line_no;
    size_t sp = 0;
    while (sp < t.size() && !std::isspace(static_cast<unsigned char>(t[sp]))) ++sp;
    const std::string instr = upper(t.substr(0, sp));
    std::string arg = trim(std::string_view(t).substr(sp));
    if (arg.starts_with("\"\"\"")) {
      // A block: up to the closing """ (on this line or a later one), taken verbatim.
      std::string body = arg.substr(3);
      size_t end = body.find("\"\"\"");
      while (end == std::string::npos) {
        std::string more;
        if (!next_line(&more)) return make_error("Modelfile line %d: \"\"\" is never closed", at_line);
        body += "\n" + more;
        end = body.find("\"\"\"");
      }
      if (!trim(std::string_view(body).substr(end + 3)).empty()) {
        return make_error("Modelfile line %d: text after the closing \"\"\"", line_no);
      }
      arg = body.substr(0, end);
    } else {
      arg = unquote(arg);
    }
    if (instr == "FROM") {
      if (arg.empty()) return make_error("Modelfile line %d: FROM needs a model (a GGUF file, a folder or a name)", at_line);
      if (!mf.from.empty()) return make_error("Modelfile line %d: a second FROM", at_line);
      mf.from = arg;
    } else if (instr == "SYSTEM") {
      mf.system = arg;
    } else if (instr == "TEMPLATE") {
      mf.chat_template = arg;
    } else if (instr == "LICENSE") {
      mf.license += (mf.license.empty() ? "" : "\n") + arg;
    } else if (instr == "ADAPTER") {
      if (arg.empty()) return make_error("Modelfile line %d: ADAPTER needs a path", at_line);
      mf.adapters.push_back(arg);
    } else if (instr == "PARAMETER") {
      const std::string p = trim(arg);
      size_t s2 = 0;
      while (s2 < p.size() && !std::isspace(static_cast<unsigned char>(p[s2]))) ++s2;
      const std::string name = p.substr(0, s2);
      const std::string value = unquote(trim(std::string_view(p).substr(s2)));
      if (name.empty() || value.empty()) {
        return make_error("Modelfile line %d: PARAMETER needs a name and a value", at_line);
      }
      mf.parameters.emplace_back(name, value);
    } else {
      return make_error("Modelfile line %d: unknown instruction '%s' (FROM, PARAMETER, SYSTEM, TEMPLATE, ADAPTER, LICENSE)",
                        at_line, instr.c_str());
    }
  }
  if (mf.from.empty()) return make_error("Modelfile: no FROM line");
  return mf;
}

}  // namespace minnow

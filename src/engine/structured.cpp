// Implements minnow/structured.h over src/grammar.
#include "minnow/structured.h"

#include <nlohmann/json.hpp>

#include "grammar/grammar.h"
#include "grammar/json_schema.h"

namespace minnow {

Result<std::string> grammar_for_json_schema(std::string_view schema_json) {
  nlohmann::ordered_json schema;
  try {
    schema = nlohmann::ordered_json::parse(schema_json);
  } catch (const nlohmann::json::exception& e) {
    return make_error("schema: not JSON (%s)", e.what());
  }
  auto gbnf = grammar::schema_to_gbnf(schema);
  if (!gbnf.ok()) return gbnf.error();
  // A schema can convert and still allow nothing finite (a property that must hold itself).
  if (Status ok = check_grammar(*gbnf); !ok.ok()) return ok.error().with_context("schema");
  return gbnf;
}

std::string grammar_for_json(bool object_only) { return grammar::json_gbnf(object_only); }

Status check_grammar(std::string_view gbnf) {
  auto g = grammar::Grammar::parse(gbnf);
  if (!g.ok()) return g.error();
  return Status();
}

}  // namespace minnow

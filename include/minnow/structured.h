// Structured output: the grammars that constrain generation (GenerateOptions::grammar) to JSON,
// to a JSON Schema, or to any GBNF grammar a caller writes.
//
//   auto g = minnow::grammar_for_json_schema(R"({"enum": ["spam", "ham"]})");
//   if (!g.ok()) return 400 with g.error().message;
//   options.grammar = *g;  // the output is exactly "spam" or "ham", quotes included
#pragma once

#include <string>
#include <string_view>

#include "minnow/error.h"

namespace minnow {

// The GBNF grammar of the JSON texts a JSON Schema (given as JSON text) allows. Errors: text that
// is not JSON, keywords that are not supported (named with their place in the schema), schemas
// nothing satisfies.
Result<std::string> grammar_for_json_schema(std::string_view schema_json);

// The grammar of any JSON object (object_only) or any JSON value.
std::string grammar_for_json(bool object_only);

// Whether GBNF text is a grammar minnow can run (start rule "root"); errors name the line and
// column or the rule.
Status check_grammar(std::string_view gbnf);

}  // namespace minnow

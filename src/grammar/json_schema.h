// JSON Schema -> GBNF: the grammar of the JSON texts a schema allows, for constrained
// decoding of structured output (Ollama's `format`, OpenAI's `response_format`, `--format`).
//
// Supported: type (one or a list), properties / required / additionalProperties (absent means
// no extra properties: the output keeps to the declared ones), enum, const, items, prefixItems,
// minItems / maxItems, minLength / maxLength, pattern (a regular-expression subset: literals,
// classes, ., groups, |, * + ? {m,n}, ^ $), format (date, time, date-time, uuid, email, uri),
// integer minimum / maximum (and exclusive ones), anyOf / oneOf (as alternatives: oneOf's
// exclusivity is the schema author's), allOf of object schemas, $ref into #/$defs or
// #/definitions (recursion allowed). Annotations (title, description, default, examples, ...)
// are ignored. Any other keyword is an error naming it and where it is: never silently dropped.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "base/error.h"

namespace minnow::grammar {

// The GBNF text (root rule "root") of the JSON texts `schema` allows, properties in the order
// the schema lists them (hence ordered_json). Errors name the schema path ("schema at
// /properties/age: 'multipleOf' is not supported for type integer"). root_name names the rule of
// the whole value instead of "root", for a grammar that uses it inside a larger one (the other
// rules' names are those of the schema's parts and the JSON primitives: value, string, ws, ...).
Result<std::string> schema_to_gbnf(const nlohmann::ordered_json& schema, const std::string& root_name = "root");

// The grammar of any JSON value (Ollama's format "json", OpenAI's json_object), an object at
// the top as OpenAI requires when object_only.
std::string json_gbnf(bool object_only);

}  // namespace minnow::grammar

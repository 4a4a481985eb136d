// JSON Schema -> grammar: for each schema, instances the schema allows are sentences of its
// grammar and instances it forbids are not (instances written from the JSON Schema spec, not
// from the converter's output); unsupported or unsatisfiable schemas are errors naming where.
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/json_schema.h"
#include "grammar/matcher.h"

namespace minnow::grammar {
namespace {

using ojson = nlohmann::ordered_json;

struct Case {
  const char* schema;
  std::vector<const char*> valid;
  std::vector<const char*> invalid;
};

bool sentence(const std::shared_ptr<const Grammar>& g, const std::string& text) {
  Matcher m(g);
  return m.accept(text) && m.complete();
}

TEST(GrammarJsonSchema, AllowedInstancesMatchAndForbiddenOnesDoNot) {
  const Case cases[] = {
      {R"({"type": "string"})", {R"("")", R"("héllo \"q\" \\ \n \u00e9")"}, {"1", R"("a)", "\"a\nb\""}},
      {R"({"type": "integer"})", {"0", "-17", "123456"}, {"1.5", "01", "-", "\"1\""}},
      {R"({"type": "number"})", {"0", "-1.25", "3e10", "2.5E-3"}, {".5", "1.", "+1", "NaN"}},
      {R"({"type": "boolean"})", {"true", "false"}, {"True", "1"}},
      {R"({"type": "null"})", {"null"}, {"nil", "\"null\""}},
      {R"({"enum": ["spam", "ham", 3, null]})", {R"("spam")", R"("ham")", "3", "null"}, {R"("eggs")", R"("spa")"}},
      {R"({"const": {"a": [1, "x"]}})", {R"({"a":[1,"x"]})"}, {R"({"a":[1]})"}},
      {R"({"type": ["string", "null"]})", {R"("x")", "null"}, {"1"}},
      {R"({"type": "string", "minLength": 2, "maxLength": 3})", {R"("ab")", R"("abc")", R"("\n\t")"}, {R"("a")", R"("abcd")"}},
      {R"({"type": "string", "format": "date"})", {R"("2024-02-29")"}, {R"("2024-13-01")", R"("24-01-01")"}},
      {R"({"type": "string", "format": "time"})", {R"("23:59:59Z")", R"("08:00:00.5+02:00")"}, {R"("24:00:00Z")", R"("08:00")"}},
      {R"({"type": "string", "format": "date-time"})", {R"("2024-05-17T10:30:00Z")"}, {R"("2024-05-17 10:30:00Z")"}},
      {R"({"type": "string", "format": "uuid"})", {R"("123e4567-e89b-12d3-a456-426614174000")"}, {R"("123e4567")"}},
      {R"({"type": "string", "format": "email"})", {R"("a.b+c@example.co.uk")"}, {R"("no-at-sign")", R"("a@b")"}},
      {R"({"type": "string", "format": "uri"})", {R"("https://example.com/a/b")"}, {R"("example.com")"}},
      {R"({"type": "string", "pattern": "^[A-Z]{2}-\\d{3}$"})", {R"("AB-123")"}, {R"("ab-123")", R"("AB-12")"}},
      {R"({"type": "string", "pattern": "(cat|dog)s?"})", {R"("cat")", R"("dogs")"}, {R"("cow")"}},
      {R"({"type": "string", "pattern": "a\"b\\.c"})", {R"("a\"b.c")"}, {R"("a"b.c")", R"("a\"bxc")"}},
      {R"({"type": "integer", "minimum": 1, "maximum": 12})", {"1", "9", "10", "12"}, {"0", "13", "-1", "012"}},
      {R"({"type": "integer", "minimum": -20, "maximum": 5})", {"-20", "-9", "0", "5"}, {"-21", "6", "-0"}},
      {R"({"type": "integer", "exclusiveMinimum": 99})", {"100", "12345"}, {"99", "5", "-100"}},
      {R"({"type": "integer", "maximum": -3})", {"-3", "-1000"}, {"-2", "0", "4"}},
      {R"({"type": "integer", "minimum": 0, "maximum": 1000})", {"0", "999", "1000"}, {"1001", "-1"}},
      {R"({"type": "number", "minimum": 0})", {"0", "2.5"}, {"-1"}},
      {R"({"type": "array", "items": {"type": "integer"}})", {"[]", "[1]", "[1, 2,3]"}, {"[1,]", "[\"a\"]", "["}},
      {R"({"type": "array", "items": {"type": "boolean"}, "minItems": 1, "maxItems": 2})",
       {"[true]", "[true, false]"}, {"[]", "[true,true,true]"}},
      {R"({"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": false})",
       {R"(["a", 1])"}, {R"(["a"])", R"([1, "a"])", R"(["a", 1, 2])"}},
      {R"({"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
           "required": ["name", "age"]})",
       {R"({"name": "Al", "age": 3})", R"({ "name" : "Al" , "age" : 3 })"},
       {R"({"name": "Al"})", R"({"age": 3, "name": "Al"})", R"({"name": "Al", "age": 3, "x": 1})"}},
      {R"({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}, "c": {"type": "integer"}},
           "required": ["b"]})",
       {R"({"b": 2})", R"({"a": 1, "b": 2})", R"({"b": 2, "c": 3})", R"({"a": 1, "b": 2, "c": 3})"},
       {"{}", R"({"a": 1})", R"({"a": 1, "c": 3})", R"({, "b": 2})"}},
      {R"({"type": "object", "properties": {"a": {"type": "integer"}}})", {"{}", R"({"a": 1})"}, {R"({"b": 1})"}},
      {R"({"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": {"type": "string"}})",
       {"{}", R"({"a": 1, "x": "y"})", R"({"z": "w"})"}, {R"({"x": 1})"}},
      {R"({"anyOf": [{"type": "integer"}, {"type": "object", "properties": {"k": {"const": true}}, "required": ["k"]}]})",
       {"5", R"({"k": true})"}, {R"({"k": false})", "\"5\""}},
      {R"({"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
                     {"properties": {"b": {"type": "string"}}, "required": ["b"]}]})",
       {R"({"a": 1, "b": "x"})"}, {R"({"a": 1})"}},
      {R"({"$defs": {"node": {"type": "object", "properties": {"v": {"type": "integer"},
              "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}}, "required": ["v", "kids"]}},
           "$ref": "#/$defs/node"})",
       {R"({"v": 1, "kids": [{"v": 2, "kids": []}]})"}, {R"({"v": 1, "kids": [{"v": 2}]})"}},
      {R"({"type": "object", "title": "Person", "description": "d", "properties": {"tags": {"type": "array",
           "items": {"enum": ["a", "b"]}, "description": "x"}}, "required": ["tags"], "additionalProperties": false})",
       {R"({"tags": ["a", "b", "a"]})"}, {R"({"tags": ["c"]})"}},
      {"{}", {"1", R"({"a": [null]})"}, {"{", "nope"}},
  };
  for (const Case& c : cases) {
    const ojson schema = ojson::parse(c.schema);
    auto gbnf = schema_to_gbnf(schema);
    ASSERT_TRUE(gbnf.ok()) << c.schema << ": " << gbnf.error().message;
    auto g = Grammar::parse(*gbnf);
    ASSERT_TRUE(g.ok()) << c.schema << ": " << g.error().message << "\n" << *gbnf;
    auto grammar = std::make_shared<const Grammar>(std::move(*g));
    for (const char* v : c.valid) EXPECT_TRUE(sentence(grammar, v)) << c.schema << " should allow " << v << "\n" << *gbnf;
    for (const char* v : c.invalid) EXPECT_FALSE(sentence(grammar, v)) << c.schema << " should forbid " << v << "\n" << *gbnf;
  }
}

TEST(GrammarJsonSchema, UnsupportedOrUnsatisfiableSchemasAreErrorsNamingWhere) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"type": "integer", "multipleOf": 3})", "schema at /: 'multipleOf' is not supported for type integer"},
      {R"({"type": "object", "properties": {"a": {"type": "string", "contentSchema": {}}}})",
       "schema at /properties/a: 'contentSchema' is not supported for type string"},
      {R"({"type": "array", "items": {"type": "integer"}, "minItems": 3, "maxItems": 1})",
       "schema at /: maxItems 1 is below minItems 3: nothing satisfies it"},
      {R"({"type": "string", "minLength": 5, "maxLength": 2})", "schema at /: maxLength 2 is below minLength 5: nothing satisfies it"},
      {R"({"enum": []})", "schema at /enum: must be a non-empty array"},
      {R"({"type": "integer", "minimum": 5, "maximum": 4})", "schema at /: no integer lies between the minimum and the maximum"},
      {R"({"type": "object", "properties": {}, "required": ["x"], "additionalProperties": false})",
       "schema at /required: 'x' is required but not among the properties, and no other property is allowed"},
      {R"({"$ref": "#/$defs/missing"})", "schema at /$ref: '#/$defs/missing' points to nothing"},
      {R"({"$ref": "https://example.com/s.json"})",
       "schema at /$ref: 'https://example.com/s.json': only references into this schema (#/$defs/...) are supported"},
      {R"({"type": "strng"})", "schema at /type: unknown type 'strng'"},
      {R"({"type": "string", "format": "ipv6"})", "schema at /format: 'ipv6' is not supported (date, time, date-time, uuid, email, uri are)"},
      {R"({"type": "string", "pattern": "(?=a)b"})", "schema at /pattern: '(?=a)b': lookarounds and named groups are not supported"},
      {R"({"type": "string", "pattern": "a\\1"})", "schema at /pattern: 'a\\1': the escape \\1 is not supported"},
      {R"({"not": {"type": "string"}})", "schema at /: 'not' is not supported"},
      {R"({"type": "array", "uniqueItems": true})", "schema at /: 'uniqueItems' is not supported"},
      {"false", "schema at /: the schema false allows nothing"},
      {"[1]", "schema at /: a schema must be an object or a boolean"},
  };
  for (const auto& [schema, message] : cases) {
    auto gbnf = schema_to_gbnf(ojson::parse(schema));
    ASSERT_FALSE(gbnf.ok()) << schema;
    EXPECT_EQ(gbnf.error().message, message) << schema;
  }
  // Nesting past the bound is an error, not a stack overflow.
  std::string deep = R"({"type": "string"})";
  for (int i = 0; i < 100; ++i) deep = R"({"type": "array", "items": )" + deep + "}";
  auto g = schema_to_gbnf(ojson::parse(deep));
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.error().message.find("nested more than 64 deep"), std::string::npos);
}

TEST(GrammarJsonSchema, PropertiesComeInTheSchemasOrderAndRecursionNeedsAWayOut) {
  auto gbnf = schema_to_gbnf(ojson::parse(
      R"({"type": "object", "properties": {"zeta": {"type": "integer"}, "alpha": {"type": "integer"}}, "required": ["zeta", "alpha"]})"));
  ASSERT_TRUE(gbnf.ok());
  auto g = Grammar::parse(*gbnf);
  ASSERT_TRUE(g.ok());
  auto grammar = std::make_shared<const Grammar>(std::move(*g));
  EXPECT_TRUE(sentence(grammar, R"({"zeta": 1, "alpha": 2})"));
  EXPECT_FALSE(sentence(grammar, R"({"alpha": 2, "zeta": 1})"));
  // A schema that only recurses converts, but its grammar cannot finish: an error there.
  auto loop = schema_to_gbnf(ojson::parse(
      R"({"$defs": {"a": {"type": "object", "properties": {"x": {"$ref": "#/$defs/a"}}, "required": ["x"]}}, "$ref": "#/$defs/a"})"));
  ASSERT_TRUE(loop.ok());
  auto lg = Grammar::parse(*loop);
  ASSERT_FALSE(lg.ok());
  EXPECT_NE(lg.error().message.find("can never finish"), std::string::npos) << lg.error().message;
}

// The corpus the end-to-end structured-output test generates from (tests/js) converts, and its
// grammars parse and can finish.
TEST(GrammarJsonSchema, TheTestCorpusConverts) {
  std::ifstream in(std::string(MINNOW_TEST_DATA) + "/schemas.json");
  ASSERT_TRUE(in) << "tests/data/schemas.json";
  std::stringstream ss;
  ss << in.rdbuf();
  const ojson corpus = ojson::parse(ss.str());
  ASSERT_GE(corpus.size(), 30u);
  for (const ojson& entry : corpus) {
    auto gbnf = schema_to_gbnf(entry["schema"]);
    ASSERT_TRUE(gbnf.ok()) << entry["name"] << ": " << gbnf.error().message;
    auto g = Grammar::parse(*gbnf);
    ASSERT_TRUE(g.ok()) << entry["name"] << ": " << g.error().message << "\n" << *gbnf;
    Matcher m(std::make_shared<const Grammar>(std::move(*g)));
    EXPECT_LT(m.distance(), 200u) << entry["name"];
  }
}

TEST(GrammarJsonSchema, JsonGrammarAcceptsJsonAndObjectOnlyWantsAnObject) {
  auto any = Grammar::parse(json_gbnf(false));
  auto obj = Grammar::parse(json_gbnf(true));
  ASSERT_TRUE(any.ok() && obj.ok());
  auto a = std::make_shared<const Grammar>(std::move(*any));
  auto o = std::make_shared<const Grammar>(std::move(*obj));
  EXPECT_TRUE(sentence(a, "[1, {\"a\": null}]"));
  EXPECT_FALSE(sentence(o, "[1]"));
  EXPECT_TRUE(sentence(o, "{\"a\": [true]}"));
}

}  // namespace
}  // namespace minnow::grammar

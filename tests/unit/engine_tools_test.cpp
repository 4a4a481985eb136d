// Tool calling (minnow/tools.h): each family's format told from its real chat template
// (../shared/templates), calls read from the text each family writes, streaming that sends text
// at once and holds back what may be a call, and grammars that make a random-weight model call a
// tool in each format with arguments that follow the function's schema.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "minnow/engine.h"
#include "minnow/structured.h"
#include "minnow/tools.h"

namespace minnow {
namespace {

using json = nlohmann::ordered_json;

const std::string kShared = MINNOW_SHARED_DIR;
const std::string kTiny = kShared + "/reference/tiny-llama-q8_0.gguf";
const std::string kStories = kShared + "/models/stories260K.gguf";

const char* kTools = R"([
  {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
   "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 12},
                  "unit": {"enum": ["c", "f"]}}, "required": ["city"]}}},
  {"type": "function", "function": {"name": "add", "parameters": {"type": "object",
   "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]}}},
  {"type": "function", "function": {"name": "now"}}
])";

std::vector<ToolSpec> tools() {
  auto t = parse_tools(kTools);
  EXPECT_TRUE(t.ok()) << t.error().message;
  return t.ok() ? *t : std::vector<ToolSpec>{};
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Tools, FormatOfEachFamilysTemplate) {
  const std::string dir = kShared + "/templates/";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "needs ../shared/templates";
  const std::pair<const char*, ToolCallFormat> cases[] = {
      {"Qwen-Qwen2.5-0.5B-Instruct", ToolCallFormat::kHermes},
      {"Qwen-Qwen2.5-7B-Instruct", ToolCallFormat::kHermes},
      {"NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use", ToolCallFormat::kHermes},
      {"meta-llama-Llama-3.1-8B-Instruct", ToolCallFormat::kLlama3},
      {"meta-llama-Llama-3.2-1B-Instruct", ToolCallFormat::kLlama3},
      {"meta-llama-Llama-3.2-3B-Instruct", ToolCallFormat::kLlama3},
      {"mistralai-Mistral-Nemo-Instruct-2407", ToolCallFormat::kMistral},
      {"Mistral-Small-3.2-24B-Instruct-2506", ToolCallFormat::kMistral},
  };
  for (const auto& [name, want] : cases) {
    const std::string t = read(dir + name + ".jinja");
    ASSERT_FALSE(t.empty()) << name;
    EXPECT_EQ(tool_call_format(t), want) << name << ": " << tool_call_format_name(tool_call_format(t));
  }
  // Phi-4-mini's template marks tools with <|tool|>; a template with no tool syntax: Hermes.
  EXPECT_EQ(tool_call_format("{{ '<|system|>' + m['content'] + '<|tool|>' + m['tools'] + '<|/tool|>' }}"),
            ToolCallFormat::kPhi4);
  EXPECT_EQ(tool_call_format("{% for m in messages %}{{ m.content }}{% endfor %}"), ToolCallFormat::kHermes);
}

TEST(Tools, ParsesToolsAndRefusesBadOnes) {
  const auto t = tools();
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0].name, "get_weather");
  EXPECT_EQ(json::parse(t[0].parameters_json)["required"][0], "city");
  EXPECT_TRUE(t[2].parameters_json.empty());
  const std::pair<const char*, const char*> bad[] = {
      {"{}", "must be an array"},
      {"[1]", "tools[0] must be an object"},
      {R"([{"type": "retrieval"}])", "only tools of type 'function'"},
      {R"([{"type": "function"}])", "needs a 'function' object"},
      {R"([{"type": "function", "function": {"description": "x"}}])", "needs a 'name'"},
      {R"([{"function": {"name": "f", "parameters": 3}}])", "must be a JSON Schema object"},
      {R"([{"function": {"name": "f"}}, {"function": {"name": "f"}}])", "a second function named 'f'"},
  };
  for (const auto& [text, why] : bad) {
    auto r = parse_tools(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.error().message.find(why), std::string::npos) << text << ": " << r.error().message;
  }
}

struct ParseCase {
  const char* what;
  std::string text;
  std::vector<std::pair<std::string, std::string>> calls;  // name, arguments (compact JSON)
  std::string content;
};

TEST(Tools, ReadsEachFamilysCalls) {
  const auto t = tools();
  const std::string paris = R"({"city":"Paris"})";
  const ParseCase cases[] = {
      {"hermes", "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
       {{"get_weather", paris}}, ""},
      {"hermes, two calls and text before",
       "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n"
       "<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": 2}}\n</tool_call>",
       {{"get_weather", paris}, {"add", R"({"a":1,"b":2})"}}, "Let me check."},
      {"hermes, unclosed at the end", "<tool_call>\n{\"name\": \"now\", \"arguments\": {}}", {{"now", "{}"}}, ""},
      {"hermes, arguments as a JSON string",
       R"(<tool_call>{"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}</tool_call>)",
       {{"get_weather", paris}}, ""},
      {"llama3 with python_tag", R"(<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}})",
       {{"get_weather", paris}}, ""},
      {"llama3 bare", "  {\"name\": \"add\", \"parameters\": {\"a\": 1, \"b\": 2}}<|eom_id|>",
       {{"add", R"({"a":1,"b":2})"}}, ""},
      {"llama3, two calls with ;",
       R"({"name": "now", "parameters": {}}; {"name": "get_weather", "parameters": {"city": "Paris"}})",
       {{"now", "{}"}, {"get_weather", paris}}, ""},
      {"mistral", R"([TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "a1b2c3d4e"}])",
       {{"get_weather", paris}}, ""},
      {"mistral without its control token",
       R"([{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "now", "arguments": {}}])",
       {{"get_weather", paris}, {"now", "{}"}}, ""},
      {"phi4", R"(<|tool_call|>[{"name": "get_weather", "arguments": {"city": "Paris"}}]<|/tool_call|>)",
       {{"get_weather", paris}}, ""},
      {"phi4 functools", R"(functools[{"name": "add", "arguments": {"a": 1, "b": 2}}])",
       {{"add", R"({"a":1,"b":2})"}}, ""},
      {"openai's own shape", R"([{"type": "function", "function": {"name": "now", "arguments": "{}"}}])",
       {{"now", "{}"}}, ""},
      {"plain text", "The weather in Paris is mild.", {}, "The weather in Paris is mild."},
      {"JSON that names no offered tool", R"({"name": "Alice", "arguments": {"age": 3}})", {},
       R"({"name": "Alice", "arguments": {"age": 3}})"},
      {"a structured answer", R"({"label": "spam"})", {}, R"({"label": "spam"})"},
      {"a marked call to any name counts", R"(<|python_tag|>{"name": "search", "parameters": {"q": "x"}})",
       {{"search", R"({"q":"x"})"}}, ""},
      {"hermes block without a call", "<tool_call>\nnot json\n</tool_call>", {}, "<tool_call>\nnot json\n</tool_call>"},
      {"a call cut short", R"({"name": "get_weather", "arguments": {"city": "Par)", {},
       R"({"name": "get_weather", "arguments": {"city": "Par)"},
      {"arguments that are not an object", R"({"name": "now", "arguments": [1]})", {},
       R"({"name": "now", "arguments": [1]})"},
  };
  for (const ParseCase& c : cases) {
    const ParsedToolCalls p = parse_tool_calls(c.text, t);
    EXPECT_EQ(p.content, c.content) << c.what;
    ASSERT_EQ(p.calls.size(), c.calls.size()) << c.what;
    for (size_t i = 0; i < c.calls.size(); ++i) {
      EXPECT_EQ(p.calls[i].name, c.calls[i].first) << c.what;
      EXPECT_EQ(p.calls[i].arguments, c.calls[i].second) << c.what;
    }
  }
}

// Pieces of every size: what push() sends plus what finish() leaves is the text, and calls are
// held back whole.
TEST(Tools, StreamingSendsTextAtOnceAndHoldsBackCalls) {
  const auto t = tools();
  const std::string call = "<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call>";
  struct Case {
    std::string text;
    std::string sent_before_end;  // at least this goes out before finish()
    size_t calls;
  };
  const Case cases[] = {
      {"Hello there, friend.", "Hello there, friend.", 0},
      {"I will look.\n" + call, "I will look.\n", 1},
      {call, "", 1},
      {R"({"name": "add", "parameters": {"a": 1, "b": 2}})", "", 1},
      {R"({"answer": 42})", "", 0},
      {"a < b and <tool_c is not a call", "a < b and <tool_c is not a call", 0},
      {"  \n", "", 0},
  };
  for (const Case& c : cases) {
    for (size_t step = 1; step <= 7; ++step) {
      ToolCallStream s(t);
      std::string sent;
      for (size_t i = 0; i < c.text.size(); i += step) sent += s.push(std::string_view(c.text).substr(i, step));
      EXPECT_EQ(sent.substr(0, c.sent_before_end.size()), c.sent_before_end) << c.text << " step " << step;
      const ParsedToolCalls rest = s.finish();
      EXPECT_EQ(rest.calls.size(), c.calls) << c.text << " step " << step;
      if (c.calls == 0) {
        EXPECT_EQ(sent + rest.content, c.text) << "step " << step;
      } else {
        EXPECT_EQ(sent, c.sent_before_end) << c.text << " step " << step;
      }
    }
  }
}

TEST(Tools, GrammarErrors) {
  const auto t = tools();
  auto none = tool_call_grammar(ToolCallFormat::kHermes, t, {ToolChoice::kAuto, ""});
  EXPECT_FALSE(none.ok());
  auto unknown = tool_call_grammar(ToolCallFormat::kHermes, t, {ToolChoice::kFunction, "fly"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("'fly', which is not among the tools"), std::string::npos);
  auto empty = tool_call_grammar(ToolCallFormat::kHermes, {}, {ToolChoice::kRequired, ""});
  EXPECT_FALSE(empty.ok());
  auto bad = parse_tools(R"([{"function": {"name": "f", "parameters": {"type": "object",
      "properties": {"x": {"type": "number", "multipleOf": 3}}}}}])");
  ASSERT_TRUE(bad.ok());
  auto g = tool_call_grammar(ToolCallFormat::kHermes, *bad, {ToolChoice::kRequired, ""});
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.error().message.find("multipleOf"), std::string::npos) << g.error().message;
}

// A random-weight model (whose free output is never a call) calls tools in each format when the
// grammar says so: the calls parse, name the function asked for, and their arguments have the
// required keys with values of the declared types.
TEST(Tools, GrammarsMakeARandomModelCallInEachFormat) {
  if (!std::filesystem::exists(kTiny) || !std::filesystem::exists(kStories)) GTEST_SKIP() << "needs ../shared models";
  std::shared_ptr<Model> models[2];
  for (int i = 0; i < 2; ++i) {
    auto m = Model::load(i == 0 ? kTiny : kStories, LoadOptions{.n_threads = 1, .isa = "", .chat_template = "", .repack = true});
    ASSERT_TRUE(m.ok()) << m.error().message;
    models[i] = *m;
  }
  const auto t = tools();
  int calls_seen = 0;
  for (ToolCallFormat f : {ToolCallFormat::kHermes, ToolCallFormat::kLlama3, ToolCallFormat::kMistral,
                           ToolCallFormat::kPhi4}) {
    for (const ToolChoice& choice : {ToolChoice{ToolChoice::kRequired, ""}, ToolChoice{ToolChoice::kFunction, "add"},
                                     ToolChoice{ToolChoice::kFunction, "get_weather"}}) {
      auto g = tool_call_grammar(f, t, choice);
      ASSERT_TRUE(g.ok()) << g.error().message;
      ASSERT_TRUE(check_grammar(*g).ok()) << *g;
      for (uint64_t seed = 1; seed <= 3; ++seed) {
        const std::string what = std::string(tool_call_format_name(f)) + " " +
                                 (choice.function.empty() ? "required" : choice.function) + " seed " +
                                 std::to_string(seed);
        GenerateOptions o;
        o.grammar = *g;
        o.sampling.temperature = 1.0f;
        o.sampling.seed = seed;
        o.num_predict = 120;
        auto session = models[seed % 2]->new_session({});
        ASSERT_TRUE(session.ok());
        std::string out;
        auto st = (*session)->generate("What is the weather?", o, [&](std::string_view s) {
          out += s;
          return true;
        });
        ASSERT_TRUE(st.ok()) << st.error().message;
        const ParsedToolCalls p = parse_tool_calls(out, t);
        ASSERT_FALSE(p.calls.empty()) << what << ": " << out;
        EXPECT_EQ(p.content, "") << what;
        if (choice.kind == ToolChoice::kFunction) {
          ASSERT_EQ(p.calls.size(), 1u) << what;
        }
        for (const ToolCall& c : p.calls) {
          ++calls_seen;
          if (!choice.function.empty()) {
            EXPECT_EQ(c.name, choice.function) << what;
          }
          const json args = json::parse(c.arguments);
          if (c.name == "add") {
            EXPECT_TRUE(args["a"].is_number_integer() && args["b"].is_number_integer()) << what << ": " << out;
          } else if (c.name == "get_weather") {
            EXPECT_TRUE(args["city"].is_string()) << what << ": " << out;
            size_t chars = 0;  // maxLength counts characters, not bytes
            for (char ch : args["city"].get<std::string>()) chars += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
            EXPECT_LE(chars, 12u) << what;
            if (args.contains("unit")) {
              EXPECT_TRUE(args["unit"] == "c" || args["unit"] == "f") << what;
            }
          } else {
            EXPECT_EQ(c.name, "now") << what;
            EXPECT_EQ(args, json::object()) << what;
          }
        }
      }
    }
  }
  EXPECT_GE(calls_seen, 36);
}

}  // namespace
}  // namespace minnow

// GBNF parsing (errors that name the place), the matcher's language (whole sentences vs
// prefixes, UTF-8 split anywhere), and the vocabulary filter against a token-by-token check.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/matcher.h"

namespace minnow::grammar {
namespace {

std::shared_ptr<const Grammar> compile(const std::string& text) {
  auto g = Grammar::parse(text);
  EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().message);
  return g.ok() ? std::make_shared<const Grammar>(std::move(*g)) : nullptr;
}

// Whether text is a whole sentence of the grammar, fed in pieces of `chunk` bytes.
bool sentence(const std::shared_ptr<const Grammar>& g, const std::string& text, size_t chunk = 1 << 30) {
  Matcher m(g);
  for (size_t i = 0; i < text.size(); i += chunk)
    if (!m.accept(std::string_view(text).substr(i, chunk))) return false;
  return m.complete();
}

bool prefix(const std::shared_ptr<const Grammar>& g, const std::string& text) {
  Matcher m(g);
  return m.accept(text);
}

std::string parse_error(const std::string& text) {
  auto g = Grammar::parse(text);
  return g.ok() ? "(parsed)" : g.error().message;
}

TEST(GrammarParse, ErrorsNameTheProblemAndWhere) {
  EXPECT_EQ(parse_error("root = \"a\""), "grammar: line 1, column 6: expected '::=' after 'root'");
  EXPECT_EQ(parse_error("root ::= \"a\"\nx ::= y"), "grammar: line 2, column 7: rule 'y' is used but not defined");
  EXPECT_EQ(parse_error("start ::= \"a\""), "grammar: no 'root' rule (the start rule)");
  EXPECT_EQ(parse_error("root ::= \"abc"), "grammar: line 1, column 14: unterminated string literal");
  EXPECT_EQ(parse_error("root ::= [a-"), "grammar: line 1, column 13: unterminated character class");
  EXPECT_EQ(parse_error("root ::= [z-a]"), "grammar: line 1, column 14: character range is backwards (U+007A-U+0061)");
  EXPECT_EQ(parse_error("root ::= \"\\q\""), "grammar: line 1, column 11: unknown escape '\\q'");
  EXPECT_EQ(parse_error("root ::= (\"a\" | \"b\""), "grammar: line 1, column 20: missing ')'");
  EXPECT_EQ(parse_error("root ::= \"a\")"), "grammar: line 1, column 13: unexpected ')'");
  EXPECT_EQ(parse_error("root ::= \"a\"{3,1}"), "grammar: line 1, column 18: repetition {3,1}: the maximum is below the minimum");
  EXPECT_EQ(parse_error("root ::= \"a\"\nroot ::= \"b\""), "grammar: line 2, column 1: rule 'root' is defined twice");
  EXPECT_EQ(parse_error("root ::= root \"a\" | \"b\""), "grammar: rule 'root' is left-recursive (root -> root)");
  EXPECT_EQ(parse_error("root ::= x\nx ::= y? root | \"z\"\ny ::= \"y\""), "grammar: rule 'root' is left-recursive (root -> x -> root)");
  EXPECT_EQ(parse_error("root ::= \"a\" root"), "grammar: rule 'root' can never finish (every alternative recurses without end)");
  EXPECT_NE(parse_error("root ::= \"a\"{99999}{99999}").find("too large"), std::string::npos);
  EXPECT_NE(parse_error("root ::= \"\\xZZ\"").find("expected 2 hex digits"), std::string::npos);
  EXPECT_NE(parse_error("root ::= \"\\U00110000\"").find("not a Unicode code point"), std::string::npos);
  EXPECT_NE(parse_error("root ::= %").find("unexpected '%'"), std::string::npos);
}

TEST(GrammarMatch, LanguageOfEachElement) {
  struct Case {
    const char* grammar;
    const char* text;
    bool whole;
  };
  const Case cases[] = {
      {R"(root ::= "yes" | "no")", "yes", true},
      {R"(root ::= "yes" | "no")", "no", true},
      {R"(root ::= "yes" | "no")", "ye", false},
      {R"(root ::= "yes" | "no")", "yess", false},
      {R"(root ::= [a-c]+)", "abcabc", true},
      {R"(root ::= [a-c]+)", "", false},
      {R"(root ::= [a-c]*)", "", true},
      {R"(root ::= [a-c]+)", "abd", false},
      {R"(root ::= [^"\\]*)", "plain text, no quotes", true},
      {R"(root ::= [^"\\]*)", "a\"b", false},
      {R"(root ::= "x" .)", "x\xc3\xa9", true},  // . takes one code point, here two bytes
      {R"(root ::= "a"? "b")", "b", true},
      {R"(root ::= "a"? "b")", "ab", true},
      {R"(root ::= "a"? "b")", "aab", false},
      {R"(root ::= [0-9]{3})", "123", true},
      {R"(root ::= [0-9]{3})", "12", false},
      {R"(root ::= [0-9]{3})", "1234", false},
      {R"(root ::= [0-9]{2,})", "12345", true},
      {R"(root ::= [0-9]{2,})", "1", false},
      {R"(root ::= [0-9]{1,3})", "", false},
      {R"(root ::= [0-9]{1,3})", "12", true},
      {R"(root ::= [0-9]{1,3})", "1234", false},
      {R"(root ::= [0-9]{0,2} "x")", "x", true},
      {R"(root ::= ("ab" | "c"){2})", "abc", true},
      {R"(root ::= ("ab" | "c"){2})", "ababab", false},
      {R"(root ::= ("a" "b"?)+)", "aaba", true},
      {R"(root ::= ("a"{2})*)", "aaaa", true},
      {R"(root ::= ("a"{2})*)", "aaa", false},
      {"root ::= list\nlist ::= \"[\" (item (\",\" item)*)? \"]\"\nitem ::= [0-9]+ | list", "[1,[2,[]],33]", true},
      {"root ::= list\nlist ::= \"[\" (item (\",\" item)*)? \"]\"\nitem ::= [0-9]+ | list", "[1,[2,]]", false},
      {R"(root ::= [α-ω]+ "\u00e9" "\x41")", "αβω\xc3\xa9" "A", true},
      {R"(root ::= [α-ω]+)", "αa", false},
      {R"(root ::= "😀" [\U0001F600-\U0001F64F])", "😀😂", true},
      {"# a comment\nroot ::= a b # trailing\na ::= \"1\"\n\nb ::=\n  \"2\"\n  | \"3\"", "13", true},
  };
  for (const Case& c : cases) {
    auto g = compile(c.grammar);
    ASSERT_NE(g, nullptr) << c.grammar;
    EXPECT_EQ(sentence(g, c.text), c.whole) << c.grammar << " on '" << c.text << "'";
    // Fed a byte at a time (UTF-8 split everywhere), the answer is the same.
    EXPECT_EQ(sentence(g, c.text, 1), c.whole) << c.grammar << " on '" << c.text << "', byte by byte";
  }
}

// A JSON grammar written here as users write theirs.
const char* kJson = R"(
root   ::= value
value  ::= object | array | string | number | ("true" | "false" | "null")
object ::= "{" ws ( string ws ":" ws value ws ("," ws string ws ":" ws value ws)* )? "}"
array  ::= "[" ws ( value ws ("," ws value ws)* )? "]"
string ::= "\"" ( [^"\\\x00-\x1f] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4}) )* "\""
number ::= "-"? ("0" | [1-9] [0-9]*) ("." [0-9]+)? ([eE] [-+]? [0-9]+)?
ws     ::= [ \t\n]*
)";

TEST(GrammarMatch, JsonDocumentsAndPrefixes) {
  auto g = compile(kJson);
  ASSERT_NE(g, nullptr);
  for (const char* ok : {R"({"a": [1, -2.5e3, true, null], "b": {"c": "x\"y\u00e9"}})", "[]", "0", "\"\"",
                         R"({ "label" : "spam" })", "[[[[[]]]]]"}) {
    EXPECT_TRUE(sentence(g, ok)) << ok;
  }
  for (const char* bad : {"{", R"({"a" 1})", "01", "[1,]", R"({"a":tru})", "\"\x01\"", "nul", R"("\x")"}) {
    EXPECT_FALSE(sentence(g, bad)) << bad;
  }
  EXPECT_TRUE(prefix(g, R"({"a": [1, 2)"));
  EXPECT_FALSE(prefix(g, R"({"a": ]")"));
  Matcher m(g);
  ASSERT_TRUE(m.accept("[1"));
  EXPECT_FALSE(m.complete());
  EXPECT_TRUE(m.can_continue());
  EXPECT_FALSE(m.accept("}"));  // refused, state unchanged
  ASSERT_TRUE(m.accept("]"));
  EXPECT_TRUE(m.complete());
  EXPECT_FALSE(m.can_continue());
}

TEST(GrammarMatch, PartialUtf8IsKeptOnlyWhenItCanStillMatch) {
  auto g = compile(R"(root ::= "é" | "a")");  // é = C3 A9
  ASSERT_NE(g, nullptr);
  Matcher m(g);
  EXPECT_FALSE(m.accept("\xc4"));  // U+0100..U+013F: no alternative takes one
  EXPECT_TRUE(m.accept("\xc3"));   // U+00C0..U+00FF: é is among them
  EXPECT_FALSE(m.complete());
  EXPECT_FALSE(m.accept("\xa8"));  // è
  EXPECT_TRUE(m.accept("\xa9"));
  EXPECT_TRUE(m.complete());
  Matcher bad(g);
  EXPECT_FALSE(bad.accept("\xa9"));      // a continuation byte first
  EXPECT_FALSE(bad.accept("\xc0\x80"));  // overlong NUL
  // A sequence that could only become a surrogate is refused at its second byte, so that no
  // state waits for a byte that cannot come.
  auto any = compile(R"(root ::= [^a]*)");
  ASSERT_NE(any, nullptr);
  Matcher s(any);
  EXPECT_TRUE(s.accept("\xed"));
  EXPECT_FALSE(s.accept("\xa0"));
  EXPECT_TRUE(s.accept("\x9f\xbf"));  // U+D7FF
  EXPECT_EQ(s.distance(), 0u);
  EXPECT_TRUE(s.accept("\xe2"));
  EXPECT_EQ(s.distance(), 2u);  // the two bytes the character in progress needs
  EXPECT_TRUE(s.accept("\x82"));
  EXPECT_EQ(s.distance(), 1u);
}

TEST(GrammarMatch, DistanceIsTheShortestWayToFinish) {
  auto g = compile("root ::= \"ab\" c\nc ::= \"yz\" | \"x\" | d\nd ::= \"q\" d");
  ASSERT_NE(g, nullptr);
  Matcher m(g);
  EXPECT_EQ(m.distance(), 3u);
  ASSERT_TRUE(m.accept("a"));
  EXPECT_EQ(m.distance(), 2u);
  ASSERT_TRUE(m.accept("b"));
  EXPECT_EQ(m.distance(), 1u);
  Matcher y = m;
  ASSERT_TRUE(y.accept("y"));
  EXPECT_EQ(y.distance(), 1u);
  ASSERT_TRUE(m.accept("q"));  // into d, which never finishes
  EXPECT_EQ(m.distance(), Grammar::kNever);
  auto json = compile(kJson);
  ASSERT_NE(json, nullptr);
  Matcher j(json);
  ASSERT_TRUE(j.accept(R"({"a": [1, {"b": "x)"));
  EXPECT_EQ(j.distance(), 4u);  // "}]}
  ASSERT_TRUE(j.accept(R"("}]})"));
  EXPECT_EQ(j.distance(), 0u);
}

// A toy vocabulary: every printable ASCII character, common multi-character pieces, pieces that
// split a UTF-8 sequence, and a control token that is never text.
std::vector<std::string> toy_pieces() {
  std::vector<std::string> v;
  for (char c = ' '; c <= '~'; ++c) v.emplace_back(1, c);
  for (const char* p : {"{\"", "\":", "\",", "\"}", "true", "false", "null", "12", "3.5", "-1", "e+", " {", "\n",
                        "[\"", "\"]", "\xc3", "\xa9", "\xc3\xa9", "é\"", "ab", "abc", "\\u00", "\\n", "<|end|>"}) {
    v.emplace_back(p);
  }
  return v;
}

TEST(GrammarFilter, MaskEqualsCheckingEachTokenAlongRandomWalks) {
  auto g = compile(kJson);
  ASSERT_NE(g, nullptr);
  const std::vector<std::string> pieces = toy_pieces();
  std::vector<bool> text(pieces.size(), true);
  text.back() = false;  // <|end|>
  auto trie = std::make_shared<const VocabTrie>(pieces, text);
  TokenFilter filter(trie);
  std::mt19937 rng(7);
  int complete_seen = 0;
  for (int walk = 0; walk < 20; ++walk) {
    Matcher m(g);
    for (int step = 0; step < 40; ++step) {
      const std::vector<uint8_t> mask = filter.allowed(m);
      ASSERT_EQ(mask.size(), pieces.size());
      std::vector<int> allowed;
      for (size_t id = 0; id < pieces.size(); ++id) {
        Matcher probe = m;
        const bool expect = text[id] && probe.accept(pieces[id]);
        ASSERT_EQ(mask[id] != 0, expect) << "token '" << pieces[id] << "' after walk " << walk << " step " << step;
        if (expect) allowed.push_back(static_cast<int>(id));
      }
      if (m.complete()) ++complete_seen;
      if (allowed.empty()) break;
      ASSERT_TRUE(m.accept(pieces[allowed[rng() % allowed.size()]]));
    }
  }
  EXPECT_GT(filter.cached_states(), 0u);
  EXPECT_GT(complete_seen, 0);
}

TEST(GrammarFilter, ControlTokensAndEmptyPiecesAreNeverAllowed) {
  auto g = compile(R"(root ::= [^x]*)");
  ASSERT_NE(g, nullptr);
  const std::vector<std::string> pieces = {"a", "", "<s>", "x", "ya"};
  auto trie = std::make_shared<const VocabTrie>(pieces, std::vector<bool>{true, true, false, true, true});
  TokenFilter filter(trie);
  Matcher m(g);
  EXPECT_EQ(filter.allowed(m), (std::vector<uint8_t>{1, 0, 0, 0, 1}));
}

}  // namespace
}  // namespace minnow::grammar

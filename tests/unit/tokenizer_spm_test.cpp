// SPM tokenizer against ../shared: the llama.cpp vocab test sets (ids from Hugging Face),
// stories260K, special-token parsing, decoding (with where each token's text ends) and hostile
// input.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "test_util.h"
#include "tokenizer_cases.h"
#include "tokenizer/tokenizer.h"

namespace minnow {
namespace {

using test::Case;
using test::load_tokenizer;
using test::read_all;
using test::read_cases;
using test::show;

class SpmVocabTest : public ::testing::TestWithParam<const char*> {};

// The expected ids are HF's encode(text, add_special_tokens=False): no BOS, specials as text.
TEST_P(SpmVocabTest, MatchesReferenceIds) {
  const std::string rel = std::string("tokenizer-tests/") + GetParam();
  MINNOW_REQUIRE_SHARED(rel);
  const Tokenizer tok = load_tokenizer(rel);
  EXPECT_EQ(tok.model(), "llama");
  const std::vector<Case> cases = read_cases(rel);
  ASSERT_EQ(cases.size(), 46u);
  test::expect_reference_ids(tok, cases, GetParam());
}

// SPM round trips every valid UTF-8 string: spaces are escaped, never normalized away, and
// decode drops exactly the dummy-prefix space encode added.
TEST_P(SpmVocabTest, RoundTrips) {
  const std::string rel = std::string("tokenizer-tests/") + GetParam();
  MINNOW_REQUIRE_SHARED(rel);
  const Tokenizer tok = load_tokenizer(rel);
  for (const Case& c : read_cases(rel)) {
    EXPECT_EQ(tok.decode(tok.encode(c.text, false, false)), c.text);
    EXPECT_EQ(tok.decode(tok.encode(c.text, true, false)), c.text);
    // Each token's part of the text ends where decoding the tokens up to it ends.
    const std::vector<int32_t> ids = tok.encode(c.text, true, false);
    std::vector<size_t> ends;
    EXPECT_EQ(tok.decode(ids, &ends), c.text);
    ASSERT_EQ(ends.size(), ids.size());
    for (size_t i = 0; i < ids.size(); ++i)
      EXPECT_EQ(ends[i], tok.decode(std::vector<int32_t>(ids.begin(), ids.begin() + i + 1)).size()) << c.text;
  }
}

INSTANTIATE_TEST_SUITE_P(Vocabs, SpmVocabTest,
                         ::testing::Values("ggml-vocab-llama-spm.gguf", "ggml-vocab-phi-3.gguf"));

TEST(TokenizerStories, EncodesPromptWithBos) {
  MINNOW_REQUIRE_SHARED("models/stories260K.gguf");
  const Tokenizer tok = load_tokenizer("models/stories260K.gguf");
  EXPECT_EQ(tok.n_vocab(), 512);
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(tok.eos_id(), 2);
  EXPECT_TRUE(tok.add_bos());
  EXPECT_EQ(tok.encode("Once upon a time", true, false), (std::vector<int32_t>{1, 403, 407, 261, 378}));
  EXPECT_EQ(tok.encode("Once upon a time", false, false), (std::vector<int32_t>{403, 407, 261, 378}));
  EXPECT_EQ(tok.decode({1, 403, 407, 261, 378}), "Once upon a time");
  // BOS writes nothing and the first word's leading space is dropped: "", "Once", " upon", ...
  std::vector<size_t> ends;
  tok.decode({1, 403, 407, 261, 378}, &ends);
  EXPECT_EQ(ends, (std::vector<size_t>{0, 4, 9, 11, 16}));
  EXPECT_TRUE(tok.is_eog(2));
  EXPECT_FALSE(tok.is_eog(1));
}

TEST(TokenizerStories, DecodesReferenceContinuation) {
  MINNOW_REQUIRE_SHARED("reference/stories260K.ref.json");
  MINNOW_REQUIRE_SHARED("models/stories260K.gguf");
  const Tokenizer tok = load_tokenizer("models/stories260K.gguf");
  const auto ref = nlohmann::json::parse(read_all(test::shared_path("reference/stories260K.ref.json")));
  const auto greedy = ref["cases"][0]["greedy"].get<std::vector<int32_t>>();
  const std::string text = tok.decode(greedy);
  EXPECT_EQ(text.rfind(", there was a little girl named Lily", 0), 0u) << text;
  // Streaming the pieces one by one gives the same bytes.
  std::string streamed;
  Utf8Stream stream;
  for (int32_t id : greedy) streamed += stream.push(tok.token_to_piece(id));
  streamed += stream.flush();
  EXPECT_EQ(streamed, text);
}

TEST(TokenizerSpecial, ParsedOnlyWhenAsked) {
  MINNOW_REQUIRE_SHARED("tokenizer-tests/ggml-vocab-llama-spm.gguf");
  const Tokenizer tok = load_tokenizer("tokenizer-tests/ggml-vocab-llama-spm.gguf");
  const std::vector<int32_t> plain = tok.encode("<s>Hello</s>", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 1), 0) << show(plain);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 2), 0) << show(plain);
  EXPECT_EQ(tok.decode(plain), "<s>Hello</s>");
  // Parsed: the text after a special token gets the dummy-prefix space, as in llama.cpp.
  EXPECT_EQ(tok.encode("<s>Hello</s>", false, true), (std::vector<int32_t>{1, 15043, 2}));
  EXPECT_EQ(tok.encode("Hello<s>", true, true), (std::vector<int32_t>{1, 15043, 1}));
  EXPECT_EQ(tok.token_to_piece(1), "");
  EXPECT_EQ(tok.token_to_piece(1, true), "<s>");
  EXPECT_EQ(tok.token_to_piece(0), "<unk>");
  EXPECT_EQ(tok.token_to_piece(15043), " Hello");
  EXPECT_EQ(tok.token_to_piece(13), "\n");  // <0x0A>
  EXPECT_EQ(tok.token_to_piece(-1), "");
  EXPECT_EQ(tok.token_to_piece(32000), "");
  EXPECT_EQ(tok.token_text(15043), "\xE2\x96\x81Hello");
  EXPECT_EQ(tok.token_text(99999), "");
}

TEST(TokenizerSpecial, Phi3EndOfTurn) {
  MINNOW_REQUIRE_SHARED("tokenizer-tests/ggml-vocab-phi-3.gguf");
  const Tokenizer tok = load_tokenizer("tokenizer-tests/ggml-vocab-phi-3.gguf");
  EXPECT_EQ(tok.eos_id(), 32000);
  EXPECT_EQ(tok.eot_id(), 32007);  // <|end|>, named by no key: found by its text
  EXPECT_TRUE(tok.is_eog(32000));
  EXPECT_TRUE(tok.is_eog(32007));
  EXPECT_FALSE(tok.is_eog(32010));  // <|user|>
  EXPECT_FALSE(tok.is_eog(15043));
  // Phi-3's chat markers swallow the newline after them (rstrip, as Hugging Face and
  // llama.cpp tokenize them); the text after a special token gets the dummy-prefix space.
  const std::vector<int32_t> hi = tok.encode("Hi", false, false);
  std::vector<int32_t> want = {1, 32010};
  want.insert(want.end(), hi.begin(), hi.end());
  want.insert(want.end(), {32007, 32001});
  EXPECT_EQ(tok.encode("<|user|>\nHi<|end|>\n<|assistant|>\n", true, true), want);
  // <|endoftext|> keeps what follows.
  EXPECT_EQ(tok.encode("<|endoftext|>\n", false, true), (std::vector<int32_t>{32000, 29871, 13}));
  const std::vector<int32_t> plain = tok.encode("<|user|>\nHi<|end|>", true, false);
  EXPECT_EQ(std::count_if(plain.begin(), plain.end(), [](int32_t id) { return id >= 32000; }), 0);
  // </s> is a user-defined token in Phi-3: a whole piece of the vocabulary either way.
  EXPECT_EQ(tok.token_type(2), TokenType::kUserDefined);
  EXPECT_EQ(tok.encode("a</s>", false, false).back(), 2);
}

// Bytes no vocabulary piece covers: invalid UTF-8, NULs, control bytes. Each must come out
// as byte tokens and decode back to the same bytes.
TEST(TokenizerHostile, AnyBytesEncodeAndRoundTrip) {
  MINNOW_REQUIRE_SHARED("tokenizer-tests/ggml-vocab-llama-spm.gguf");
  const Tokenizer tok = load_tokenizer("tokenizer-tests/ggml-vocab-llama-spm.gguf");
  const std::string weird[] = {
      std::string("a\0b", 3), "\xFF\xFE", "\xC3",       "\xE2\x82",     "\xF0\x9F\x98",
      "\xED\xA0\x80",         "\xC0\xAF", "\x80\x80 x", "\xE0\x80\x80", "<0x41>",
      "\xF4\x90\x80\x80",
  };
  for (const std::string& s : weird) {
    const std::vector<int32_t> ids = tok.encode(s, false, true);
    for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tok.n_vocab());
    EXPECT_EQ(tok.decode(ids), s) << show(ids);
  }
  EXPECT_EQ(tok.encode(std::string("\0", 1), false, false), (std::vector<int32_t>{29871, 3}));
  // The one input SPM cannot round trip: a literal U+2581 is the escaped space, so it decodes
  // as a space (SentencePiece does the same).
  EXPECT_EQ(tok.decode(tok.encode("a\xE2\x96\x81"
                                  "b",
                                  false, false)),
            "a b");
  EXPECT_TRUE(tok.encode("", false, false).empty());
  EXPECT_EQ(tok.encode("", true, false), (std::vector<int32_t>{1}));

  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::string s(rng() % 64, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    const std::vector<int32_t> ids = tok.encode(s, true, round % 2 == 0);
    EXPECT_EQ(tok.decode(ids), s);
  }
}

TEST(TokenizerHostile, LongInputs) {
  MINNOW_REQUIRE_SHARED("tokenizer-tests/ggml-vocab-llama-spm.gguf");
  const Tokenizer tok = load_tokenizer("tokenizer-tests/ggml-vocab-llama-spm.gguf");
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "The quick brown fox <s> jumps over \xF0\x9F\xA6\x99 33 ";
  const std::vector<int32_t> ids = tok.encode(text, true, true);
  EXPECT_GT(ids.size(), 200000u);
  const std::string one_run(1 << 17, 'a');  // no word boundary: one heap over all of it
  EXPECT_EQ(tok.decode(tok.encode(one_run, false, false)), one_run);
}

}  // namespace
}  // namespace minnow

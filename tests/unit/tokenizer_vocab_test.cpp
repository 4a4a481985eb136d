// Vocabulary metadata: defaults, validation errors that name the key, unsupported models,
// end-of-generation detection, and hostile vocabularies that must not crash.
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace minnow {
namespace {

// A toy SPM vocabulary: unk, bos, eos, 256 byte tokens, then pieces.
VocabSpec toy_spec() {
  VocabSpec s;
  s.model = "llama";
  s.tokens = {"<unk>", "<s>", "</s>"};
  std::vector<int32_t> types = {2, 3, 3};
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    s.tokens.push_back(std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">");
    types.push_back(6);
  }
  // Scores favour "ab" over "bc": "abc" must become "ab" + "c".
  const std::vector<std::pair<std::string, float>> pieces = {{"\xE2\x96\x81", -1},
                                                             {"a", -2},
                                                             {"b", -2},
                                                             {"c", -2},
                                                             {"ab", -3},
                                                             {"bc", -4},
                                                             {"\xE2\x96\x81"
                                                              "ab",
                                                              -5},
                                                             {"<|end|>", 0},
                                                             {"<tool>", 0}};
  std::vector<float> scores(s.tokens.size(), 0.0f);
  for (const auto& [text, score] : pieces) {
    s.tokens.push_back(text);
    scores.push_back(score);
    types.push_back(1);
  }
  types[types.size() - 2] = 3;  // <|end|>: control
  types[types.size() - 1] = 4;  // <tool>: user-defined
  s.scores = scores;
  s.token_types = types;
  return s;
}
constexpr int32_t kFirstPiece = 259;  // ▁, a, b, c, ab, bc, ▁ab, <|end|>, <tool>

std::string error_of(VocabSpec spec) {
  auto t = Tokenizer::from_spec(std::move(spec));
  return t.ok() ? std::string("(ok)") : t.error().message;
}

TEST(TokenizerVocab, ToySpmMerges) {
  auto tok = Tokenizer::from_spec(toy_spec());
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  // "▁abc": ▁ab (score -5) vs ab (-3) vs bc (-4): ab first, then ▁+ab -> ▁ab, c stays.
  EXPECT_EQ(tok->encode("abc", false, false), (std::vector<int32_t>{kFirstPiece + 6, kFirstPiece + 3}));
  // "x" is no piece: byte fallback, <0x78> = 3 + 0x78.
  EXPECT_EQ(tok->encode("x", false, false), (std::vector<int32_t>{kFirstPiece, 3 + 0x78}));
  EXPECT_EQ(tok->eot_id(), kFirstPiece + 7);
  EXPECT_TRUE(tok->is_eog(kFirstPiece + 7));
  EXPECT_TRUE(tok->is_eog(2));
  // Control tokens only when parsing specials; user-defined ones always.
  EXPECT_EQ(tok->encode("<|end|>", false, true), (std::vector<int32_t>{kFirstPiece + 7}));
  EXPECT_NE(tok->encode("<|end|>", false, false), (std::vector<int32_t>{kFirstPiece + 7}));
  EXPECT_EQ(tok->encode("<tool>", false, false), (std::vector<int32_t>{kFirstPiece + 8}));
  EXPECT_EQ(tok->decode(tok->encode("x abc", true, false)), "x abc");
}

TEST(TokenizerVocab, DefaultsWithoutOptionalKeys) {
  VocabSpec s;
  s.model = "llama";
  s.tokens = {"<unk>", "<s>", "</s>", "a", "b"};  // no scores, no types: all normal, score 0
  auto tok = Tokenizer::from_spec(s);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  EXPECT_EQ(tok->bos_id(), 1);  // SPM defaults
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_TRUE(tok->add_bos());
  // No byte tokens: the unknown "▁" becomes one unk, not one per byte.
  EXPECT_EQ(tok->encode("ab", true, false), (std::vector<int32_t>{1, 0, 3, 4}));
  s.add_space_prefix = false;
  s.bos_id = 0xFFFFFFFFll;  // "none" as converters write it
  s.eos_id = -1;
  tok = Tokenizer::from_spec(s);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  EXPECT_EQ(tok->bos_id(), -1);
  EXPECT_EQ(tok->eos_id(), -1);
  EXPECT_EQ(tok->encode("ba", true, false), (std::vector<int32_t>{4, 3}));
  EXPECT_EQ(tok->decode({4, 3}), "ba");

  s = VocabSpec{};
  s.model = "llama";
  s.tokens = {"x", "y"};
  tok = Tokenizer::from_spec(s);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  EXPECT_EQ(tok->eos_id(), -1);  // the default 2 is past the vocabulary: none
}

TEST(TokenizerVocab, ValidationErrorsNameTheKey) {
  VocabSpec s = toy_spec();
  s.tokens.clear();
  s.scores.reset();
  s.token_types.reset();
  EXPECT_NE(error_of(s).find("tokenizer.ggml.tokens is empty"), std::string::npos) << error_of(s);

  s = toy_spec();
  s.scores->pop_back();
  EXPECT_NE(error_of(s).find("tokenizer.ggml.scores has"), std::string::npos) << error_of(s);

  s = toy_spec();
  s.token_types->push_back(1);
  EXPECT_NE(error_of(s).find("tokenizer.ggml.token_type has"), std::string::npos) << error_of(s);

  s = toy_spec();
  (*s.token_types)[5] = 42;
  EXPECT_NE(error_of(s).find("tokenizer.ggml.token_type[5] = 42"), std::string::npos) << error_of(s);

  s = toy_spec();
  (*s.scores)[7] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_NE(error_of(s).find("tokenizer.ggml.scores[7] is NaN"), std::string::npos) << error_of(s);

  s = toy_spec();
  s.bos_id = 100000;
  EXPECT_NE(error_of(s).find("tokenizer.ggml.bos_token_id = 100000 is out of range"), std::string::npos)
      << error_of(s);
  s = toy_spec();
  s.eos_id = -5;
  EXPECT_NE(error_of(s).find("tokenizer.ggml.eos_token_id"), std::string::npos) << error_of(s);
  s = toy_spec();
  s.pad_id = 1000000;  // tolerated: padding is never used in generation
  EXPECT_EQ(error_of(s), "(ok)");

  s = toy_spec();
  s.model = "rwkv";
  EXPECT_EQ(error_of(s), "tokenizer: unsupported tokenizer model 'rwkv'");
}

// The same checks through real GGUF bytes, as a model file would carry them.
Result<Tokenizer> from_writer(const gguf::Writer& w, std::vector<uint8_t>* bytes) {
  *bytes = w.to_bytes();
  auto f = gguf::File::parse(*bytes);
  if (!f.ok()) return f.error();
  return Tokenizer::from_gguf(*f);
}

gguf::Writer toy_writer() {
  gguf::Writer w;
  w.set_string("general.architecture", "llama");
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_array_string("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>",
                                               "\xE2\x96\x81"
                                               "hi",
                                               "h", "i",
                                               "\xE2\x96\x81"
                                               "h"});
  w.set_array_f32("tokenizer.ggml.scores", {0, 0, 0, -1, -2, -2, -3});
  w.set_array_i32("tokenizer.ggml.token_type", {2, 3, 3, 1, 1, 1, 1});
  w.set_u32("tokenizer.ggml.bos_token_id", 1);
  w.set_u32("tokenizer.ggml.eos_token_id", 2);
  w.set_u32("tokenizer.ggml.unknown_token_id", 0);
  w.set_u32("tokenizer.ggml.padding_token_id", 0xFFFFFFFFu);
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  return w;
}

TEST(TokenizerVocab, FromGgufBytes) {
  std::vector<uint8_t> bytes;
  auto tok = from_writer(toy_writer(), &bytes);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  EXPECT_EQ(tok->encode("hi", true, false), (std::vector<int32_t>{1, 3}));
  EXPECT_EQ(tok->encode("ih", false, false), (std::vector<int32_t>{0, 5, 4}));  // ▁ -> unk (no bytes)
  EXPECT_EQ(tok->decode({1, 3}), "hi");
}

TEST(TokenizerVocab, BadGgufMetadata) {
  std::vector<uint8_t> bytes;
  {
    gguf::Writer w;
    w.set_string("tokenizer.ggml.model", "llama");
    auto t = from_writer(w, &bytes);
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.error().message.find("tokenizer.ggml.tokens"), std::string::npos) << t.error().message;
  }
  {
    gguf::Writer w = toy_writer();
    w.set_array_f32("tokenizer.ggml.scores", {0, 0, 0});
    auto t = from_writer(w, &bytes);
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.error().message.find("tokenizer.ggml.scores has 3 entries"), std::string::npos)
        << t.error().message;
  }
  {
    gguf::Writer w = toy_writer();
    w.set_u32("tokenizer.ggml.bos_token_id", 7);
    auto t = from_writer(w, &bytes);
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.error().message.find("tokenizer.ggml.bos_token_id = 7 is out of range"), std::string::npos)
        << t.error().message;
  }
  {
    gguf::Writer w = toy_writer();
    w.set_array_i32("tokenizer.ggml.tokens", {1, 2, 3});
    auto t = from_writer(w, &bytes);
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.error().message.find("tokenizer.ggml.tokens"), std::string::npos) << t.error().message;
  }
  {
    gguf::Writer w = toy_writer();
    w.set_array_string("tokenizer.ggml.scores", {"x", "y", "z", "a", "b", "c", "d"});
    auto t = from_writer(w, &bytes);
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.error().message.find("tokenizer.ggml.scores"), std::string::npos) << t.error().message;
  }
  {
    gguf::Writer w = toy_writer();
    w.set_string("tokenizer.ggml.bos_token_id", "one");
    auto t = from_writer(w, &bytes);
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.error().message.find("tokenizer.ggml.bos_token_id"), std::string::npos) << t.error().message;
  }
  {
    gguf::Writer w = toy_writer();
    w.set_string("tokenizer.ggml.model", "t5");
    auto t = from_writer(w, &bytes);
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.error().message, "tokenizer: unsupported tokenizer model 't5'");
  }
  {
    gguf::Writer none;
    none.set_array_string("tokenizer.ggml.tokens", {"a"});
    auto t = from_writer(none, &bytes);
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.error().message.find("tokenizer.ggml.model"), std::string::npos) << t.error().message;
  }
}

// Empty, duplicated and odd entries, one-byte and huge pieces: nothing may crash, and
// whatever comes out is in range.
TEST(TokenizerVocab, WeirdVocabDoesNotCrash) {
  VocabSpec s;
  s.model = "llama";
  s.tokens = {"",       "",      "<s>", "a", "a", std::string(1000, 'a'), "\xFF", std::string("\0", 1),
              "<0xZZ>", "<0x41>"};
  s.token_types = std::vector<int32_t>{3, 4, 3, 1, 1, 1, 1, 5, 6, 0};
  s.scores = std::vector<float>{0, 0, 0, 1, 2, -1e30f, 0, 0, 0, std::numeric_limits<float>::infinity()};
  auto tok = Tokenizer::from_spec(s);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  for (const std::string& text : {std::string("aaaa"), std::string(3000, 'a'), std::string("\xFF\0a<s>", 6),
                                  std::string("<0xZZ><0x41>")}) {
    for (bool special : {false, true}) {
      for (int32_t id : tok->encode(text, true, special)) EXPECT_TRUE(id >= 0 && id < tok->n_vocab());
    }
  }
  for (int32_t id = -2; id < tok->n_vocab() + 2; ++id) {
    (void)tok->token_to_piece(id, true);
    (void)tok->is_eog(id);
  }
  EXPECT_EQ(tok->token_to_piece(8), "<0xZZ>");  // a byte-typed token that names no byte
  EXPECT_EQ(tok->decode({99, -1, 3}), "a");
}

}  // namespace
}  // namespace minnow

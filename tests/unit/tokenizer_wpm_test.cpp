// WordPiece ("bert") tokenizer: the llama.cpp bert-bge vocab test set (ids from Hugging Face),
// special tokens, decoding, cased vocabularies, the Unicode tables and hostile input.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "test_util.h"
#include "tokenizer_cases.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/wpm_unicode.h"

namespace minnow {
namespace {

using test::Case;
using test::load_tokenizer;
using test::read_all;
using test::read_cases;
using test::show;

constexpr const char* kBge = "tokenizer-tests/ggml-vocab-bert-bge.gguf";

// The expected ids are HF's encode(text, add_special_tokens=False): no [CLS]/[SEP], specials
// as text.
TEST(WpmVocab, MatchesReferenceIds) {
  MINNOW_REQUIRE_SHARED(kBge);
  const Tokenizer tok = load_tokenizer(kBge);
  EXPECT_EQ(tok.model(), "bert");
  const std::vector<Case> cases = read_cases(kBge);
  ASSERT_GE(cases.size(), 40u);
  test::expect_reference_ids(tok, cases, "bert-bge");
}

TEST(WpmVocab, SpecialTokensAndDefaults) {
  MINNOW_REQUIRE_SHARED(kBge);
  const Tokenizer tok = load_tokenizer(kBge);
  // The file names [UNK] and [PAD] but neither BOS nor EOS: [CLS] and [SEP] stand in.
  EXPECT_EQ(tok.bos_id(), 101);
  EXPECT_EQ(tok.eos_id(), 102);
  EXPECT_TRUE(tok.add_bos());
  const std::vector<int32_t> hello = tok.encode("Hello world", false, false);
  ASSERT_EQ(hello.size(), 2u);
  std::vector<int32_t> framed = {101, hello[0], hello[1], 102};
  EXPECT_EQ(tok.encode("Hello world", true, false), framed);
  EXPECT_EQ(tok.encode("[CLS]Hello world[SEP]", false, true), framed);
  // As plain text "[CLS]" is the words "[", "cls", "]".
  const std::vector<int32_t> plain = tok.encode("[CLS]", false, false);
  ASSERT_GE(plain.size(), 3u);
  EXPECT_EQ(tok.token_text(plain.front()), "\xE2\x96\x81[");
  EXPECT_EQ(tok.token_text(plain.back()), "\xE2\x96\x81]");
}

TEST(WpmVocab, Decodes) {
  MINNOW_REQUIRE_SHARED(kBge);
  const Tokenizer tok = load_tokenizer(kBge);
  // Pieces are joined at word starts only; normalization (case, accents) does not come back.
  EXPECT_EQ(tok.decode(tok.encode("Äpfel discards", false, false)), "apfel discards");
  EXPECT_EQ(tok.decode(tok.encode("Hello, world!", true, false)), "hello , world !");
  EXPECT_EQ(tok.token_to_piece(101), "");
  EXPECT_EQ(tok.token_to_piece(101, true), "[CLS]");
  EXPECT_EQ(tok.decode({}), "");
}

TEST(WpmVocab, LongWordsAndNormalization) {
  MINNOW_REQUIRE_SHARED(kBge);
  const Tokenizer tok = load_tokenizer(kBge);
  const int32_t unk = 100;
  // Hugging Face's max_input_chars_per_word: 100 characters still split, 101 are unknown.
  EXPECT_NE(tok.encode(std::string(100, 'a'), false, false), std::vector<int32_t>{unk});
  EXPECT_EQ(tok.encode(std::string(101, 'a'), false, false), std::vector<int32_t>{unk});
  // Controls and format characters vanish; \v is a control here, not a space.
  EXPECT_EQ(tok.encode("hel\x01lo", false, false), tok.encode("hello", false, false));
  EXPECT_EQ(tok.encode("hel\vlo", false, false), tok.encode("hello", false, false));
  EXPECT_EQ(tok.encode("hel\xE2\x80\x8Blo", false, false), tok.encode("hello", false, false));  // U+200B
  // Unicode whitespace splits; CJK ideographs are words of their own.
  EXPECT_EQ(tok.encode("hello\xE3\x80\x80world", false, false), tok.encode("hello world", false, false));
  EXPECT_EQ(tok.encode("a\xE6\x88\x91"
                       "b",
                       false, false),
            tok.encode("a \xE6\x88\x91 b", false, false));
  // Accents go after NFD; upper case goes.
  EXPECT_EQ(tok.encode("CAF\xC3\x89", false, false), tok.encode("cafe", false, false));
  EXPECT_EQ(tok.encode("cafe\xCC\x81", false, false), tok.encode("cafe", false, false));
  // ASCII symbols split like punctuation; non-ASCII symbols stay inside the word.
  EXPECT_EQ(tok.encode("a+b", false, false), tok.encode("a + b", false, false));
}

TEST(WpmVocab, HostileInputDoesNotCrash) {
  MINNOW_REQUIRE_SHARED(kBge);
  const Tokenizer tok = load_tokenizer(kBge);
  EXPECT_TRUE(tok.encode("", false, false).empty());
  EXPECT_TRUE(tok.encode("", true, false).size() == 2u);
  // Invalid UTF-8 is dropped like the U+FFFD it decodes to.
  EXPECT_EQ(tok.encode("hel\xFFlo", false, false), tok.encode("hello", false, false));
  EXPECT_EQ(tok.encode("hello\xE2\x96", false, false), tok.encode("hello", false, false));
  EXPECT_EQ(tok.encode(std::string("a\0b", 3), false, false), tok.encode("ab", false, false));
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    std::string s(rng() % 64, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    for (int32_t id : tok.encode(s, true, true)) ASSERT_TRUE(id >= 0 && id < tok.n_vocab());
    (void)tok.decode(tok.encode(s, false, false));
  }
  // A long input is linear: one huge word becomes [UNK] without trying every split.
  const std::string big(1 << 20, 'x');
  EXPECT_EQ(tok.encode(big, false, false), std::vector<int32_t>{100});
  std::string words;
  for (int i = 0; i < 20000; ++i) words += "tokenization ";
  EXPECT_GT(tok.encode(words, false, false).size(), 20000u);
}

// A cased vocabulary keeps case and accents: bert-base-cased style.
TEST(WpmSpec, CasedVocabularyKeepsCase) {
  VocabSpec spec;
  spec.model = "bert";
  spec.tokens = {"[PAD]",
                 "[UNK]",
                 "[CLS]",
                 "[SEP]",
                 "\xE2\x96\x81Hello",
                 "\xE2\x96\x81hello",
                 "\xE2\x96\x81"
                 "caf\xC3\xA9",
                 "\xE2\x96\x81"
                 "cafe",
                 "\xE2\x96\x81!",
                 "s"};
  spec.token_types = std::vector<int32_t>{3, 3, 3, 3, 1, 1, 1, 1, 1, 1};
  auto tok = Tokenizer::from_spec(spec);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  EXPECT_EQ(tok->bos_id(), 2);
  EXPECT_EQ(tok->eos_id(), 3);
  EXPECT_EQ(tok->encode("Hello hello!", false, false), (std::vector<int32_t>{4, 5, 8}));
  EXPECT_EQ(tok->encode("caf\xC3\xA9 Hellos", false, false), (std::vector<int32_t>{6, 4, 9}));
  EXPECT_EQ(tok->encode("HELLO", false, false), (std::vector<int32_t>{1}));
  EXPECT_EQ(tok->decode({2, 4, 9, 8, 3}), "Hellos !");

  // The same pieces lower-cased make an uncased vocabulary.
  spec.tokens[4] = "\xE2\x96\x81xyz";
  auto uncased = Tokenizer::from_spec(spec);
  ASSERT_TRUE(uncased.ok()) << uncased.error().message;
  EXPECT_EQ(uncased->encode("HELLO Caf\xC3\xA9", false, false), (std::vector<int32_t>{5, 7}));
}

TEST(WpmSpec, NoUnknownTokenDropsUnmatchedWords) {
  VocabSpec spec;
  spec.model = "bert";
  spec.tokens = {
      "\xE2\x96\x81"
      "a",
      "b"};
  auto tok = Tokenizer::from_spec(spec);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  EXPECT_EQ(tok->bos_id(), -1);
  EXPECT_EQ(tok->encode("ab c a", true, false), (std::vector<int32_t>{0, 1, 0}));
}

TEST(WpmUnicode, Tables) {
  namespace wu = tok::wpm_unicode;
  char32_t out[wu::kMaxStripped];
  ASSERT_EQ(wu::strip_accents(U'\u00E9', out), 1u);  // é -> e
  EXPECT_EQ(out[0], U'e');
  ASSERT_EQ(wu::strip_accents(U'\u1EC7', out), 1u);  // ệ -> e (two marks)
  EXPECT_EQ(out[0], U'e');
  EXPECT_EQ(wu::strip_accents(U'\u0301', out), 0u);  // a combining mark itself
  ASSERT_EQ(wu::strip_accents(U'\uD55C', out), 3u);  // 한 -> ᄒ ᅡ ᆫ
  EXPECT_EQ(out[0], U'\u1112');
  EXPECT_EQ(out[1], U'\u1161');
  EXPECT_EQ(out[2], U'\u11AB');
  ASSERT_EQ(wu::strip_accents(U'\u0BCA', out), 2u);  // Tamil o: two spacing vowel signs
  ASSERT_EQ(wu::strip_accents(U'x', out), 1u);
  EXPECT_EQ(out[0], U'x');
  EXPECT_EQ(wu::to_lower(U'A'), U'a');
  EXPECT_EQ(wu::to_lower(U'a'), U'a');
  EXPECT_EQ(wu::to_lower(U'\u03A3'), U'\u03C3');  // Σ
  EXPECT_EQ(wu::to_lower(U'\u0410'), U'\u0430');  // А
  EXPECT_EQ(wu::to_lower(U'\u0100'), U'\u0101');  // stride-2 run
  EXPECT_EQ(wu::to_lower(U'\u0101'), U'\u0101');
  EXPECT_EQ(wu::to_lower(U'\U00010400'), U'\U00010428');  // Deseret
  EXPECT_EQ(wu::to_lower(U'\U0010FFFF'), U'\U0010FFFF');
  EXPECT_EQ(wu::char_class(U'!'), wu::CharClass::kPunctuation);
  EXPECT_EQ(wu::char_class(U'$'), wu::CharClass::kOther);  // a symbol (split as ASCII anyway)
  EXPECT_EQ(wu::char_class(U'\u3001'), wu::CharClass::kPunctuation);
  EXPECT_EQ(wu::char_class(U'\t'), wu::CharClass::kOther);
  EXPECT_EQ(wu::char_class(U'\x7F'), wu::CharClass::kControl);
  EXPECT_EQ(wu::char_class(U'\u200D'), wu::CharClass::kControl);  // ZWJ, Cf
  EXPECT_EQ(wu::char_class(U'\uE000'), wu::CharClass::kControl);  // private use
  EXPECT_EQ(wu::char_class(U'\uFE0F'), wu::CharClass::kNonspacingMark);
  EXPECT_EQ(wu::char_class(U'a'), wu::CharClass::kOther);
  EXPECT_EQ(wu::char_class(U'\U0010FFFF'), wu::CharClass::kOther);  // unassigned is kept
  EXPECT_TRUE(wu::is_whitespace(U'\u3000'));
  EXPECT_FALSE(wu::is_whitespace(U'\u200B'));
  EXPECT_TRUE(wu::is_cjk_ideograph(U'\u6211'));
  EXPECT_FALSE(wu::is_cjk_ideograph(U'\u3042'));  // hiragana is not split
}

}  // namespace
}  // namespace minnow

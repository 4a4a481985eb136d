// Byte-level BPE against ../shared/tokenizer-tests (ids from Hugging Face), round trips on
// random Unicode and random bytes, the pre-tokenizer regexes piece by piece, toy vocabularies
// (merge order, defaults, broken merges) and inputs that must neither crash nor go quadratic.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gguf/gguf.h"
#include "test_util.h"
#include "tokenizer_cases.h"
#include "tokenizer/bpe.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace minnow {
namespace {

using test::Case;
using test::load_tokenizer;
using test::read_all;
using test::read_cases;
using test::show;

void append_utf8(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Valid UTF-8 drawn from many scripts (no control characters but \t \n \f \r: Falcon's vocabulary
// lacks most of them, so they cannot round trip there): ASCII and Latin, Greek, Cyrillic, Arabic, Devanagari,
// Thai, Hangul, CJK, kana, combining marks, ZWJ and variation selectors, emoji, unusual
// whitespace and numerals.
std::string random_unicode(std::mt19937& rng, size_t max_chars) {
  static const std::vector<std::pair<char32_t, char32_t>> ranges = {
      {0x20, 0x7E},       {0x09, 0x0A},     {0x0C, 0x0D},       {0xA0, 0xFF},       {0x100, 0x17F},
      {0x370, 0x3FF},     {0x400, 0x4FF},   {0x600, 0x6FF},     {0x900, 0x97F},     {0xE00, 0xE7F},
      {0x1780, 0x17FF},   {0xAC00, 0xD7A3}, {0x4E00, 0x9FFF},   {0x3040, 0x30FF},   {0x300, 0x36F},
      {0x200B, 0x200D},   {0xFE00, 0xFE0F}, {0x1F300, 0x1F6FF}, {0x1F900, 0x1F9FF}, {0x2000, 0x206F},
      {0x3000, 0x3003},   {0x660, 0x669},   {0xB2, 0xBE},       {0xFF01, 0xFF5E},   {0x10400, 0x1044F},
      {0x1D400, 0x1D7FF},
  };
  std::uniform_int_distribution<size_t> n_chars(0, max_chars), pick(0, ranges.size() - 1);
  std::string s;
  for (size_t i = n_chars(rng); i > 0; --i) {
    const auto [lo, hi] = ranges[pick(rng)];
    append_utf8(std::uniform_int_distribution<char32_t>(lo, hi)(rng), s);
  }
  return s;
}

// A BPE model built straight from a vocab file, so the merge paths can be forced.
struct DirectModel {
  tok::Vocab vocab;
  std::unique_ptr<tok::BpeModel> model;
};

std::unique_ptr<DirectModel> load_direct(const std::string& rel, tok::BpeOptions opts) {
  auto file = gguf::File::open(test::shared_path(rel));
  if (!file.ok()) return nullptr;
  auto spec = tok::read_spec(*file);
  if (!spec.ok()) return nullptr;
  tok::apply_bpe_defaults(*spec);
  const std::string pre = spec->pre;
  const auto merges = spec->merges;
  auto vocab = tok::build_vocab(std::move(spec).value());
  if (!vocab.ok()) return nullptr;
  auto d = std::make_unique<DirectModel>();
  d->vocab = std::move(vocab).value();
  auto model = tok::BpeModel::create(d->vocab, pre, merges ? &*merges : nullptr, opts);
  if (!model.ok()) return nullptr;
  d->model = std::move(model).value();
  return d;
}

// The bytes that encode to a token of their own and decode back.
std::vector<char> representable_bytes(const Tokenizer& tok) {
  std::vector<char> out;
  for (int b = 0; b < 256; ++b) {
    const std::string one(1, static_cast<char>(b));
    const std::vector<int32_t> ids = tok.encode(one, false, false);
    if (ids.size() == 1 && tok.token_to_piece(ids[0]) == one) out.push_back(one[0]);
  }
  return out;
}

class BpeVocabTest : public ::testing::TestWithParam<const char*> {
 protected:
  std::string rel() const { return std::string("tokenizer-tests/ggml-vocab-") + GetParam() + ".gguf"; }
};

// HF's encode(text, add_special_tokens=False): no BOS, special-token text as plain text.
TEST_P(BpeVocabTest, MatchesReferenceIds) {
  MINNOW_REQUIRE_SHARED(rel());
  const Tokenizer tok = load_tokenizer(rel());
  EXPECT_EQ(tok.model(), "gpt2");
  const std::vector<Case> cases = read_cases(rel());
  ASSERT_EQ(cases.size(), 46u);
  test::expect_reference_ids(tok, cases, GetParam());
}

TEST_P(BpeVocabTest, RoundTripsReferenceAndRandomText) {
  MINNOW_REQUIRE_SHARED(rel());
  const Tokenizer tok = load_tokenizer(rel());
  for (const Case& c : read_cases(rel())) {
    EXPECT_EQ(tok.decode(tok.encode(c.text, false, false)), c.text);
    EXPECT_EQ(tok.decode(tok.encode(c.text, true, false)), c.text);  // BOS, if any, decodes to ""
  }
  std::mt19937 rng(1234);
  for (int i = 0; i < 300; ++i) {
    const std::string s = random_unicode(rng, 40);
    const std::vector<int32_t> ids = tok.encode(s, false, false);
    ASSERT_EQ(tok.decode(ids), s) << "ids" << show(ids);
    // Piece by piece through the UTF-8 stream: the same text.
    Utf8Stream stream;
    std::string streamed;
    for (int32_t id : ids) streamed += stream.push(tok.token_to_piece(id));
    streamed += stream.flush();
    EXPECT_EQ(streamed, s);
  }
  // Any bytes round trip exactly, invalid UTF-8 included, as long as the vocabulary has their
  // characters: several lack those of bytes UTF-8 never uses (0xC0, 0xC1, 0xF5..0xFF), which
  // are dropped (these vocabularies have no unk to stand for them).
  const std::vector<char> bytes = representable_bytes(tok);
  ASSERT_GE(bytes.size(), 200u);
  std::uniform_int_distribution<size_t> byte(0, bytes.size() - 1);
  std::uniform_int_distribution<int> len(0, 64);
  for (int i = 0; i < 300; ++i) {
    std::string s;
    for (int n = len(rng); n > 0; --n) s += bytes[byte(rng)];
    ASSERT_EQ(tok.decode(tok.encode(s, false, false)), s);
  }
  for (int b = 0; b < 256; ++b) {
    const std::string one(1, static_cast<char>(b));
    const std::string back = tok.decode(tok.encode(one, false, false));
    EXPECT_TRUE(back == one || back.empty()) << b;
  }
}

// The O(n^2) scan and the heap merge the same way, on every reference string and random text.
TEST_P(BpeVocabTest, ScanAndHeapMergesAgree) {
  MINNOW_REQUIRE_SHARED(rel());
  const auto scan = load_direct(rel(), {.max_scan_word = static_cast<size_t>(-1)});
  const auto heap = load_direct(rel(), {.max_scan_word = 0});
  ASSERT_TRUE(scan && heap);
  std::vector<std::string> texts;
  for (const Case& c : read_cases(rel())) texts.push_back(c.text);
  std::mt19937 rng(99);
  for (int i = 0; i < 200; ++i) texts.push_back(random_unicode(rng, 60));
  texts.push_back(std::string(300, 'a') + " " + std::string(200, '9') + std::string(100, ' ') + "zz");
  for (const std::string& t : texts) {
    if (t.empty()) continue;
    std::vector<int32_t> a, b;
    scan->model->encode(t, true, a);
    heap->model->encode(t, true, b);
    ASSERT_EQ(a, b) << "text '" << t << "'";
  }
}

// Long runs that trip naive regexes (quadratic retries) or naive merging must stay fast.
TEST_P(BpeVocabTest, HostileInputStaysLinear) {
  MINNOW_REQUIRE_SHARED(rel());
  const Tokenizer tok = load_tokenizer(rel());
  const size_t n = 1 << 17;
  const std::vector<std::string> texts = {
      std::string(n, ' ') + "\xF0\x9F\x98\x80",  // spaces, then neither letter nor punctuation
      std::string(n, ' ') + "x",
      std::string(n, 'a'),
      std::string(n, '7'),
      std::string(n, '\n') + " ",
      std::string(n, '\x80'),  // invalid UTF-8 throughout
  };
  for (const std::string& t : texts) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<int32_t> ids = tok.encode(t, false, false);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_LT(s, 20.0) << "a " << t.size() << "-byte run starting " << static_cast<int>(t[0]);
    EXPECT_TRUE(tok.decode(ids) == t) << "a " << t.size() << "-byte run starting " << static_cast<int>(t[0]);
  }
}

INSTANTIATE_TEST_SUITE_P(Vocabs, BpeVocabTest,
                         ::testing::Values("llama-bpe", "qwen2", "smollm2", "gpt-2", "deepseek-llm", "falcon",
                                           "starcoder"));

TEST(BpeVocab, DefaultsPerFamily) {
  MINNOW_REQUIRE_SHARED("tokenizer-tests/ggml-vocab-gpt-2.gguf");
  const Tokenizer gpt2 = load_tokenizer("tokenizer-tests/ggml-vocab-gpt-2.gguf");
  EXPECT_FALSE(gpt2.add_bos());  // no key: gpt2 vocabularies add nothing
  EXPECT_EQ(gpt2.bos_id(), 50256);
  EXPECT_EQ(gpt2.encode("Hello", true, false), (std::vector<int32_t>{15496}));
  EXPECT_EQ(gpt2.token_to_piece(15496), "Hello");
  EXPECT_EQ(gpt2.token_to_piece(18435), " Hello");
  EXPECT_EQ(gpt2.decode({18435, 995}), " Hello world");
  EXPECT_TRUE(gpt2.is_eog(50256));

  MINNOW_REQUIRE_SHARED("tokenizer-tests/ggml-vocab-llama-bpe.gguf");
  const Tokenizer llama = load_tokenizer("tokenizer-tests/ggml-vocab-llama-bpe.gguf");
  EXPECT_TRUE(llama.add_bos());
  EXPECT_EQ(llama.encode("Hello", true, false), (std::vector<int32_t>{128000, 9906}));
  EXPECT_EQ(llama.decode({128000, 9906}), "Hello");
}

// One tokenizer, several threads: the regex scratch is per thread, the rest per call.
TEST(BpeVocab, ConcurrentEncodesAgree) {
  MINNOW_REQUIRE_SHARED("tokenizer-tests/ggml-vocab-llama-bpe.gguf");
  const Tokenizer tok = load_tokenizer("tokenizer-tests/ggml-vocab-llama-bpe.gguf");
  std::mt19937 rng(5);
  std::string text;
  for (int i = 0; i < 200; ++i) text += random_unicode(rng, 30) + " the 12345 words' ";
  const std::vector<int32_t> want = tok.encode(text, false, false);
  std::vector<std::vector<int32_t>> got(4);
  std::vector<std::thread> threads;
  for (auto& g : got) {
    threads.emplace_back([&tok, &text, &g] {
      for (int r = 0; r < 5; ++r) g = tok.encode(text, false, false);
    });
  }
  for (std::thread& t : threads) t.join();
  for (const auto& g : got) EXPECT_EQ(g, want);
}

TEST(BpeVocab, SpecialTokensParsedOnlyWhenAsked) {
  MINNOW_REQUIRE_SHARED("tokenizer-tests/ggml-vocab-qwen2.gguf");
  const Tokenizer tok = load_tokenizer("tokenizer-tests/ggml-vocab-qwen2.gguf");
  const std::string text = "<|im_start|>user\nHi<|im_end|>";
  const std::vector<int32_t> parsed = tok.encode(text, false, true);
  ASSERT_GE(parsed.size(), 3u);
  EXPECT_EQ(parsed.front(), 151644);
  EXPECT_EQ(parsed.back(), 151645);
  EXPECT_EQ(tok.decode(parsed), "user\nHi");  // control tokens are not rendered
  const std::vector<int32_t> plain = tok.encode(text, false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 151644), 0) << show(plain);
  EXPECT_EQ(tok.decode(plain), text);
  EXPECT_EQ(tok.token_to_piece(151644, true), "<|im_start|>");
  EXPECT_TRUE(tok.is_eog(151645));
}

// --- pre-tokenizers -----------------------------------------------------------------------

std::vector<std::string> split(std::string_view pre, std::string_view text) {
  auto p = tok::PreTokenizer::create(pre);
  EXPECT_TRUE(p.ok()) << p.error().message;
  if (!p.ok()) return {};
  std::vector<std::string_view> pieces;
  p->split(text, pieces);
  return {pieces.begin(), pieces.end()};
}

using Pieces = std::vector<std::string>;

TEST(PreTokenizer, Gpt2) {
  EXPECT_EQ(split("gpt-2", "Hello world's 12345 ok!!  \n"),
            (Pieces{"Hello", " world", "'s", " 12345", " ok", "!!", "  \n"}));
  // Contractions are case-sensitive; a lone tab before a word is its own piece.
  EXPECT_EQ(split("gpt-2", "I'M\tx"), (Pieces{"I", "'", "M", "\t", "x"}));
  EXPECT_EQ(split("gpt-2", "a   b"), (Pieces{"a", "  ", " b"}));
  // Letters and numbers of any script, by Unicode category.
  EXPECT_EQ(split("gpt-2", "na\xC3\xAFve \xD9\xA3\xD9\xA4 \xE4\xBD\xA0\xE5\xA5\xBD"),
            (Pieces{"na\xC3\xAFve", " \xD9\xA3\xD9\xA4", " \xE4\xBD\xA0\xE5\xA5\xBD"}));
}

TEST(PreTokenizer, Llama3) {
  EXPECT_EQ(split("llama-bpe", "I'M 1234567 hi\n\n  there"),
            (Pieces{"I", "'M", " ", "123", "456", "7", " hi", "\n\n", " ", " there"}));
  EXPECT_EQ(split("llama3", "(hello) x...\n"), (Pieces{"(hello", ")", " x", "...\n"}));
  for (const char* alias : {"llama-v3", "dbrx", "smaug-bpe"}) {
    EXPECT_EQ(split(alias, "abc 1234"), (Pieces{"abc", " ", "123", "4"})) << alias;
  }
}

TEST(PreTokenizer, Qwen2SingleDigits) {
  EXPECT_EQ(split("qwen2", "x 1234"), (Pieces{"x", " ", "1", "2", "3", "4"}));
}

TEST(PreTokenizer, DigitsFirstFamilies) {
  for (const char* pre : {"starcoder", "smollm", "refact", "command-r"}) {
    EXPECT_EQ(split(pre, "ab 123"), (Pieces{"ab", " ", "1", "2", "3"})) << pre;
  }
  // Falcon: punctuation runs, GPT-2's regex, then digit runs cut into threes.
  EXPECT_EQ(split("falcon", "a+b 12345"), (Pieces{"a", "+", "b", " ", "123", "45"}));
}

TEST(PreTokenizer, DeepSeek) {
  // Newlines alone; letters with one leading space; trailing whitespace; digit runs.
  EXPECT_EQ(split("deepseek-llm", "Hi there\n\n123 x  "),
            (Pieces{"Hi", " there", "\n", "\n", "123", " x", "  "}));
  EXPECT_EQ(split("deepseek-coder", "ab 12"), (Pieces{"ab", " ", "1", "2"}));
}

TEST(PreTokenizer, NamesAndErrors) {
  for (const char* pre : {"", "default", "gpt-neox", "mpt", "tekken", "gpt-4o", "deepseek-v3", "bloom"}) {
    EXPECT_TRUE(tok::PreTokenizer::create(pre).ok()) << pre;
  }
  auto bad = tok::PreTokenizer::create("no-such-pre");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("'no-such-pre'"), std::string::npos) << bad.error().message;
  EXPECT_TRUE(tok::pre_traits("llama-bpe").ignore_merges);
  EXPECT_FALSE(tok::pre_traits("qwen2").add_bos);
}

TEST(PreTokenizer, PiecesTileAnyBytes) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255), len(0, 80);
  for (const char* pre :
       {"default", "gpt-2", "llama-bpe", "qwen2", "deepseek-llm", "deepseek-coder", "falcon", "starcoder",
        "tekken", "gpt-4o", "deepseek-v3", "bloom", "viking", "bailingmoe"}) {
    auto p = tok::PreTokenizer::create(pre);
    ASSERT_TRUE(p.ok()) << pre << ": " << p.error().message;
    for (int i = 0; i < 200; ++i) {
      std::string s;
      for (int n = len(rng); n > 0; --n) s += static_cast<char>(i % 2 ? byte(rng) : byte(rng) % 128);
      std::vector<std::string_view> pieces;
      p->split(s, pieces);
      std::string joined;
      for (std::string_view piece : pieces) {
        EXPECT_FALSE(piece.empty());
        joined += piece;
      }
      ASSERT_EQ(joined, s) << pre;
    }
  }
}

// --- toy vocabularies ---------------------------------------------------------------------

// GPT-2's byte-to-unicode character for b (what the vocabulary spells byte b as).
std::string byte_char(int b) {
  const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  int cp = b;
  if (!printable) {
    cp = 256;
    for (int c = 0; c < b; ++c) {
      if (!((c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF))) ++cp;
    }
  }
  std::string s;
  append_utf8(static_cast<char32_t>(cp), s);
  return s;
}

// 256 byte tokens, then the given pieces; merges as given.
VocabSpec toy(std::vector<std::string> pieces, std::vector<std::string> merges, std::string pre = "gpt-2") {
  VocabSpec s;
  s.model = "gpt2";
  s.pre = std::move(pre);
  for (int b = 0; b < 256; ++b) s.tokens.push_back(byte_char(b));
  for (std::string& p : pieces) s.tokens.push_back(std::move(p));
  s.merges = std::move(merges);
  return s;
}

int32_t id_of(const Tokenizer& t, std::string_view text) {
  for (int32_t i = 0; i < t.n_vocab(); ++i) {
    if (t.token_text(i) == text) return i;
  }
  return -1;
}

TEST(BpeToy, MergesByRankThenLeftmost) {
  // "b c" outranks "a b": "abc" -> a + bc, not ab + c.
  auto t = Tokenizer::from_spec(toy({"ab", "bc"}, {"b c", "a b"}));
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->encode("abc", false, false), (std::vector<int32_t>{'a', id_of(*t, "bc")}));
  // Equal pairs merge leftmost first: "aaa" -> aa + a.
  auto u = Tokenizer::from_spec(toy({"aa"}, {"a a"}));
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->encode("aaa", false, false), (std::vector<int32_t>{id_of(*u, "aa"), 'a'}));
  EXPECT_EQ(u->decode(u->encode("aaa", false, false)), "aaa");
  EXPECT_TRUE(u->encode("", false, false).empty());
  EXPECT_FALSE(u->add_bos());
  EXPECT_EQ(u->bos_id(), -1);
  EXPECT_EQ(u->eos_id(), -1);
}

TEST(BpeToy, SpaceAndControlBytes) {
  const std::string g = byte_char(' ');  // "Ġ"
  auto t = Tokenizer::from_spec(toy({g + "a"}, {g + " a"}));
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->encode(" a", false, false), (std::vector<int32_t>{id_of(*t, g + "a")}));
  EXPECT_EQ(t->token_to_piece(id_of(*t, g + "a")), " a");
  const std::string bytes("\x00\x01\x7F\x80\xFF\n", 6);
  EXPECT_EQ(t->decode(t->encode(bytes, false, false)), bytes);
}

TEST(BpeToy, IgnoreMergesTakesWholeTokens) {
  // llama-bpe: a piece that is a token is taken whole even when no merge chain builds it.
  auto t = Tokenizer::from_spec(toy({"ab", "abc"}, {"a b"}, "llama-bpe"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->encode("abc", false, false), (std::vector<int32_t>{id_of(*t, "abc")}));
  EXPECT_TRUE(t->add_bos());  // the Llama 3 family asks for BOS unless the file says otherwise
  auto g = Tokenizer::from_spec(toy({"ab", "abc"}, {"a b"}, "gpt-2"));
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->encode("abc", false, false), (std::vector<int32_t>{id_of(*g, "ab"), 'c'}));
}

TEST(BpeToy, BrokenMerges) {
  VocabSpec s = toy({"ab"}, {"a b"});
  s.merges.reset();
  auto none = Tokenizer::from_spec(s);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("tokenizer.ggml.merges"), std::string::npos) << none.error().message;

  auto malformed = Tokenizer::from_spec(toy({"ab"}, {"a b", "ab"}));
  ASSERT_FALSE(malformed.ok());
  EXPECT_NE(malformed.error().message.find("merges[1]"), std::string::npos) << malformed.error().message;

  // Merges naming unknown tokens, or whose result is no token, never apply.
  auto unknown = Tokenizer::from_spec(toy({"ab"}, {"x\xE2\x82\xAC a", "a q", "b b", "a b"}));
  ASSERT_TRUE(unknown.ok()) << unknown.error().message;
  EXPECT_EQ(unknown->encode("abb", false, false), (std::vector<int32_t>{id_of(*unknown, "ab"), 'b'}));

  auto bad_pre = Tokenizer::from_spec(toy({}, {}, "martian"));
  ASSERT_FALSE(bad_pre.ok());
  EXPECT_NE(bad_pre.error().message.find("martian"), std::string::npos);
}

TEST(BpeToy, MissingByteTokens) {
  // A vocabulary lacking the characters of some bytes: those bytes give unk, or nothing.
  VocabSpec s;
  s.model = "gpt2";
  s.tokens = {"<unk>", "a", "b", "ab"};
  s.merges = std::vector<std::string>{"a b"};
  s.unk_id = 0;
  auto t = Tokenizer::from_spec(s);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->encode("abz", false, false), (std::vector<int32_t>{3, 0}));
  s.unk_id.reset();
  auto u = Tokenizer::from_spec(s);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->encode("zabz\xFF", false, false), (std::vector<int32_t>{3}));
}

TEST(BpeToy, ThroughGgufMetadata) {
  gguf::Writer w;
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", "qwen2");
  const VocabSpec s = toy({"ab"}, {"a b"});
  w.set_array_string("tokenizer.ggml.tokens", s.tokens);
  w.set_array_string("tokenizer.ggml.merges", *s.merges);
  std::vector<uint8_t> bytes = w.to_bytes();
  auto f = gguf::File::parse(bytes);
  ASSERT_TRUE(f.ok()) << f.error().message;
  auto t = Tokenizer::from_gguf(*f);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->encode("ab1", false, false), (std::vector<int32_t>{256, '1'}));

  gguf::Writer bad;
  bad.set_string("tokenizer.ggml.model", "gpt2");
  bad.set_array_string("tokenizer.ggml.tokens", s.tokens);
  bad.set_u32("tokenizer.ggml.merges", 7);
  bytes = bad.to_bytes();
  auto g = gguf::File::parse(bytes);
  ASSERT_TRUE(g.ok());
  auto e = Tokenizer::from_gguf(*g);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("tokenizer.ggml.merges"), std::string::npos) << e.error().message;
}

}  // namespace
}  // namespace minnow

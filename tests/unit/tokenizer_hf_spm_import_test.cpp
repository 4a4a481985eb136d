// SentencePiece-style tokenizer.json import: llama.cpp's Llama 2 and Phi-3 vocabularies written
// back as the tokenizer.json transformers' SpmConverter makes of them (merges generated from the
// pieces and their scores) must import to an SPM vocabulary that tokenizes the reference cases;
// a hand-made Gemma-style file checks ids derived by hand; unsupported steps fail cleanly.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "gguf/gguf.h"
#include "test_util.h"
#include "tokenizer/hf_import.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"
#include "tokenizer_cases.h"

namespace minnow {
namespace {

using Json = nlohmann::json;
using test::Case;
using test::read_cases;
using test::show;

const std::string kSpace = "\xE2\x96\x81";  // U+2581

VocabSpec read_gguf_spec(const std::string& rel) {
  auto file = gguf::File::open(test::shared_path(rel));
  EXPECT_TRUE(file.ok()) << file.error().message;
  auto spec = tok::read_spec(*file);
  EXPECT_TRUE(spec.ok()) << spec.error().message;
  return std::move(spec).value();
}

// The spec through a GGUF and back, as `minnow import-tokenizer` and `minnow convert` store it.
Result<Tokenizer> through_gguf(const VocabSpec& spec, VocabSpec* back = nullptr) {
  gguf::Writer w;
  w.set_string("general.name", "test");
  tok::write_vocab_metadata(spec, w);
  const std::vector<uint8_t> bytes = w.to_bytes();
  auto file = gguf::File::parse(std::span<const uint8_t>(bytes));
  if (!file.ok()) return file.error();
  if (back) {
    auto s = tok::read_spec(*file);
    if (!s.ok()) return s.error();
    *back = std::move(s).value();
  }
  return Tokenizer::from_gguf(*file);
}

// Code points, as Python's len() counts a str.
size_t n_chars(std::string_view s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

// transformers' generate_merges (SpmConverter): for each piece, every split at a character
// boundary into two pieces, those of one piece ordered by the ids of its sides; then all of
// them ordered by the piece's score, longer left side first, longer right side next (a stable
// sort, highest first).
Json spm_converter_merges(const std::vector<std::string>& pieces, const std::vector<float>& scores) {
  std::unordered_map<std::string, size_t> id;
  for (size_t i = 0; i < pieces.size(); ++i) id.emplace(pieces[i], i);
  struct Merge {
    size_t left, right;
    float score;
    size_t left_chars, right_chars;
  };
  std::vector<Merge> merges;
  for (size_t p = 0; p < pieces.size(); ++p) {
    const std::string& piece = pieces[p];
    std::vector<Merge> local;
    for (size_t cut = 1; cut < piece.size(); ++cut) {
      if ((piece[cut] & 0xC0) == 0x80) continue;  // inside a character
      auto l = id.find(piece.substr(0, cut));
      auto r = id.find(piece.substr(cut));
      if (l == id.end() || r == id.end()) continue;
      local.push_back({l->second, r->second, scores[p], n_chars(l->first), n_chars(r->first)});
    }
    std::sort(local.begin(), local.end(), [](const Merge& a, const Merge& b) {
      return std::pair(a.left, a.right) < std::pair(b.left, b.right);
    });
    merges.insert(merges.end(), local.begin(), local.end());
  }
  std::stable_sort(merges.begin(), merges.end(), [](const Merge& a, const Merge& b) {
    return std::tuple(a.score, a.left_chars, a.right_chars) >
           std::tuple(b.score, b.left_chars, b.right_chars);
  });
  Json out = Json::array();
  for (const Merge& m : merges) out.push_back(pieces[m.left] + " " + pieces[m.right]);
  return out;
}

// How the file turns spaces into "▁": Llama 2 / Mistral v0.1 / Phi-3's normalizers, or newer
// Metaspace pre-tokenizers (Mistral v0.3), or the one before tokenizers 0.14.
enum class Style { kPrependNormalizer, kMetaspaceFirst, kMetaspaceLegacy };

struct RefVocab {
  const char* name;
  size_t n_model_pieces;  // the SentencePiece model's pieces: model.vocab, ids from 0
  size_t n_json_tokens;   // with the added tokens after them; the rest is config padding
  const char* eos;
  Style style;
};

Json spm_tokenizer_json(const VocabSpec& ref, const RefVocab& p, const Json& merges) {
  Json vocab = Json::object(), added = Json::array();
  for (size_t id = 0; id < p.n_model_pieces; ++id) vocab[ref.tokens[id]] = id;
  for (size_t id = 0; id < p.n_json_tokens; ++id) {
    const int32_t type = (*ref.token_types)[id];
    if (type == 2 || type == 3 || type == 4)
      added.push_back({{"id", id}, {"content", ref.tokens[id]}, {"special", type != 4}});
  }
  Json j = {{"version", "1.0"},
            {"added_tokens", added},
            {"normalizer", nullptr},
            {"pre_tokenizer", nullptr},
            {"post_processor", Json::parse(R"({"type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}})")},
            {"decoder", Json::parse(R"({"type": "Sequence", "decoders": [
                {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"},
                {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]})")},
            {"model",
             {{"type", "BPE"},
              {"dropout", nullptr},
              {"unk_token", "<unk>"},
              {"continuing_subword_prefix", nullptr},
              {"end_of_word_suffix", nullptr},
              {"fuse_unk", true},
              {"byte_fallback", true},
              {"vocab", vocab},
              {"merges", merges}}}};
  switch (p.style) {
    case Style::kPrependNormalizer:
      j["normalizer"] = Json::parse(R"({"type": "Sequence", "normalizers": [
          {"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]})");
      break;
    case Style::kMetaspaceFirst:
      j["pre_tokenizer"] = Json::parse(
          R"({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false})");
      break;
    case Style::kMetaspaceLegacy:
      j["pre_tokenizer"] =
          Json::parse(R"({"type": "Metaspace", "replacement": "▁", "add_prefix_space": true})");
      break;
  }
  return j;
}

std::string test_name(const RefVocab& p) {
  std::string n = p.name;
  for (char& c : n) c = c == '-' ? '_' : c;
  const char* style[] = {"prepend", "metaspace_first", "metaspace_legacy"};
  return n + "_" + style[static_cast<int>(p.style)];
}

void PrintTo(const RefVocab& p, std::ostream* os) {
  *os << test_name(p);
}

class HfSpmImport : public ::testing::TestWithParam<RefVocab> {};

TEST_P(HfSpmImport, TokenizesReferenceCases) {
  const RefVocab& p = GetParam();
  const std::string rel = std::string("tokenizer-tests/ggml-vocab-") + p.name + ".gguf";
  MINNOW_REQUIRE_SHARED(rel);
  const VocabSpec ref = read_gguf_spec(rel);
  ASSERT_TRUE(ref.scores && ref.token_types);
  ASSERT_GE(ref.tokens.size(), p.n_json_tokens);
  const std::vector<std::string> pieces(ref.tokens.begin(), ref.tokens.begin() + p.n_model_pieces);
  const std::vector<float> piece_scores(ref.scores->begin(), ref.scores->begin() + p.n_model_pieces);
  const Json merges = spm_converter_merges(pieces, piece_scores);
  ASSERT_GT(merges.size(), 30000u);  // about two per multi-character piece
  const Json j = spm_tokenizer_json(ref, p, merges);
  Json cfg = {{"bos_token", "<s>"},
              {"eos_token", p.eos},
              {"unk_token", "<unk>"},
              {"add_bos_token", true},
              {"add_eos_token", false}};
  if (ref.pad_id) cfg["pad_token"] = ref.tokens[static_cast<size_t>(*ref.pad_id)];
  if (ref.tokens.size() > p.n_json_tokens) cfg["vocab_size"] = ref.tokens.size();

  auto spec = tok::import_hf_tokenizer(j.dump(), cfg.dump());
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ(spec->model, "llama");
  EXPECT_EQ(spec->pre, "default");
  EXPECT_EQ(spec->add_space_prefix, true);
  EXPECT_FALSE(spec->merges);  // SPM keeps the merge order in the scores
  ASSERT_TRUE(spec->scores && spec->token_types);
  EXPECT_TRUE(spec->tokens == ref.tokens);
  ASSERT_EQ(spec->token_types->size(), ref.tokens.size());
  for (size_t id = 0; id < ref.tokens.size(); ++id) {
    // Ours: <unk> is SentencePiece's unknown piece (llama.cpp's Phi-3 file calls it control),
    // padding is unused (llama.cpp's Phi-3 file: unknown). Everything else as llama.cpp has it.
    const int32_t want = id == 0 ? 2 : id >= p.n_json_tokens ? 5 : (*ref.token_types)[id];
    EXPECT_EQ((*spec->token_types)[id], want) << "token " << id << " '" << ref.tokens[id] << "'";
  }
  EXPECT_EQ(spec->bos_id, ref.bos_id);
  EXPECT_EQ(spec->eos_id, ref.eos_id);
  EXPECT_EQ(spec->unk_id, ref.unk_id);
  EXPECT_EQ(spec->pad_id, ref.pad_id);
  EXPECT_EQ(spec->add_bos, ref.add_bos);
  EXPECT_EQ(spec->add_eos, ref.add_eos);

  VocabSpec back;
  auto tok = through_gguf(*spec, &back);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  EXPECT_EQ(back.add_space_prefix, true);
  EXPECT_TRUE(back.scores == spec->scores);
  const std::vector<Case> cases = read_cases(rel);
  ASSERT_EQ(cases.size(), 46u);
  test::expect_reference_ids(*tok, cases, std::string("imported ") + p.name);
  for (const Case& c : cases) EXPECT_EQ(tok->decode(tok->encode(c.text, true, false)), c.text);
  EXPECT_EQ(tok->encode("Hello", true, false).front(), 1);
}

INSTANTIATE_TEST_SUITE_P(
    Vocabs, HfSpmImport,
    ::testing::Values(RefVocab{"llama-spm", 32000, 32000, "</s>", Style::kPrependNormalizer},
                      RefVocab{"llama-spm", 32000, 32000, "</s>", Style::kMetaspaceFirst},
                      RefVocab{"llama-spm", 32000, 32000, "</s>", Style::kMetaspaceLegacy},
                      RefVocab{"phi-3", 32000, 32011, "<|endoftext|>", Style::kPrependNormalizer}),
    [](const ::testing::TestParamInfo<RefVocab>& i) { return test_name(i.param); });

// Gemma's shape: spaces replaced by "▁" with none in front, a Split on " " left with nothing to
// do, "\t" standing in for <0x09>, byte fallback for a few bytes, merges as pairs. "bc" merges
// before "ab" though its id is higher, and every split of "▁ab" into two pieces is a merge, as
// SpmConverter writes them.
Json gemma_style() {
  return Json::parse(R"({
    "version": "1.0",
    "added_tokens": [
      {"id": 0, "content": "<pad>", "special": true}, {"id": 1, "content": "<eos>", "special": true},
      {"id": 2, "content": "<bos>", "special": true}, {"id": 3, "content": "<unk>", "special": true},
      {"id": 18, "content": "<start_of_turn>", "special": true},
      {"id": 19, "content": "<end_of_turn>", "special": true}
    ],
    "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
    "pre_tokenizer": {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious", "invert": false},
    "post_processor": {"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
      "special_tokens": {"<bos>": {"id": "<bos>", "ids": [2], "tokens": ["<bos>"]}}},
    "decoder": {"type": "Sequence", "decoders": [
      {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"}]},
    "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "continuing_subword_prefix": null,
      "end_of_word_suffix": null, "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
      "vocab": {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "<0x0A>": 4, "<0x21>": 5, "<0xC3>": 6,
                "<0xA9>": 7, "\t": 8, "▁": 9, "a": 10, "b": 11, "c": 12, "ab": 13, "bc": 14, "▁a": 15,
                "▁ab": 16, "▁▁": 17},
      "merges": [["b", "c"], ["a", "b"], ["▁", "a"], ["▁", "ab"], ["▁a", "b"], ["▁", "▁"]]}
  })");
}

constexpr const char* kGemmaConfig =
    R"({"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>",
        "add_bos_token": true, "add_eos_token": false})";

TEST(HfSpmImportGemma, HandDerivedIds) {
  auto spec = tok::import_hf_tokenizer(gemma_style().dump(), kGemmaConfig);
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ(spec->model, "llama");
  EXPECT_EQ(spec->add_space_prefix, false);
  EXPECT_EQ(*spec->token_types,
            (std::vector<int32_t>{3, 3, 3, 2, 6, 6, 6, 6, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3}));
  EXPECT_EQ(spec->bos_id, 2);
  EXPECT_EQ(spec->eos_id, 1);
  EXPECT_EQ(spec->unk_id, 3);
  EXPECT_EQ(spec->pad_id, 0);
  EXPECT_EQ(spec->add_bos, true);
  // Merge order as scores: bc, ab, ▁a, ▁ab, ▁▁, then every piece no merge makes.
  const std::vector<float>& sc = *spec->scores;
  EXPECT_GT(sc[14], sc[13]);
  EXPECT_GT(sc[13], sc[15]);
  EXPECT_GT(sc[15], sc[16]);
  EXPECT_GT(sc[16], sc[17]);
  EXPECT_GT(sc[17], sc[10]);

  VocabSpec back;
  auto tok = through_gguf(*spec, &back);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  EXPECT_EQ(back.add_space_prefix, false);
  struct Want {
    const char* text;
    std::vector<int32_t> ids;
  };
  const std::vector<Want> cases = {
      {"abc", {10, 14}},              // b+c ranks first, then "abc" is no piece: a|bc, not ab|c
      {" ab", {16}},                  // no "▁" in front; a+b, then ▁+ab
      {" abc", {15, 14}},             // b+c, then ▁+a
      {"ab abc", {13, 15, 14}},       // b+c in "abc", a+b in "ab", ▁+a
      {"  a", {9, 15}},               // ▁+a ranks before ▁+▁
      {"  ", {17}},                   //
      {"a\tb", {10, 8, 11}},          // the "\t" piece
      {"\xC3\xA9!\n", {6, 7, 5, 4}},  // é, ! and newline by their bytes
      {"x", {3}},                     // no piece and no byte token: unknown
  };
  for (const Want& w : cases) {
    EXPECT_EQ(tok->encode(w.text, false, false), w.ids) << "'" << w.text << "'";
    if (w.text != std::string("x")) {
      EXPECT_EQ(tok->decode(tok->encode(w.text, true, false)), w.text);
    }
  }
  EXPECT_EQ(tok->encode("ab", true, false), (std::vector<int32_t>{2, 13}));
  // No "▁" after a special token either.
  EXPECT_EQ(tok->encode("<start_of_turn>ab\n<end_of_turn>", false, true),
            (std::vector<int32_t>{18, 13, 4, 19}));
  const std::vector<int32_t> plain = tok->encode("<start_of_turn>ab", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 18), 0) << show(plain);
  EXPECT_TRUE(tok->is_eog(1));
  EXPECT_TRUE(tok->is_eog(19));
}

// Without a config the files name no eos: none, not SPM's default id 2 (Gemma's <bos>).
TEST(HfSpmImportGemma, UnnamedIdsAreNone) {
  auto spec = tok::import_hf_tokenizer(gemma_style().dump(), "");
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ(spec->bos_id, 2);  // from the post_processor
  EXPECT_EQ(spec->eos_id, -1);
  EXPECT_EQ(spec->unk_id, 3);  // model.unk_token
  auto tok = through_gguf(*spec);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  EXPECT_EQ(tok->eos_id(), -1);
  EXPECT_EQ(tok->bos_id(), 2);
}

TEST(HfSpmImport, MalformedOrUnsupported) {
  struct Bad {
    const char* what;
    const char* pointer;
    Json value;
    const char* expect;
  };
  const Json prepend_x = Json::parse(R"({"type": "Prepend", "prepend": "x"})");
  const std::vector<Bad> cases = {
      {"unigram", "/model/type", "Unigram", "Unigram is not supported yet"},
      {"nfkc", "/normalizer", Json::parse(R"({"type": "NFKC"})"), "normalizer NFKC"},
      {"nfkc in sequence", "/normalizer",
       Json::parse(R"({"type": "Sequence", "normalizers": [{"type": "Replace", "pattern": {"String": " "},
                       "content": "▁"}, {"type": "NFKC"}]})"),
       "normalizer NFKC"},
      {"sequence no list", "/normalizer", Json::parse(R"({"type": "Sequence"})"), "without a list"},
      {"sequence deep", "/normalizer",
       Json::parse(
           R"({"type": "Sequence", "normalizers": [{"type": "Sequence", "normalizers": [{"type": "Sequence",
         "normalizers": [{"type": "Sequence", "normalizers": [{"type": "Sequence", "normalizers": []}]}]}]}]})"),
       "nested too deep"},
      {"normalizer number", "/normalizer", 5, "normalizer 5"},
      {"replace tab", "/normalizer/pattern/String", "\t", "Replace"},
      {"replace regex", "/normalizer/pattern", Json::parse(R"({"Regex": " "})"), "Replace"},
      {"prepend x", "/normalizer", prepend_x, "Prepend 'x'"},
      {"whitespace pre", "/pre_tokenizer", Json::parse(R"({"type": "Whitespace"})"),
       "pre_tokenizer Whitespace"},
      {"metaspace underscore", "/pre_tokenizer", Json::parse(R"({"type": "Metaspace", "replacement": "_"})"),
       "replacement '_'"},
      {"metaspace scheme", "/pre_tokenizer",
       Json::parse(R"({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "sometimes"})"),
       "prepend_scheme"},
      {"no space escaping", "/normalizer", nullptr, "Split"},
      {"subword prefix", "/model/continuing_subword_prefix", "##", "continuing_subword_prefix"},
      {"ignore merges", "/model/ignore_merges", true, "ignore_merges"},
      {"merge unknown", "/model/merges/0", Json::array({"c", "a"}), "'ca', which is not a token"},
      {"merge missing side", "/model/merges/0", Json::array({"z", "a"}), "'z', which is not a token"},
      {"vocab gap", "/model/vocab/c", 40, "out of range"},
  };
  for (const Bad& b : cases) {
    Json j = gemma_style();
    j[Json::json_pointer(b.pointer)] = b.value;
    auto spec = tok::import_hf_tokenizer(j.dump(), kGemmaConfig);
    ASSERT_FALSE(spec.ok()) << b.what;
    EXPECT_NE(spec.error().message.find(b.expect), std::string::npos)
        << b.what << ": " << spec.error().message;
  }
  // Neither a Replace nor a Metaspace: spaces would stay spaces.
  Json j = gemma_style();
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = nullptr;
  auto spec = tok::import_hf_tokenizer(j.dump(), kGemmaConfig);
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.error().message.find("neither"), std::string::npos) << spec.error().message;
}

}  // namespace
}  // namespace minnow

// Hugging Face tokenizer.json import: SmolLM2's against llama.cpp's GGUF of it, the GGUF written
// from the import tokenizing the reference cases, pre-tokenizer recognition, special ids from
// the configs, WordPiece via bge's vocabulary, the public file API, and malformed input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "minnow/tokenizer_import.h"
#include "test_util.h"
#include "tokenizer_cases.h"
#include "tokenizer/hf_import.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace minnow {
namespace {

using test::Case;
using test::read_all;
using test::read_cases;
using test::show;

using Json = nlohmann::json;
constexpr const char* kSmolJson = "models/smollm2-135m-instruct/tokenizer.json";
constexpr const char* kSmolConfig = "models/smollm2-135m-instruct/config.json";
constexpr const char* kSmolGguf = "tokenizer-tests/ggml-vocab-smollm2.gguf";
constexpr const char* kBgeGguf = "tokenizer-tests/ggml-vocab-bert-bge.gguf";

VocabSpec read_gguf_spec(const std::string& rel) {
  auto file = gguf::File::open(test::shared_path(rel));
  EXPECT_TRUE(file.ok()) << file.error().message;
  auto spec = tok::read_spec(*file);
  EXPECT_TRUE(spec.ok()) << spec.error().message;
  return std::move(spec).value();
}

// The spec through a GGUF and back: write_vocab_metadata, the writer's bytes, the reader.
Result<Tokenizer> through_gguf(const VocabSpec& spec, std::vector<uint8_t>& bytes,
                               VocabSpec* back = nullptr) {
  gguf::Writer w;
  w.set_string("general.name", "test");
  tok::write_vocab_metadata(spec, w);
  bytes = w.to_bytes();
  auto file = gguf::File::parse(std::span<const uint8_t>(bytes));
  if (!file.ok()) return file.error();
  if (back) {
    auto s = tok::read_spec(*file);
    if (!s.ok()) return s.error();
    *back = std::move(s).value();
  }
  return Tokenizer::from_gguf(*file);
}

Result<VocabSpec> import_smol() {
  return tok::import_hf_tokenizer(read_all(test::shared_path(kSmolJson)),
                                  read_all(test::shared_path(kSmolConfig)));
}

TEST(HfImportSmolLM2, MatchesLlamaCppGguf) {
  MINNOW_REQUIRE_SHARED(kSmolJson);
  MINNOW_REQUIRE_SHARED(kSmolGguf);
  auto spec = import_smol();
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  const VocabSpec ref = read_gguf_spec(kSmolGguf);
  EXPECT_EQ(spec->model, "gpt2");
  EXPECT_EQ(spec->pre, "smollm");
  EXPECT_EQ(spec->pre, ref.pre);
  ASSERT_EQ(spec->tokens.size(), 49152u);
  EXPECT_TRUE(spec->tokens == ref.tokens);
  ASSERT_TRUE(spec->merges && ref.merges);
  EXPECT_EQ(spec->merges->size(), 48900u);
  EXPECT_TRUE(*spec->merges == *ref.merges);
  ASSERT_TRUE(spec->token_types && ref.token_types);
  EXPECT_TRUE(*spec->token_types == *ref.token_types);  // 17 control tokens, the rest normal
  EXPECT_EQ((*spec->token_types)[0], 3);
  EXPECT_EQ((*spec->token_types)[16], 3);
  EXPECT_EQ(spec->bos_id, ref.bos_id);
  EXPECT_EQ(spec->eos_id, ref.eos_id);
  EXPECT_EQ(spec->pad_id, ref.pad_id);
  EXPECT_EQ(spec->add_bos, ref.add_bos);  // no post_processor: nothing added
  EXPECT_EQ(spec->add_space_prefix, ref.add_space_prefix);
}

TEST(HfImportSmolLM2, WrittenGgufTokenizesReferenceCases) {
  MINNOW_REQUIRE_SHARED(kSmolJson);
  MINNOW_REQUIRE_SHARED(kSmolGguf);
  auto spec = import_smol();
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  std::vector<uint8_t> bytes;
  VocabSpec back;
  auto tok = through_gguf(*spec, bytes, &back);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  EXPECT_TRUE(back.tokens == spec->tokens);
  EXPECT_TRUE(back.merges == spec->merges);
  EXPECT_TRUE(back.token_types == spec->token_types);
  EXPECT_EQ(back.pre, "smollm");
  EXPECT_EQ(back.bos_id, spec->bos_id);
  EXPECT_EQ(back.eos_id, spec->eos_id);
  EXPECT_EQ(back.add_bos, spec->add_bos);
  EXPECT_EQ(tok->model(), "gpt2");
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  int pass = 0;
  const std::vector<Case> cases = read_cases(kSmolGguf);
  ASSERT_GE(cases.size(), 40u);
  for (const Case& c : cases) {
    const std::vector<int32_t> got = tok->encode(c.text, false, false);
    if (got == c.ids) {
      ++pass;
    } else {
      ADD_FAILURE() << "text '" << c.text << "'";
    }
  }
  EXPECT_EQ(pass, static_cast<int>(cases.size()));
  std::printf("imported smollm2: %d/%zu strings match\n", pass, cases.size());
}

// A small byte-level BPE tokenizer.json to vary: "a", "b", "ab" and specials added beyond them.
Json tiny_bpe() {
  return Json::parse(R"({
    "version": "1.0",
    "added_tokens": [
      {"id": 3, "content": "<|begin|>", "special": true},
      {"id": 4, "content": "<|end|>", "special": true},
      {"id": 5, "content": "<think>", "special": false}
    ],
    "normalizer": null,
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
    "post_processor": {"type": "ByteLevel"},
    "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}
  })");
}

Result<VocabSpec> import(const Json& tj, const std::string& cfg = "", const tok::HfImportOptions& o = {}) {
  return tok::import_hf_tokenizer(tj.dump(), cfg, o);
}

TEST(HfImport, TinyBpe) {
  auto spec = import(tiny_bpe());
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ(spec->model, "gpt2");
  EXPECT_EQ(spec->pre, "gpt-2");
  EXPECT_EQ(spec->tokens, (std::vector<std::string>{"a", "b", "ab", "<|begin|>", "<|end|>", "<think>"}));
  EXPECT_EQ(*spec->token_types, (std::vector<int32_t>{1, 1, 1, 3, 3, 4}));
  EXPECT_EQ(*spec->merges, (std::vector<std::string>{"a b"}));
  EXPECT_FALSE(spec->bos_id);
  EXPECT_EQ(spec->add_bos, false);
  EXPECT_EQ(spec->add_eos, false);

  // The newer merges spelling.
  Json j = tiny_bpe();
  j["model"]["merges"] = Json::parse(R"([["a", "b"]])");
  spec = import(j);
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ(*spec->merges, (std::vector<std::string>{"a b"}));

  // A non-special added token that looks like a chat marker is a control token anyway.
  j["added_tokens"][1]["special"] = false;
  spec = import(j);
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ((*spec->token_types)[4], 3);
}

TEST(HfImport, RecognizesPreTokenizers) {
  const std::string llama3 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  const std::string qwen2 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  auto split_then_bytes = [](const std::string& re) {
    Json p = {
        {"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"}, {"pattern", {{"Regex", re}}}, {"behavior", "Isolated"}, {"invert", false}},
          {{"type", "ByteLevel"},
           {"add_prefix_space", false},
           {"trim_offsets", true},
           {"use_regex", false}}}}};
    return p;
  };
  struct PreCase {
    Json pre;
    std::string want;
  };
  const Json smol = Json::parse(R"({"type": "Sequence", "pretokenizers": [
      {"type": "Digits", "individual_digits": true},
      {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}]})");
  for (const PreCase& c :
       {PreCase{split_then_bytes(llama3), "llama-bpe"}, PreCase{split_then_bytes(qwen2), "qwen2"},
        PreCase{smol, "smollm"}, PreCase{tiny_bpe()["pre_tokenizer"], "gpt-2"}}) {
    Json j = tiny_bpe();
    j["pre_tokenizer"] = c.pre;
    auto spec = import(j);
    ASSERT_TRUE(spec.ok()) << spec.error().message;
    EXPECT_EQ(spec->pre, c.want);
  }

  // An unknown one names itself; an explicit name imports it anyway.
  Json j = tiny_bpe();
  j["pre_tokenizer"] = split_then_bytes("\\p{L}+");
  auto spec = import(j);
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.error().message.find("Split(regex '\\p{L}+', Isolated) + ByteLevel"), std::string::npos)
      << spec.error().message;
  spec = import(j, "", {.pre = "llama-bpe"});
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ(spec->pre, "llama-bpe");
  j["pre_tokenizer"] = tiny_bpe()["pre_tokenizer"];
  j["pre_tokenizer"]["add_prefix_space"] = true;
  EXPECT_FALSE(import(j).ok());
}

TEST(HfImport, SpecialIdsFromConfigsAndPostProcessor) {
  Json j = tiny_bpe();
  // Llama 3's shape: BOS added by a TemplateProcessing post-processor.
  j["post_processor"] = Json::parse(R"({"type": "Sequence", "processors": [
      {"type": "ByteLevel"},
      {"type": "TemplateProcessing",
       "single": [{"SpecialToken": {"id": "<|begin|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
       "special_tokens": {"<|begin|>": {"id": "<|begin|>", "ids": [3], "tokens": ["<|begin|>"]}}}]})");
  auto spec = import(j);
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ(spec->bos_id, 3);
  EXPECT_FALSE(spec->eos_id);
  EXPECT_EQ(spec->add_bos, true);
  EXPECT_EQ(spec->add_eos, false);

  // tokenizer_config.json: names (plain or AddedToken objects) and flags win.
  spec = import(j, R"({"bos_token": {"__type": "AddedToken", "content": "<|end|>"}, "eos_token": "<|end|>",
                       "add_bos_token": false, "pad_token": "<nope>"})");
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ(spec->bos_id, 4);
  EXPECT_EQ(spec->eos_id, 4);
  EXPECT_FALSE(spec->pad_id);  // a pad that is not a token is skipped
  EXPECT_EQ(spec->add_bos, false);

  // config.json: ids, an EOS list, and spare embedding rows.
  spec = import(j, R"({"bos_token_id": 3, "eos_token_id": [4, 3], "pad_token_id": 4, "vocab_size": 8})");
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ(spec->eos_id, 4);
  EXPECT_EQ(spec->pad_id, 4);
  ASSERT_EQ(spec->tokens.size(), 8u);
  EXPECT_EQ(spec->tokens[7], "[PAD7]");
  EXPECT_EQ((*spec->token_types)[6], 5);

  // BERT's post-processor.
  j["post_processor"] =
      Json::parse(R"({"type": "BertProcessing", "sep": ["<|end|>", 4], "cls": ["<|begin|>", 3]})");
  spec = import(j);
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ(spec->bos_id, 3);
  EXPECT_EQ(spec->eos_id, 4);
  EXPECT_EQ(spec->add_bos, true);
  EXPECT_EQ(spec->add_eos, true);

  std::vector<uint8_t> bytes;
  VocabSpec back;
  auto tok = through_gguf(*spec, bytes, &back);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  EXPECT_EQ(back.bos_id, 3);
  EXPECT_EQ(back.add_eos, true);
  EXPECT_EQ(tok->encode("ab", true, false), (std::vector<int32_t>{3, 2, 4}));
}

TEST(HfImport, ChatTemplate) {
  auto t = tok::hf_chat_template(R"({"chat_template": "{{ x }}"})");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->value_or(""), "{{ x }}");
  t = tok::hf_chat_template(
      R"({"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]})");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->value_or(""), "D");
  t = tok::hf_chat_template(R"({"bos_token": "<s>"})");
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->has_value());
  EXPECT_FALSE(tok::hf_chat_template(R"({"chat_template": 5})").ok());
  EXPECT_FALSE(tok::hf_chat_template("{").ok());
}

// Malformed input: each is a clean error whose message contains the given text.
TEST(HfImport, MalformedInputs) {
  struct Bad {
    const char* what;
    std::string tokenizer_json;
    std::string config;
    const char* expect;
  };
  auto with = [](const char* pointer, const Json& v) {
    Json j = tiny_bpe();
    j[Json::json_pointer(pointer)] = v;
    return j.dump();
  };
  Json word_bpe = tiny_bpe();  // BPE with no byte-level step, but no SentencePiece "▁" either
  word_bpe["pre_tokenizer"] = Json::parse(R"({"type": "Whitespace"})");
  word_bpe["decoder"] = Json::parse(R"({"type": "BPEDecoder"})");
  const std::vector<Bad> cases = {
      {"empty", "", "", "tokenizer.json"},
      {"not json", "{\"model\": ", "", "tokenizer.json"},
      {"invalid utf-8", "{\"model\": \"\xFF\"}", "", "tokenizer.json"},
      {"array", "[]", "", "not a JSON object"},
      {"deep nesting", std::string(100000, '['), "", "nested deeper"},
      {"no model", "{}", "", "no model"},
      {"unigram", with("/model/type", "Unigram"), "", "not supported yet"},
      {"wordlevel", with("/model/type", "WordLevel"), "", "not supported yet"},
      {"model type number", with("/model/type", 7), "", "not supported yet"},
      {"whitespace bpe", word_bpe.dump(), "", "pre_tokenizer Whitespace is not one minnow reproduces"},
      {"vocab not object", with("/model/vocab", Json::array()), "", "model.vocab is not an object"},
      {"empty vocab", with("/model/vocab", Json::object()), "", "gap"},
      {"string id", with("/model/vocab/b", "1"), "", "not an integer"},
      {"float id", with("/model/vocab/b", 1.5), "", "not an integer"},
      {"negative id", with("/model/vocab/b", -1), "", "out of range"},
      {"huge id", with("/model/vocab/b", 1ull << 62), "", "out of range"},
      {"duplicate id", with("/model/vocab/b", 0), "", "id 0 is both"},
      {"gap", with("/model/vocab/ab", 5), "", "no token has id 2"},
      {"added dup", with("/added_tokens/1/id", 3), "", "id 3 is both"},
      {"added no content", with("/added_tokens/0/content", 3), "", "added_tokens[0]"},
      {"added not array", with("/added_tokens", Json::object()), "", "added_tokens is not an array"},
      {"merges not array", with("/model/merges", "a b"), "", "model.merges is not an array"},
      {"merge no space", with("/model/merges/0", "ab"), "", "not two tokens"},
      {"merge two spaces", with("/model/merges/0", "a b c"), "", "not two tokens"},
      {"merge unknown", with("/model/merges/0", "b a"), "", "'ba', which is not a token"},
      {"merge number", with("/model/merges/0", 3), "", "neither"},
      {"merge triple", with("/model/merges/0", Json::array({"a", "b", "c"})), "", "neither"},
      {"merge space", with("/model/merges/0", Json::array({"a b", "c"})), "", "space"},
      {"pre no type", with("/pre_tokenizer", Json::object()), "", "without a type"},
      {"unk not token", with("/model/unk_token", "<unk>"), "", "unk_token"},
      {"config not json", tiny_bpe().dump(), "{", "config"},
      {"config array", tiny_bpe().dump(), "[1]", "config: not a JSON object"},
      {"bos unknown", tiny_bpe().dump(), R"({"bos_token": "<s>"})", "bos_token '<s>' is not a token"},
      {"bos id range", tiny_bpe().dump(), R"({"bos_token_id": 99})", "bos_token_id"},
      {"vocab_size huge", tiny_bpe().dump(), R"({"vocab_size": 99999999999})", "vocab_size"},
      {"post id range",
       with("/post_processor", Json::parse(R"({"type": "BertProcessing", "cls": ["x", 77]})")), "",
       "post_processor"},
  };
  for (const Bad& b : cases) {
    auto spec = tok::import_hf_tokenizer(b.tokenizer_json, b.config);
    ASSERT_FALSE(spec.ok()) << b.what;
    EXPECT_NE(spec.error().message.find(b.expect), std::string::npos)
        << b.what << ": " << spec.error().message;
  }
}

// A byte-level GGUF of llama.cpp's written back as the tokenizer.json it was converted from
// (normal tokens in model.vocab, control and user-defined ones as added tokens, spare rows from
// config.json's vocab_size) imports to the same metadata and tokenizes the reference cases.
struct Rebuilt {
  const char* name;
  const char* pre_tokenizer;  // the pre_tokenizer config of the model's tokenizer.json
  bool array_merges;
};

class HfImportRebuilt : public ::testing::TestWithParam<Rebuilt> {};

TEST_P(HfImportRebuilt, MatchesGguf) {
  const std::string rel = std::string("tokenizer-tests/ggml-vocab-") + GetParam().name + ".gguf";
  MINNOW_REQUIRE_SHARED(rel);
  const VocabSpec ref = read_gguf_spec(rel);
  ASSERT_TRUE(ref.merges && ref.token_types);
  Json vocab = Json::object(), added = Json::array(), merges = Json::array();
  size_t n_real = 0;
  for (size_t id = 0; id < ref.tokens.size(); ++id) {
    const int32_t type = (*ref.token_types)[id];
    if (type == 1) vocab[ref.tokens[id]] = id;
    if (type == 3 || type == 4)
      added.push_back({{"id", id}, {"content", ref.tokens[id]}, {"special", type == 3}});
    if (type != 5) n_real = id + 1;
  }
  for (const std::string& m : *ref.merges) {
    const size_t sp = m.find(' ');
    merges.push_back(GetParam().array_merges ? Json::array({m.substr(0, sp), m.substr(sp + 1)}) : Json(m));
  }
  Json j = {{"version", "1.0"},
            {"added_tokens", added},
            {"pre_tokenizer", Json::parse(GetParam().pre_tokenizer)},
            {"decoder", {{"type", "ByteLevel"}}},
            {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}}};
  Json cfg = {{"vocab_size", ref.tokens.size()}};
  if (ref.bos_id) cfg["bos_token_id"] = *ref.bos_id;
  if (ref.eos_id) cfg["eos_token_id"] = *ref.eos_id;
  auto spec = import(j, cfg.dump());
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ(spec->pre, ref.pre);
  EXPECT_TRUE(spec->tokens == ref.tokens);
  EXPECT_TRUE(*spec->token_types == *ref.token_types);
  EXPECT_TRUE(*spec->merges == *ref.merges);
  EXPECT_EQ(spec->bos_id, ref.bos_id);
  EXPECT_EQ(spec->eos_id, ref.eos_id);
  EXPECT_LE(n_real, ref.tokens.size());

  std::vector<uint8_t> bytes;
  auto tok = through_gguf(*spec, bytes);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  int pass = 0;
  const std::vector<Case> cases = read_cases(rel);
  for (const Case& c : cases) pass += tok->encode(c.text, false, false) == c.ids;
  EXPECT_EQ(pass, static_cast<int>(cases.size()));
}

INSTANTIATE_TEST_SUITE_P(
    Vocabs, HfImportRebuilt,
    ::testing::Values(
        Rebuilt{"gpt-2", R"({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true})", false},
        Rebuilt{"llama-bpe", R"({"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
             "behavior": "Isolated", "invert": false},
            {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]})",
                true},
        Rebuilt{"qwen2", R"({"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
             "behavior": "Isolated", "invert": false},
            {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false}]})",
                false}),
    [](const ::testing::TestParamInfo<Rebuilt>& i) {
      std::string n = i.param.name;
      for (char& c : n) c = c == '-' ? '_' : c;
      return n;
    });

// bge's vocabulary written back as the HF tokenizer.json it came from ("##" continuations,
// specials as added tokens) imports to the very tokens of llama.cpp's GGUF, and tokenizes alike.
TEST(HfImportWordPiece, BgeRoundTrip) {
  MINNOW_REQUIRE_SHARED(kBgeGguf);
  const VocabSpec ref = read_gguf_spec(kBgeGguf);
  const std::string start = "\xE2\x96\x81";
  Json vocab = Json::object();
  Json added = Json::array();
  for (size_t id = 0; id < ref.tokens.size(); ++id) {
    const std::string& t = ref.tokens[id];
    std::string hf = t.compare(0, start.size(), start) == 0 ? t.substr(start.size())
                     : t.front() == '[' && t.back() == ']'  ? t
                                                            : "##" + t;
    vocab[hf] = id;
    if ((*ref.token_types)[id] == 3) added.push_back({{"id", id}, {"content", t}, {"special", true}});
  }
  Json j = {
      {"version", "1.0"},
      {"added_tokens", added},
      {"normalizer", {{"type", "BertNormalizer"}, {"lowercase", true}}},
      {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", Json::parse(R"([{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                                   {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}])")},
        {"special_tokens",
         {{"[CLS]", {{"id", "[CLS]"}, {"ids", {101}}}}, {"[SEP]", {{"id", "[SEP]"}, {"ids", {102}}}}}}}},
      {"model",
       {{"type", "WordPiece"},
        {"unk_token", "[UNK]"},
        {"continuing_subword_prefix", "##"},
        {"max_input_chars_per_word", 100},
        {"vocab", vocab}}}};
  auto spec = import(j);
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ(spec->model, "bert");
  EXPECT_TRUE(spec->tokens == ref.tokens);
  EXPECT_TRUE(*spec->token_types == *ref.token_types);
  EXPECT_EQ(spec->unk_id, ref.unk_id);
  EXPECT_EQ(spec->bos_id, 101);
  EXPECT_EQ(spec->eos_id, 102);
  EXPECT_EQ(spec->add_bos, true);
  EXPECT_EQ(spec->add_eos, true);
  EXPECT_FALSE(spec->merges);

  std::vector<uint8_t> bytes;
  auto tok = through_gguf(*spec, bytes);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  int pass = 0;
  const std::vector<Case> cases = read_cases(kBgeGguf);
  for (const Case& c : cases) pass += tok->encode(c.text, false, false) == c.ids;
  EXPECT_EQ(pass, static_cast<int>(cases.size()));
  const std::vector<int32_t> framed = tok->encode("hello", true, false);
  ASSERT_EQ(framed.size(), 3u);
  EXPECT_EQ(framed.front(), 101);
  EXPECT_EQ(framed.back(), 102);
}

TEST(HfImportFiles, WritesVocabOnlyGguf) {
  MINNOW_REQUIRE_SHARED(kSmolJson);
  const std::string dir = ::testing::TempDir();
  const std::string out = dir + "/minnow_hf_import_test.gguf";
  const std::string cfg = dir + "/minnow_hf_import_test_config.json";
  {
    std::ofstream f(cfg);
    f << R"({"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "unk_token": "<|endoftext|>",
            "add_bos_token": false, "chat_template": "{% for m in messages %}{{ m.content }}{% endfor %}"})";
  }
  TokenizerImportOptions options;
  options.config_path = cfg;
  auto r = import_hf_tokenizer_to_gguf(test::shared_path(kSmolJson), out, options);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->model, "gpt2");
  EXPECT_EQ(r->pre, "smollm");
  EXPECT_EQ(r->n_tokens, 49152);
  EXPECT_EQ(r->n_merges, 48900);
  EXPECT_EQ(r->bos_id, 1);
  EXPECT_EQ(r->eos_id, 2);
  EXPECT_TRUE(r->chat_template);

  auto file = gguf::File::open(out);
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_TRUE(file->tensors().empty());
  EXPECT_EQ(file->get_string("general.name").value(), "smollm2-135m-instruct");
  EXPECT_EQ(file->get_string("tokenizer.chat_template").value(),
            "{% for m in messages %}{{ m.content }}{% endfor %}");
  EXPECT_EQ(file->get_int("tokenizer.ggml.unknown_token_id").value(), 0);
  auto tok = Tokenizer::from_gguf(*file);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  EXPECT_EQ(tok->n_vocab(), 49152);
  EXPECT_TRUE(tok->is_eog(2));

  // Errors name the file; nothing is written.
  const std::string missing = dir + "/minnow_no_such_tokenizer.json";
  auto bad = import_hf_tokenizer_to_gguf(missing, dir + "/minnow_never.gguf");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find(missing), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir + "/minnow_never.gguf"));
  TokenizerImportOptions bad_options;
  bad_options.pre = "no-such-pre";
  auto bad_pre =
      import_hf_tokenizer_to_gguf(test::shared_path(kSmolJson), dir + "/minnow_never.gguf", bad_options);
  ASSERT_FALSE(bad_pre.ok());
  EXPECT_NE(bad_pre.error().message.find("no-such-pre"), std::string::npos) << bad_pre.error().message;
  EXPECT_FALSE(std::filesystem::exists(dir + "/minnow_never.gguf"));
  std::filesystem::remove(out);
  std::filesystem::remove(cfg);
}

}  // namespace
}  // namespace minnow

// Hugging Face folder -> GGUF conversion end to end. For each family (and output type) a tiny
// random model written as safetensors converts to the very tensors and metadata llama.cpp's
// converter would write (tests/e2e/hf_folder.h spells that out independently), and then gives the
// same logits through the public API as that GGUF written directly; families the engine of this
// build cannot run yet skip the logits part. Also: the RoPE permutation against the rotation it
// stands for, tokenizer and chat template carried over, shards, bad folders, and `minnow convert`.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numbers>
#include <random>

#include "convert/hf_model.h"
#include "e2e/cli_runner.h"
#include "e2e/hf_folder.h"
#include "gguf/gguf.h"
#include "minnow/convert.h"
#include "minnow/engine.h"
#include "models/model.h"
#include "nn/ops.h"
#include "tokenizer/tokenizer.h"

namespace minnow {
namespace {

namespace fs = std::filesystem;
using test::HfModel;
using test::HfModelSpec;
using test::Json;

// A fresh directory, removed with everything in it at the end of the test.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name) {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("minnow_convert_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" + name);
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string str(const std::string& rel) const { return (path / rel).string(); }
};

bool same_value(const gguf::Value& a, const gguf::Value& b) {
  if (a.type != b.type || a.u != b.u || a.i != b.i || a.str != b.str) return false;
  if (a.f != b.f && !(std::isnan(a.f) && std::isnan(b.f))) return false;
  if (!a.arr || !b.arr) return !a.arr && !b.arr;
  if (a.arr->elem_type != b.arr->elem_type || a.arr->count != b.arr->count ||
      a.arr->strings != b.arr->strings) {
    return false;
  }
  for (uint64_t i = 0; i < a.arr->count; ++i) {
    if (a.arr->int_at(i) != b.arr->int_at(i) || a.arr->float_at(i) != b.arr->float_at(i)) return false;
  }
  return true;
}

// Every key of want is in got with the same type and value; the same tensors, shapes, types, bytes.
void expect_same_model(const gguf::File& got, const gguf::File& want) {
  for (const auto& [key, v] : want.metadata()) {
    if (key == "general.name") continue;
    const gguf::Value* g = got.find(key);
    if (!g) {
      ADD_FAILURE() << "converted file lacks " << key;
    } else {
      EXPECT_TRUE(same_value(*g, v)) << key;
    }
  }
  EXPECT_EQ(got.tensors().size(), want.tensors().size());
  for (const gguf::TensorInfo& w : want.tensors()) {
    const gguf::TensorInfo* g = got.find_tensor(w.name);
    if (!g) {
      ADD_FAILURE() << "converted file lacks tensor " << w.name;
      continue;
    }
    EXPECT_EQ(g->n_dims, w.n_dims) << w.name;
    for (int d = 0; d < gguf::kMaxDims; ++d) EXPECT_EQ(g->ne[d], w.ne[d]) << w.name << " ne[" << d << "]";
    EXPECT_EQ(g->type, w.type) << w.name;
    ASSERT_EQ(g->n_bytes, w.n_bytes) << w.name;
    EXPECT_EQ(std::memcmp(g->data, w.data, w.n_bytes), 0) << w.name << ": different values";
  }
}

const std::vector<int32_t> kTokens = {test::kBos, 40,           71, 258, 100, test::kImStart,
                                      5,          test::kImEnd, 33, 120, 200, 64};

// Logits of every token of kTokens, F32 KV cache.
std::vector<float> all_logits(const std::string& path) {
  LoadOptions lo;
  lo.n_threads = 2;
  auto m = Model::load(path, lo);
  EXPECT_TRUE(m.ok()) << m.error().message;
  if (!m.ok()) return {};
  SessionOptions so;
  so.n_ctx = 64;
  so.kv_f32 = true;
  auto s = (*m)->new_session(so);
  EXPECT_TRUE(s.ok());
  auto st = (*s)->eval(kTokens, true);
  EXPECT_TRUE(st.ok()) << st.error().message;
  std::vector<float> out;
  for (size_t i = 0; i < kTokens.size(); ++i) {
    auto row = (*s)->logits(static_cast<int64_t>(i));
    out.insert(out.end(), row.begin(), row.end());
  }
  return out;
}

ConvertOptions options(ConvertType type, const std::string& name = "") {
  ConvertOptions o;
  o.type = type;
  o.name = name;
  return o;
}

bool engine_runs(const std::string& arch) {
  for (const std::string& a : models::supported_architectures()) {
    if (a == arch) return true;
  }
  return false;
}

HfModelSpec spec_for(const std::string& family) {
  HfModelSpec s;
  s.family = family;
  // Gemma 3 alternates five local layers with a global one; six layers hold one of each kind.
  if (family.rfind("gemma3", 0) == 0) s.n_layer = 6;
  // The readers of every source dtype get used.
  s.dtype = family == "phi3"    ? convert::StDType::F32
            : family == "qwen2" ? convert::StDType::F16
                                : convert::StDType::BF16;
  return s;
}

struct FamilyCase {
  const char* family;
  ConvertType type;
};

void PrintTo(const FamilyCase& c, std::ostream* os) {
  *os << c.family << " " << convert_type_name(c.type);
}

class ConvertFamilies : public testing::TestWithParam<FamilyCase> {};

TEST_P(ConvertFamilies, SameAsDirectGguf) {
  const FamilyCase& p = GetParam();
  TempDir tmp(p.family);
  const HfModel model = test::make_hf_model(spec_for(p.family));
  test::write_hf_folder(model, tmp.path / "hf");
  const std::string out = tmp.str("converted.gguf");
  auto r = convert_hf_to_gguf(tmp.str("hf"), out, options(p.type, "tiny"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->architecture, model.arch());
  EXPECT_TRUE(r->chat_template);
  EXPECT_EQ(r->n_vocab, model.gemma3() ? test::kTinyTokens : model.spec.vocab_size);

  const DType type = p.type == ConvertType::kF32   ? DType::F32
                     : p.type == ConvertType::kF16 ? DType::F16
                                                   : DType::BF16;
  const std::vector<uint8_t> direct = test::direct_gguf(model, type, "tiny");
  const std::string direct_path = tmp.str("direct.gguf");
  std::ofstream(direct_path, std::ios::binary)
      .write(reinterpret_cast<const char*>(direct.data()), direct.size());
  auto got = gguf::File::open(out);
  ASSERT_TRUE(got.ok()) << got.error().message;
  auto want = gguf::File::parse(direct);
  ASSERT_TRUE(want.ok()) << want.error().message;
  expect_same_model(*got, *want);

  if (!engine_runs(model.arch())) {
    GTEST_SKIP()
        << "architecture '" << model.arch() << "' is not in this build's engine: the converted file "
        << "matches the reference tensors and metadata, its logits are checked once the engine runs it";
  }
  const std::vector<float> a = all_logits(out), b = all_logits(direct_path);
  ASSERT_EQ(a.size(), b.size());
  ASSERT_FALSE(a.empty());
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_TRUE(std::isfinite(a[i]));
    diff = std::max(diff, static_cast<double>(std::fabs(a[i] - b[i])));
    scale = std::max(scale, static_cast<double>(std::fabs(b[i])));
  }
  EXPECT_LE(diff, 1e-6 * scale);
}

INSTANTIATE_TEST_SUITE_P(
    All, ConvertFamilies,
    testing::Values(FamilyCase{"llama", ConvertType::kF32}, FamilyCase{"llama", ConvertType::kF16},
                    FamilyCase{"llama", ConvertType::kBF16}, FamilyCase{"mistral", ConvertType::kF16},
                    FamilyCase{"qwen2", ConvertType::kF32}, FamilyCase{"qwen2", ConvertType::kF16},
                    FamilyCase{"phi3", ConvertType::kF32}, FamilyCase{"phi3", ConvertType::kF16},
                    FamilyCase{"gemma2", ConvertType::kF32}, FamilyCase{"gemma2", ConvertType::kF16},
                    FamilyCase{"gemma3", ConvertType::kF32}, FamilyCase{"gemma3", ConvertType::kF16},
                    FamilyCase{"gemma3-mm", ConvertType::kBF16}),
    [](const testing::TestParamInfo<FamilyCase>& i) {
      std::string n = std::string(i.param.family) + "_" + convert_type_name(i.param.type);
      for (char& c : n) c = c == '-' ? '_' : c;
      return n;
    });

// HF rotates (x[i], x[i + hd/2]) of each head; GGUF's llama graph rotates (x[2i], x[2i+1]). The
// permuted projection must give, after its rotation, HF's rotated values in the permuted order,
// so every attention score q.k is unchanged.
TEST(ConvertRope, PermutationMatchesRotation) {
  const int hd = 16, heads = 3, n_in = 8;
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  std::vector<float> w(heads * hd * n_in), x(n_in);
  for (float& v : w) v = nd(rng);
  for (float& v : x) v = nd(rng);
  auto project = [&](bool permuted) {
    std::vector<float> y(heads * hd);
    for (int r = 0; r < heads * hd; ++r) {
      const int64_t src = permuted ? convert::rope_permuted_row(r, hd) : r;
      for (int j = 0; j < n_in; ++j) y[r] += w[src * n_in + j] * x[j];
    }
    return y;
  };
  std::vector<float> hf = project(false), gg = project(true);
  const int32_t pos = 7;
  nn::RopeParams neox, norm;
  neox.type = nn::RopeType::kNeox;
  norm.type = nn::RopeType::kNorm;
  neox.n_rot = norm.n_rot = hd;
  nn::rope(neox, hf.data(), 1, heads, hd, &pos);
  nn::rope(norm, gg.data(), 1, heads, hd, &pos);
  for (int h = 0; h < heads; ++h) {
    for (int i = 0; i < hd / 2; ++i) {
      EXPECT_NEAR(gg[h * hd + 2 * i], hf[h * hd + i], 1e-5) << h << " " << i;
      EXPECT_NEAR(gg[h * hd + 2 * i + 1], hf[h * hd + hd / 2 + i], 1e-5) << h << " " << i;
    }
  }
}

TEST(ConvertTokenizer, ChatTemplateAndTokenizationCarriedOver) {
  TempDir tmp("tok");
  const HfModel model = test::make_hf_model(spec_for("llama"));
  test::write_hf_folder(model, tmp.path / "hf");
  auto r = convert_hf_to_gguf(tmp.str("hf"), tmp.str("m.gguf"), options(ConvertType::kF16));
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto m = Model::load(tmp.str("m.gguf"), {});
  ASSERT_TRUE(m.ok()) << m.error().message;
  const ModelInfo& info = (*m)->info();
  EXPECT_EQ(info.chat_template, test::kTinyTemplate);
  EXPECT_EQ(info.tokenizer, "gpt2");
  EXPECT_EQ(info.tokenizer_error, "");
  EXPECT_EQ(info.name, "hf");  // the folder's name
  EXPECT_EQ(info.quantization, "F16");

  auto spec =
      tok::import_hf_tokenizer(test::tiny_tokenizer_json().dump(), test::tiny_tokenizer_config().dump());
  ASSERT_TRUE(spec.ok());
  auto hf = Tokenizer::from_spec(*spec);
  ASSERT_TRUE(hf.ok());
  for (const char* text :
       {"Hello there, the inn!", "  h\xc3\xa9llo\n\tthe theater", "<|im_start|>user<tool>x"}) {
    for (bool special : {false, true}) {
      auto ids = (*m)->tokenize(text, false, special);
      ASSERT_TRUE(ids.ok()) << ids.error().message;
      EXPECT_EQ(*ids, hf->encode(text, false, special)) << text;
    }
  }
  auto with_bos = (*m)->tokenize("the", true, false);
  ASSERT_TRUE(with_bos.ok());
  EXPECT_EQ(with_bos->front(), test::kBos);  // add_bos_token and bos_token from tokenizer_config.json
  auto chat = (*m)->apply_chat_template({{"user", "hi"}}, true);
  ASSERT_TRUE(chat.ok()) << chat.error().message;
  EXPECT_EQ((*chat)[1], test::kImStart);

  auto f = gguf::File::open(tmp.str("m.gguf"));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f->get_int("tokenizer.ggml.eos_token_id"), test::kImEnd);
  auto tokens = f->get_array("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok());
  ASSERT_EQ((*tokens)->count, 272u);  // padded to the embedding's rows
  EXPECT_EQ((*tokens)->strings[271], "[PAD271]");
}

// Llama 2's kind of tokenizer.json (SentencePiece-style BPE: byte fallback, "▁" for spaces,
// merges as SpmConverter writes them) converts to an SPM vocabulary; tokenizer_config.json
// names no eos, so config.json's id is the one used.
TEST(ConvertTokenizer, SentencePieceStyle) {
  const std::string sp = "\xE2\x96\x81";
  Json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    vocab[name] = 3 + b;
  }
  int id = 259;
  for (const std::string& piece :
       {sp, std::string("t"), std::string("h"), std::string("e"), std::string("he"), sp + "t", sp + "the"}) {
    vocab[piece] = id++;
  }
  Json added = Json::array();
  for (int i = 0; i < 3; ++i) {
    added.push_back({{"id", i}, {"content", i == 0 ? "<unk>" : i == 1 ? "<s>" : "</s>"}, {"special", true}});
  }
  const Json tokenizer = {
      {"added_tokens", added},
      {"normalizer", Json::parse(R"({"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"},
                                    {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]})")},
      {"pre_tokenizer", nullptr},
      {"model",
       {{"type", "BPE"},
        {"unk_token", "<unk>"},
        {"byte_fallback", true},
        {"vocab", vocab},
        {"merges", {"h e", sp + " t", sp + "t he"}}}}};
  TempDir tmp("spm");
  HfModel model = test::make_hf_model(spec_for("llama"));
  model.config["bos_token_id"] = 1;
  model.config["eos_token_id"] = 2;
  test::write_hf_folder(model, tmp.path / "hf", 1, {{"bos_token", "<s>"}, {"add_bos_token", true}});
  test::write_json(tmp.path / "hf" / "tokenizer.json", tokenizer);
  auto r = convert_hf_to_gguf(tmp.str("hf"), tmp.str("m.gguf"), options(ConvertType::kF16));
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto m = Model::load(tmp.str("m.gguf"), {});
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ((*m)->info().tokenizer, "llama");
  EXPECT_EQ((*m)->info().tokenizer_error, "");
  // "▁the▁the\n": h+e, ▁+t, ▁t+he; the newline by its byte.
  auto ids = (*m)->tokenize("the the\n", true, false);
  ASSERT_TRUE(ids.ok()) << ids.error().message;
  EXPECT_EQ(*ids, (std::vector<int32_t>{1, 265, 265, 3 + '\n'}));
  auto f = gguf::File::open(tmp.str("m.gguf"));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f->get_int("tokenizer.ggml.bos_token_id"), 1);
  EXPECT_EQ(*f->get_int("tokenizer.ggml.eos_token_id"), 2);
  EXPECT_EQ(*f->get_int("tokenizer.ggml.unknown_token_id"), 0);
  EXPECT_EQ(f->find("tokenizer.ggml.merges"), nullptr);
  auto types = f->get_array("tokenizer.ggml.token_type");
  ASSERT_TRUE(types.ok());
  EXPECT_EQ((*types)->int_at(0), 2);    // unknown
  EXPECT_EQ((*types)->int_at(13), 6);   // <0x0A>
  EXPECT_EQ((*types)->int_at(265), 1);  // ▁the
}

// The template's other spellings and the special ids' other sources.
TEST(ConvertTokenizer, TemplateAndSpecialIdSources) {
  const HfModel model = test::make_hf_model(spec_for("qwen2"));
  auto convert_with = [&](TempDir& tmp, const Json& tokenizer_config) -> std::optional<gguf::File> {
    test::write_hf_folder(model, tmp.path / "hf", 1, tokenizer_config);
    auto r = convert_hf_to_gguf(tmp.str("hf"), tmp.str("m.gguf"), {});
    EXPECT_TRUE(r.ok()) << r.error().message;
    auto f = gguf::File::open(tmp.str("m.gguf"));
    EXPECT_TRUE(f.ok());
    if (!f.ok()) return std::nullopt;
    return std::move(f).value();
  };
  {  // The list form: the entry named "default".
    TempDir tmp("list");
    Json cfg = test::tiny_tokenizer_config();
    cfg["chat_template"] =
        Json::array({{{"name", "tool_use"}, {"template", "T"}}, {{"name", "default"}, {"template", "D"}}});
    auto f = convert_with(tmp, cfg);
    ASSERT_TRUE(f);
    EXPECT_EQ(*f->get_string("tokenizer.chat_template"), "D");
  }
  {  // chat_template.jinja beside a tokenizer_config.json without one; eos from generation_config.json.
    TempDir tmp("jinja");
    fs::create_directories(tmp.path / "hf");
    std::ofstream(tmp.path / "hf" / "chat_template.jinja") << "J{{ messages }}";
    test::write_json(tmp.path / "hf" / "generation_config.json", {{"eos_token_id", {264, 263}}});
    HfModel no_ids = model;
    no_ids.config.erase("eos_token_id");
    test::write_hf_folder(no_ids, tmp.path / "hf", 1, {{"bos_token", "<|begin_of_text|>"}});
    ASSERT_TRUE(convert_hf_to_gguf(tmp.str("hf"), tmp.str("m.gguf"), {}).ok());
    auto f = gguf::File::open(tmp.str("m.gguf"));
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(*f->get_string("tokenizer.chat_template"), "J{{ messages }}");
    EXPECT_EQ(*f->get_int("tokenizer.ggml.bos_token_id"), test::kBos);
    EXPECT_EQ(*f->get_int("tokenizer.ggml.eos_token_id"), 264);
  }
  {  // No tokenizer_config.json: config.json's ids, and no template.
    TempDir tmp("ids");
    auto f = convert_with(tmp, nullptr);
    ASSERT_TRUE(f);
    EXPECT_EQ(*f->get_int("tokenizer.ggml.bos_token_id"), test::kBos);
    EXPECT_EQ(*f->get_int("tokenizer.ggml.eos_token_id"), test::kImEnd);
    EXPECT_EQ(f->find("tokenizer.chat_template"), nullptr);
  }
}

TEST(ConvertShards, ShardedEqualsSingleFile) {
  TempDir tmp("shards");
  const HfModel model = test::make_hf_model(spec_for("llama"));
  test::write_hf_folder(model, tmp.path / "one");
  test::write_hf_folder(model, tmp.path / "three", 3);
  ASSERT_TRUE(fs::exists(tmp.path / "three" / "model-00003-of-00003.safetensors"));
  ASSERT_TRUE(convert_hf_to_gguf(tmp.str("one"), tmp.str("one.gguf"), options(ConvertType::kF16, "x")).ok());
  auto r = convert_hf_to_gguf(tmp.str("three"), tmp.str("three.gguf"), options(ConvertType::kF16, "x"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(test::read_file(tmp.str("one.gguf")), test::read_file(tmp.str("three.gguf")));

  // An index that names the wrong shard, a missing shard, a path out of the folder.
  const fs::path index = tmp.path / "three" / "model.safetensors.index.json";
  Json j = Json::parse(test::read_file(index.string()));
  const std::string t = "model.layers.0.mlp.up_proj.weight";
  const std::string right = j["weight_map"][t];
  j["weight_map"][t] = right == "model-00001-of-00003.safetensors" ? "model-00002-of-00003.safetensors"
                                                                   : "model-00001-of-00003.safetensors";
  test::write_json(index, j);
  auto e = convert_hf_to_gguf(tmp.str("three"), tmp.str("bad.gguf"), {});
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("lists tensor '" + t + "' in"), std::string::npos) << e.error().message;
  j["weight_map"][t] = "model-00009-of-00009.safetensors";
  test::write_json(index, j);
  e = convert_hf_to_gguf(tmp.str("three"), tmp.str("bad.gguf"), {});
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("model-00009-of-00009.safetensors"), std::string::npos)
      << e.error().message;
  j["weight_map"][t] = "../one/model.safetensors";
  test::write_json(index, j);
  e = convert_hf_to_gguf(tmp.str("three"), tmp.str("bad.gguf"), {});
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("not a file name in the folder"), std::string::npos) << e.error().message;
  EXPECT_FALSE(fs::exists(tmp.path / "bad.gguf"));
}

// Converts a modified model; the error message.
std::string convert_error(HfModel model, const std::function<void(HfModel&)>& change) {
  TempDir tmp("bad");
  change(model);
  test::write_hf_folder(model, tmp.path / "hf");
  const std::string out = tmp.str("out.gguf");
  std::ofstream(out) << "old";
  auto r = convert_hf_to_gguf(tmp.str("hf"), out, {});
  if (r.ok()) return "converted";
  // Nothing written: the old file is untouched and no temporary is left behind.
  EXPECT_EQ(test::read_file(out), "old");
  for (const auto& e : fs::directory_iterator(tmp.path)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
  }
  return r.error().message;
}

void erase_tensor(HfModel& m, const std::string& name) {
  std::erase_if(m.tensors, [&](const test::HfTensor& t) { return t.name == name; });
}

TEST(ConvertErrors, ClearMessages) {
  const HfModel llama = test::make_hf_model(spec_for("llama"));
  struct Case {
    const char* what;
    std::function<void(HfModel&)> change;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"missing tensor", [](HfModel& m) { erase_tensor(m, "model.layers.1.mlp.down_proj.weight"); },
       "missing tensor 'model.layers.1.mlp.down_proj.weight' (for blk.1.ffn_down.weight, shape [64, 128])"},
      {"misshapen tensor",
       [](HfModel& m) {
         for (test::HfTensor& t : m.tensors) {
           if (t.name == "model.layers.0.self_attn.k_proj.weight")
             t.shape = {16, 128}, t.values.resize(16 * 128);
         }
       },
       "model.safetensors has shape [16, 128], expected [32, 64] from config.json"},
      {"unexpected tensor",
       [](HfModel& m) {
         m.tensors.push_back({"model.layers.0.self_attn.q_proj.lora_A.weight", {2, 2}, {0, 0, 0, 0}});
       },
       "model.safetensors is not part of a LlamaForCausalLM as minnow converts it"},
      {"unknown architecture", [](HfModel& m) { m.config["architectures"] = {"MambaForCausalLM"}; },
       "architecture 'MambaForCausalLM' is not one minnow converts (LlamaForCausalLM, MistralForCausalLM"},
      {"no architectures", [](HfModel& m) { m.config.erase("architectures"); },
       "config.json: no architectures list"},
      {"missing config field", [](HfModel& m) { m.config.erase("hidden_size"); },
       "config.json: missing 'hidden_size'"},
      {"bad config field", [](HfModel& m) { m.config["num_attention_heads"] = 0; },
       "config.json: 'num_attention_heads' is 0, expected an integer in [1, "},
      {"heads do not group", [](HfModel& m) { m.config["num_key_value_heads"] = 3; },
       "4 attention heads do not group into 3 key-value heads"},
      {"vocabulary too small",
       [](HfModel& m) {
         m.config["vocab_size"] = 200;
         for (test::HfTensor& t : m.tensors) {
           if (t.name == "model.embed_tokens.weight" || t.name == "lm_head.weight")
             t.shape[0] = 200, t.values.resize(200 * 64);
         }
       },
       "the tokenizer has 266 tokens, the embedding only 200 rows"},
      {"unsupported rope scaling",
       [](HfModel& m) {
         m.config["rope_scaling"] = {{"rope_type", "dynamic"}, {"factor", 2.0}};
       },
       "rope_scaling type 'dynamic' is not supported for LlamaForCausalLM"},
  };
  for (const Case& c : cases) {
    const std::string e = convert_error(llama, c.change);
    EXPECT_NE(e.find(c.expect), std::string::npos) << c.what << ": " << e;
  }

  // A weight stored as integers, and a folder without weights or config.
  TempDir tmp("dtype");
  test::write_hf_folder(llama, tmp.path / "hf");
  convert::SafetensorsWriter w;
  for (const test::HfTensor& t : llama.tensors) {
    if (t.name == "model.norm.weight") {
      ASSERT_TRUE(
          w.add(t.name, convert::StDType::I32, t.shape, std::vector<uint8_t>(t.values.size() * 4)).ok());
    } else {
      ASSERT_TRUE(w.add_f32(t.name, convert::StDType::F32, t.shape, t.values).ok());
    }
  }
  ASSERT_TRUE(w.write(tmp.str("hf/model.safetensors")).ok());
  auto r = convert_hf_to_gguf(tmp.str("hf"), tmp.str("x.gguf"), {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(
      r.error().message.find("tensor 'model.norm.weight' in " + tmp.str("hf/model.safetensors") + " is I32"),
      std::string::npos)
      << r.error().message;
  fs::remove(tmp.path / "hf" / "model.safetensors");
  r = convert_hf_to_gguf(tmp.str("hf"), tmp.str("x.gguf"), {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("no *.safetensors weights"), std::string::npos) << r.error().message;
  fs::remove(tmp.path / "hf" / "config.json");
  r = convert_hf_to_gguf(tmp.str("hf"), tmp.str("x.gguf"), {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("config.json"), std::string::npos) << r.error().message;
  r = convert_hf_to_gguf(tmp.str("nope"), tmp.str("x.gguf"), {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("is not a directory"), std::string::npos) << r.error().message;
  // Writing into a folder that does not exist fails cleanly too.
  test::write_hf_folder(llama, tmp.path / "ok");
  r = convert_hf_to_gguf(tmp.str("ok"), tmp.str("no/such/dir/x.gguf"), {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("no/such/dir/x.gguf"), std::string::npos) << r.error().message;
  EXPECT_FALSE(fs::exists(tmp.path / "x.gguf"));
}

// Llama 3's rope_scaling becomes rope_freqs.weight: divisors d with inv_freq / d equal to the
// scaled frequencies transformers computes.
TEST(ConvertRopeScaling, Llama3FrequencyDivisors) {
  TempDir tmp("llama3");
  HfModel model = test::make_hf_model(spec_for("llama"));
  model.config["rope_scaling"] = {{"rope_type", "llama3"},
                                  {"factor", 8.0},
                                  {"low_freq_factor", 1.0},
                                  {"high_freq_factor", 4.0},
                                  {"original_max_position_embeddings", 8192}};
  test::write_hf_folder(model, tmp.path / "hf");
  ASSERT_TRUE(convert_hf_to_gguf(tmp.str("hf"), tmp.str("m.gguf"), {}).ok());
  auto f = gguf::File::open(tmp.str("m.gguf"));
  ASSERT_TRUE(f.ok());
  const gguf::TensorInfo* t = f->find_tensor("rope_freqs.weight");
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->type, DType::F32);
  ASSERT_EQ(t->ne[0], 8);  // head_dim 16 / 2
  const float* d = reinterpret_cast<const float*>(t->data);
  for (int i = 0; i < 8; ++i) {
    const double inv = std::pow(10000.0, -2.0 * i / 16), wavelen = 2 * std::numbers::pi / inv;
    double want = inv;  // transformers' _compute_llama3_parameters
    if (wavelen > 8192) {
      want = inv / 8;
    } else if (wavelen >= 2048) {
      const double smooth = (8192 / wavelen - 1) / 3;
      want = (1 - smooth) * inv / 8 + smooth * inv;
    }
    EXPECT_NEAR(inv / d[i], want, 1e-6 * want) << i;
  }
  EXPECT_EQ(d[0], 1.0f);
  EXPECT_EQ(d[7], 8.0f);
  EXPECT_GT(d[6], 1.0f);  // the interpolated band
  EXPECT_LT(d[6], 8.0f);
  if (engine_runs("llama")) {
    EXPECT_TRUE(Model::load(tmp.str("m.gguf"), {}).ok());
  }
}

TEST(ConvertRopeScaling, Phi3LongRopeFactors) {
  TempDir tmp("longrope");
  HfModel model = test::make_hf_model(spec_for("phi3"));
  const std::vector<float> long_f = {1, 1.5f, 2, 3, 5, 8, 13, 21}, short_f = {1, 1, 1, 1.25f, 1.5f, 2, 2, 2};
  model.config["max_position_embeddings"] = 4096;
  model.config["rope_scaling"] = {{"type", "longrope"}, {"long_factor", long_f}, {"short_factor", short_f}};
  test::write_hf_folder(model, tmp.path / "hf");
  auto r = convert_hf_to_gguf(tmp.str("hf"), tmp.str("m.gguf"), {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto f = gguf::File::open(tmp.str("m.gguf"));
  ASSERT_TRUE(f.ok());
  for (const auto& [name, want] :
       {std::pair{"rope_factors_long.weight", long_f}, std::pair{"rope_factors_short.weight", short_f}}) {
    const gguf::TensorInfo* t = f->find_tensor(name);
    ASSERT_NE(t, nullptr) << name;
    ASSERT_EQ(t->type, DType::F32);
    ASSERT_EQ(t->n_elements(), 8);
    EXPECT_EQ(std::memcmp(t->data, want.data(), 32), 0) << name;
  }
  // LongRoPE's attention scaling for a 16x longer context than trained: sqrt(1 + ln 16 / ln 256).
  EXPECT_NEAR(*f->get_float("phi3.rope.scaling.attn_factor"), std::sqrt(1.5), 1e-6);
  EXPECT_EQ(*f->get_int("phi3.rope.scaling.original_context_length"), 256);
  EXPECT_EQ(*f->get_int("phi3.context_length"), 4096);

  model.config["rope_scaling"]["long_factor"] = {1, 2, 3};
  const std::string e = convert_error(model, [](HfModel&) {});
  EXPECT_NE(e.find("must be lists of 8 numbers"), std::string::npos) << e;
}

TEST(ConvertCli, ConvertsAndFailsCleanly) {
  TempDir tmp("cli");
  const HfModel model = test::make_hf_model(spec_for("llama"));
  test::write_hf_folder(model, tmp.path / "hf");
  const std::string out = tmp.str("m.gguf");
  auto r = test::run_cli({"convert", tmp.str("hf"), out, "--type", "f32", "--name", "cli-model"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("wrote " + out + ": llama (from LlamaForCausalLM), f32, 21 tensors, ", 0), 0u)
      << r.out;
  EXPECT_NE(r.out.find("vocabulary 272, chat template"), std::string::npos) << r.out;
  EXPECT_TRUE(r.err.empty()) << r.err;
  auto m = Model::load(out, {});
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ((*m)->info().name, "cli-model");
  EXPECT_EQ((*m)->info().quantization, "F32");

  r = test::run_cli({"convert", tmp.str("hf"), tmp.str("q.gguf"), "--type", "q4_0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "minnow: --type must be f16, bf16 or f32, not 'q4_0'\n");
  r = test::run_cli({"convert", tmp.str("nope"), tmp.str("q.gguf")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "minnow: convert: " + tmp.str("nope") + " is not a directory\n");
  EXPECT_FALSE(fs::exists(tmp.path / "q.gguf"));
  r = test::run_cli({"convert", tmp.str("hf")});
  EXPECT_NE(r.exit_code, 0);
}

}  // namespace
}  // namespace minnow

// quantize_gguf (include/minnow/quantize.h): round-trip error of every type through a whole file
// against bounds derived from each format, the per-tensor mixes (which tensors get more bits),
// fallbacks for rows the blocks do not fit, metadata carried over with general.file_type set,
// requantizing, refusals, and quantized tiny models that load and give logits close to F32's.
#include "minnow/quantize.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "gguf/gguf.h"
#include "minnow/engine.h"
#include "tensor/quants.h"
#include "tiny_model.h"

namespace minnow {
namespace {

namespace fs = std::filesystem;

// A fresh directory, removed with everything in it at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("minnow_quantize_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string str(const std::string& rel) const { return (path / rel).string(); }
  std::string write(const std::string& rel, const std::vector<uint8_t>& bytes) const {
    std::ofstream(str(rel), std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return str(rel);
  }
};

std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// All of a tensor's elements as floats.
std::vector<float> dequantize_tensor(const gguf::TensorInfo& t) {
  std::vector<float> out(static_cast<size_t>(t.n_elements()));
  const size_t rb = *row_bytes(t.type, t.ne[0]);
  for (int64_t r = 0; r < t.n_elements() / t.ne[0]; ++r) {
    EXPECT_TRUE(dequantize_row(t.type, t.data + r * rb, out.data() + r * t.ne[0], t.ne[0]));
  }
  return out;
}

std::map<std::string, std::string> types_of(const std::string& path) {
  auto f = gguf::File::open(path);
  EXPECT_TRUE(f.ok()) << f.error().message;
  std::map<std::string, std::string> m;
  if (f.ok()) {
    for (const gguf::TensorInfo& t : f->tensors()) m[t.name] = dtype_name(t.type);
  }
  return m;
}

// ---- Round-trip error per type ----------------------------------------------------------------

// Predicted relative RMS error (error RMS / value RMS) for i.i.d. N(0, 1) weights, and the band
// asserted around it. A uniform quantizer of step h errs by h / sqrt(12) RMS; the steps are:
//   q8_0 amax/127, q5_0 amax/16, q4_0 amax/8 with amax the largest |x| of 32 Gaussians (RMS 2.39,
//   by simulation), q5_1 range/31, q4_1 range/15 with range = max - min of 32 (RMS 4.20).
//   q4_k, q5_k search the scale and offset of each 32 (on 6-bit scales) and so beat the min/max
//   fit of q4_1, q5_1: those are upper bounds; q6_k's step is amax/32 of 16 elements (RMS 2.13)
//   before its search. fp16 / bf16 round to 11 / 8 significant bits: the relative error RMS is
//   ulp/sqrt(12) with ulp between 2^-11 and 2^-10 (2^-8 and 2^-7) of the value.
// The plain rounding types must land within 25% of the prediction (the sample has 512 blocks;
// fp16 scales and clamping add a little); a searched type between half its bound and 1.1x.
// Measured (seed 1): q8_0 0.0053, q5_0 0.042, q4_0 0.085, q5_1 0.038, q4_1 0.078, q6_k 0.018,
// q5_k 0.036, q4_k 0.071, f16 0.00021, bf16 0.0017: each near its prediction.
struct Expected {
  QuantType file_type;
  const char* type;  // what the matrix becomes
  float lo, hi;      // band of relative RMS error
};

constexpr float kSqrt12 = 3.4641016f;
constexpr Expected kExpected[] = {
    {QuantType::kQ8_0, "q8_0", 0.75f * 2.39f / 127 / kSqrt12, 1.25f * 2.39f / 127 / kSqrt12},
    {QuantType::kQ5_0, "q5_0", 0.75f * 2.39f / 16 / kSqrt12, 1.25f * 2.39f / 16 / kSqrt12},
    {QuantType::kQ4_0, "q4_0", 0.75f * 2.39f / 8 / kSqrt12, 1.25f * 2.39f / 8 / kSqrt12},
    {QuantType::kQ5_1, "q5_1", 0.75f * 4.20f / 31 / kSqrt12, 1.25f * 4.20f / 31 / kSqrt12},
    {QuantType::kQ4_1, "q4_1", 0.75f * 4.20f / 15 / kSqrt12, 1.25f * 4.20f / 15 / kSqrt12},
    {QuantType::kQ6_K, "q6_k", 0.5f * 2.13f / 32 / kSqrt12, 1.1f * 2.13f / 32 / kSqrt12},
    {QuantType::kQ5_K_S, "q5_k", 0.5f * 4.20f / 31 / kSqrt12, 1.1f * 4.20f / 31 / kSqrt12},
    {QuantType::kQ4_K_S, "q4_k", 0.5f * 4.20f / 15 / kSqrt12, 1.1f * 4.20f / 15 / kSqrt12},
    {QuantType::kF16, "f16", 0.8f * 0x1p-11f / kSqrt12, 1.1f * 0x1p-10f / kSqrt12},
    {QuantType::kBF16, "bf16", 0.8f * 0x1p-8f / kSqrt12, 1.1f * 0x1p-7f / kSqrt12},
    {QuantType::kF32, "f32", 0.f, 0.f},
};

TEST(Quantize, RoundTripErrorPerTypeWithinTheFormatsBounds) {
  TempDir dir;
  // [256 x 64] N(0, 1) weights under a name no mix rule touches.
  std::mt19937_64 rng(1);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> w(256 * 64);
  for (float& v : w) v = nd(rng);
  gguf::Writer gw;
  gw.set_string("general.architecture", "llama");
  ASSERT_TRUE(gw.add_tensor("blk.0.ffn_up.weight", DType::F32, {256, 64}, f32_bytes(w)).ok());
  const std::string in = dir.write("in.gguf", gw.to_bytes());
  double sum_x2 = 0;
  for (float v : w) sum_x2 += static_cast<double>(v) * v;

  for (const Expected& e : kExpected) {
    SCOPED_TRACE(quant_type_name(e.file_type));
    const std::string out = dir.str(std::string(quant_type_name(e.file_type)) + ".gguf");
    auto r = quantize_gguf(in, out, e.file_type);
    ASSERT_TRUE(r.ok()) << r.error().message;
    auto f = gguf::File::open(out);
    ASSERT_TRUE(f.ok()) << f.error().message;
    const gguf::TensorInfo* t = f->find_tensor("blk.0.ffn_up.weight");
    ASSERT_NE(t, nullptr);
    EXPECT_STREQ(dtype_name(t->type), e.type);
    const std::vector<float> y = dequantize_tensor(*t);
    double sum_e2 = 0;
    for (size_t i = 0; i < w.size(); ++i) sum_e2 += (static_cast<double>(w[i]) - y[i]) * (w[i] - y[i]);
    const double rel = std::sqrt(sum_e2 / sum_x2);
    EXPECT_GE(rel, e.lo);
    EXPECT_LE(rel, e.hi);
    std::printf("  %-6s relative RMS error %.5f (band %.5f .. %.5f)\n", e.type, rel, e.lo, e.hi);
  }
}

// ---- Per-tensor mixes -------------------------------------------------------------------------

// A tiny llama whose rows fit the k-quants' 256-element blocks everywhere.
test::TinyLlamaSpec k_quant_spec(int n_layer) {
  test::TinyLlamaSpec s;
  s.n_embd = 256;
  s.n_ff = 256;
  s.n_head = 4;
  s.n_head_kv = 1;
  s.n_layer = n_layer;
  return s;
}

// The expected type of every matrix of a tiny llama, given the type of each role.
std::map<std::string, std::string> expected_types(int n_layer, const std::string& rest,
                                                  const std::map<std::string, std::string>& special) {
  std::map<std::string, std::string> m;
  auto put = [&](const std::string& name, const std::string& def) {
    auto it = special.find(name);
    m[name] = it != special.end() ? it->second : def;
  };
  put("token_embd.weight", rest);
  put("output.weight", rest);
  put("output_norm.weight", "f32");
  for (int i = 0; i < n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    for (const char* n : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"}) {
      put(p + n + ".weight", rest);
    }
    put(p + "attn_norm.weight", "f32");
    put(p + "ffn_norm.weight", "f32");
  }
  return m;
}

// Q6_K for attn_v and ffn_down in the first eighth, the last eighth and every third layer between:
// of 12 layers (12/8 = 1, 7*12/8 = 10) that is 0, 3, 6, 9 (1 + 2, +3, ...) and 10, 11.
std::map<std::string, std::string> k_m_special(const std::string& more) {
  std::map<std::string, std::string> s = {{"output.weight", more}};
  for (int i : {0, 3, 6, 9, 10, 11}) {
    s["blk." + std::to_string(i) + ".attn_v.weight"] = more;
    s["blk." + std::to_string(i) + ".ffn_down.weight"] = more;
  }
  return s;
}

TEST(Quantize, KMixesGiveTheSensitiveTensorsMoreBits) {
  TempDir dir;
  const std::string in = dir.write("in.gguf", test::make_tiny_llama(k_quant_spec(12)));
  struct Case {
    QuantType type;
    std::map<std::string, std::string> want;
  };
  std::map<std::string, std::string> q4_k_s = {{"output.weight", "q6_k"}, {"blk.0.ffn_down.weight", "q5_k"}};
  for (int i = 0; i < 4; ++i) q4_k_s["blk." + std::to_string(i) + ".attn_v.weight"] = "q5_k";
  const Case cases[] = {
      {QuantType::kQ4_K_M, expected_types(12, "q4_k", k_m_special("q6_k"))},
      {QuantType::kQ5_K_M, expected_types(12, "q5_k", k_m_special("q6_k"))},
      {QuantType::kQ4_K_S, expected_types(12, "q4_k", q4_k_s)},
      {QuantType::kQ5_K_S, expected_types(12, "q5_k", {{"output.weight", "q6_k"}})},
      {QuantType::kQ6_K, expected_types(12, "q6_k", {})},
      // The legacy types keep only the output projection's bump; Q8_0 is already enough.
      {QuantType::kQ4_0, expected_types(12, "q4_0", {{"output.weight", "q6_k"}})},
      {QuantType::kQ8_0, expected_types(12, "q8_0", {})},
      {QuantType::kF16, expected_types(12, "f16", {})},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(quant_type_name(c.type));
    const std::string out = dir.str("out.gguf");
    auto r = quantize_gguf(in, out, c.type);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(types_of(out), c.want);
    EXPECT_EQ(r->n_fallback, 0);
    EXPECT_EQ(r->n_requantized, 0);
  }
}

TEST(Quantize, TiedEmbeddingIsTreatedAsTheOutput) {
  TempDir dir;
  test::TinyLlamaSpec s = k_quant_spec(2);
  s.tied = true;
  const std::string in = dir.write("in.gguf", test::make_tiny_llama(s));
  ASSERT_TRUE(quantize_gguf(in, dir.str("out.gguf"), QuantType::kQ4_K_M).ok());
  EXPECT_EQ(types_of(dir.str("out.gguf"))["token_embd.weight"], "q6_k");
  // With an output.weight the embedding is an ordinary matrix.
  const std::string untied = dir.write("untied.gguf", test::make_tiny_llama(k_quant_spec(2)));
  ASSERT_TRUE(quantize_gguf(untied, dir.str("out2.gguf"), QuantType::kQ4_K_M).ok());
  EXPECT_EQ(types_of(dir.str("out2.gguf"))["token_embd.weight"], "q4_k");
}

// ---- Fallbacks --------------------------------------------------------------------------------

TEST(Quantize, RowsTheBlocksDoNotFitFallBack) {
  TempDir dir;
  // Rows of 64 (the default tiny llama): k-quants step down to 32-blocks of about their size.
  const std::string in = dir.write("in.gguf", test::make_tiny_llama({}));
  auto r = quantize_gguf(in, dir.str("k.gguf"), QuantType::kQ4_K_M);
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto types = types_of(dir.str("k.gguf"));
  EXPECT_EQ(types["blk.0.attn_q.weight"], "q5_0");  // q4_k -> q5_0
  EXPECT_EQ(types["blk.0.attn_v.weight"], "q5_0");  // q4_k -> q5_0
  EXPECT_EQ(types["blk.1.attn_v.weight"], "q8_0");  // q6_k (the last eighth of 2 layers) -> q8_0
  // The output's own rule picks q8_0 outright when the base type's blocks do not fit: no fallback.
  EXPECT_EQ(types["output.weight"], "q8_0");
  EXPECT_EQ(types["blk.0.attn_norm.weight"], "f32");
  for (const QuantizedTensor& t : r->tensors) {
    if (t.name.find("norm") != std::string::npos || t.name == "output.weight") {
      EXPECT_TRUE(t.fallback_from.empty()) << t.name;
    } else {
      EXPECT_EQ(t.fallback_from, t.to == "q8_0" ? "q6_k" : "q4_k") << t.name;
    }
  }
  EXPECT_EQ(r->n_fallback, static_cast<int>(r->tensors.size()) - 6);  // all but 5 norms and the output
  ASSERT_TRUE(quantize_gguf(in, dir.str("q5.gguf"), QuantType::kQ5_K_M).ok());
  EXPECT_EQ(types_of(dir.str("q5.gguf"))["blk.1.attn_q.weight"], "q5_1");  // q5_k -> q5_1

  // Rows of 48 fit no 32-block: F16, for legacy and k types alike; rows of 96 fit q8_0.
  gguf::Writer w;
  w.set_string("general.architecture", "llama");
  ASSERT_TRUE(
      w.add_tensor("blk.0.ffn_up.weight", DType::F32, {48, 4}, f32_bytes(std::vector<float>(192, 0.5f)))
          .ok());
  ASSERT_TRUE(
      w.add_tensor("output.weight", DType::F32, {96, 2}, f32_bytes(std::vector<float>(192, 0.25f))).ok());
  const std::string odd = dir.write("odd.gguf", w.to_bytes());
  for (QuantType q : {QuantType::kQ4_0, QuantType::kQ4_K_M, QuantType::kQ8_0}) {
    SCOPED_TRACE(quant_type_name(q));
    ASSERT_TRUE(quantize_gguf(odd, dir.str("odd_out.gguf"), q).ok());
    types = types_of(dir.str("odd_out.gguf"));
    EXPECT_EQ(types["blk.0.ffn_up.weight"], "f16");
    EXPECT_EQ(types["output.weight"], "q8_0");
  }
}

// ---- Metadata, requantizing, refusals ---------------------------------------------------------

bool same_value(const gguf::Value& a, const gguf::Value& b) {
  if (a.type != b.type || a.u != b.u || a.i != b.i || a.str != b.str || a.f != b.f) return false;
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

TEST(Quantize, MetadataIsCopiedAndTheFileTypeSet) {
  TempDir dir;
  auto bytes = test::make_tiny_llama({});
  auto tiny = gguf::File::parse(bytes);
  ASSERT_TRUE(tiny.ok());
  // The tiny model's keys plus one of every value type, re-written with the writer under test.
  gguf::Writer w;
  for (const auto& [k, v] : tiny->metadata()) w.set_value(k, v);
  w.set_u8("test.u8", 200);
  w.set_i8("test.i8", -100);
  w.set_u16("test.u16", 60000);
  w.set_i16("test.i16", -30000);
  w.set_i64("test.i64", -(int64_t{1} << 40));
  w.set_u64("test.u64", uint64_t{1} << 63);
  w.set_f64("test.f64", 0.1);
  w.set_bool("test.bool", true);
  w.set_array_u32("test.array_u32", {1, 2, 3});
  w.set_u32("general.file_type", 0);
  w.set_alignment(64);
  for (const gguf::TensorInfo& t : tiny->tensors()) {
    ASSERT_TRUE(w.add_tensor(t.name, t.type, std::vector<int64_t>(t.ne, t.ne + t.n_dims),
                             std::vector<uint8_t>(t.data, t.data + t.n_bytes))
                    .ok());
  }
  const std::string in = dir.write("in.gguf", w.to_bytes());
  auto src = gguf::File::open(in);
  ASSERT_TRUE(src.ok());
  // llama.cpp's LLAMA_FTYPE ids (llama.h).
  const std::pair<QuantType, uint32_t> ids[] = {
      {QuantType::kF32, 0},     {QuantType::kF16, 1},     {QuantType::kQ4_0, 2},    {QuantType::kQ4_1, 3},
      {QuantType::kQ8_0, 7},    {QuantType::kQ5_0, 8},    {QuantType::kQ5_1, 9},    {QuantType::kQ4_K_S, 14},
      {QuantType::kQ4_K_M, 15}, {QuantType::kQ5_K_S, 16}, {QuantType::kQ5_K_M, 17}, {QuantType::kQ6_K, 18},
      {QuantType::kBF16, 32},
  };
  for (const auto& [q, id] : ids) {
    SCOPED_TRACE(quant_type_name(q));
    const std::string out = dir.str("out.gguf");
    ASSERT_TRUE(quantize_gguf(in, out, q).ok());
    auto f = gguf::File::open(out);
    ASSERT_TRUE(f.ok()) << f.error().message;
    EXPECT_EQ(f->alignment(), 64u);
    for (const auto& [key, v] : src->metadata()) {
      if (key == "general.file_type") continue;
      const gguf::Value* got = f->find(key);
      ASSERT_NE(got, nullptr) << key;
      EXPECT_TRUE(same_value(*got, v)) << key;
    }
    EXPECT_EQ(*f->get_uint("general.file_type"), id);
    EXPECT_EQ(*f->get_uint("general.quantization_version"), 2u);
    EXPECT_EQ(f->metadata().size(), src->metadata().size() + 1);  // + quantization_version
  }
}

TEST(Quantize, RequantizingIsCountedAndTheSameTypeCopied) {
  TempDir dir;
  test::TinyLlamaSpec s;
  s.wtype = DType::Q8_0;
  const std::string in = dir.write("in.gguf", test::make_tiny_llama(s));
  auto same = quantize_gguf(in, dir.str("same.gguf"), QuantType::kQ8_0);
  ASSERT_TRUE(same.ok()) << same.error().message;
  EXPECT_EQ(same->n_converted, 0);
  auto a = gguf::File::open(in), b = gguf::File::open(dir.str("same.gguf"));
  ASSERT_TRUE(a.ok() && b.ok());
  for (const gguf::TensorInfo& t : a->tensors()) {
    const gguf::TensorInfo* u = b->find_tensor(t.name);
    ASSERT_NE(u, nullptr);
    EXPECT_EQ(std::vector<uint8_t>(t.data, t.data + t.n_bytes),
              std::vector<uint8_t>(u->data, u->data + u->n_bytes))
        << t.name;
  }

  auto re = quantize_gguf(in, dir.str("q4.gguf"), QuantType::kQ4_0);
  ASSERT_TRUE(re.ok()) << re.error().message;
  // All matrices but output.weight, whose q6_k falls back to q8_0 on rows of 64: already that.
  const int n_matrices = static_cast<int>(re->tensors.size()) - 5;
  EXPECT_EQ(re->n_converted, n_matrices - 1);
  EXPECT_EQ(re->n_requantized, n_matrices - 1);
  EXPECT_EQ(types_of(dir.str("q4.gguf"))["output.weight"], "q8_0");
  // Dequantizing is not requantizing.
  auto up = quantize_gguf(in, dir.str("f16.gguf"), QuantType::kF16);
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(up->n_converted, n_matrices);
  EXPECT_EQ(up->n_requantized, 0);
}

TEST(Quantize, ThreadCountDoesNotChangeTheBytes) {
  TempDir dir;
  const std::string in = dir.write("in.gguf", test::make_tiny_llama(k_quant_spec(2)));
  QuantizeOptions one, three;
  one.n_threads = 1;
  three.n_threads = 3;
  int seen = 0;
  three.on_tensor = [&seen](const QuantizedTensor&) { ++seen; };
  ASSERT_TRUE(quantize_gguf(in, dir.str("a.gguf"), QuantType::kQ4_K_M, one).ok());
  auto r = quantize_gguf(in, dir.str("b.gguf"), QuantType::kQ4_K_M, three);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(seen, static_cast<int>(r->tensors.size()));
  std::ifstream fa(dir.str("a.gguf"), std::ios::binary), fb(dir.str("b.gguf"), std::ios::binary);
  EXPECT_TRUE(std::equal(std::istreambuf_iterator<char>(fa), {}, std::istreambuf_iterator<char>(fb), {}));
  EXPECT_EQ(r->file_size_out, fs::file_size(dir.str("b.gguf")));
  EXPECT_EQ(r->file_size_in, fs::file_size(in));
}

TEST(Quantize, RefusesWhatItCannotConvertAndLeavesNoFile) {
  TempDir dir;
  const std::string out = dir.str("out.gguf");
  auto missing = quantize_gguf(dir.str("nope.gguf"), out, QuantType::kQ8_0);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("nope.gguf"), std::string::npos) << missing.error().message;

  const std::string junk = dir.write("junk.gguf", {'n', 'o', 't', ' ', 'g', 'g', 'u', 'f', 0, 0, 0, 0});
  auto bad = quantize_gguf(junk, out, QuantType::kQ8_0);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("quantize: "), std::string::npos) << bad.error().message;

  test::TinyLlamaSpec s;
  s.raw_type_id = static_cast<uint32_t>(DType::IQ2_XXS);  // attn_q claims a type minnow cannot decode
  s.n_embd = 256;
  s.n_ff = 256;
  const std::string iq = dir.write("iq.gguf", test::make_tiny_llama(s));
  auto r = quantize_gguf(iq, out, QuantType::kQ8_0);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("'blk.0.attn_q.weight' is iq2_xxs"), std::string::npos)
      << r.error().message;
  EXPECT_FALSE(fs::exists(out));

  // A NaN in a weight is an error naming the tensor and the row, not a file of garbage.
  std::vector<float> w(64 * 4, 0.5f);
  w[2 * 64 + 7] = NAN;
  gguf::Writer nw;
  ASSERT_TRUE(nw.add_tensor("blk.0.ffn_up.weight", DType::F32, {64, 4}, f32_bytes(w)).ok());
  const std::string nan_in = dir.write("nan.gguf", nw.to_bytes());
  std::ofstream(out) << "keep me";
  auto nan = quantize_gguf(nan_in, out, QuantType::kQ4_0);
  ASSERT_FALSE(nan.ok());
  EXPECT_NE(nan.error().message.find("'blk.0.ffn_up.weight': row 2 holds NaN"), std::string::npos)
      << nan.error().message;
  std::ifstream kept_file(out);
  std::string content((std::istreambuf_iterator<char>(kept_file)), {});
  EXPECT_EQ(content, "keep me");  // an existing output stays as it was
  for (const auto& e : fs::directory_iterator(dir.path)) {
    EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << "temporary left: " << e.path();
  }
}

TEST(Quantize, TypeNamesParse) {
  EXPECT_EQ(parse_quant_type("q4_k_m"), QuantType::kQ4_K_M);
  EXPECT_EQ(parse_quant_type("Q8_0"), QuantType::kQ8_0);
  EXPECT_EQ(parse_quant_type("bf16"), QuantType::kBF16);
  EXPECT_EQ(parse_quant_type("Q4_K"), std::nullopt);  // ambiguous: _S or _M
  EXPECT_EQ(parse_quant_type(""), std::nullopt);
  EXPECT_EQ(parse_quant_type("q4_0 "), std::nullopt);
  for (QuantType q : {QuantType::kQ4_0, QuantType::kQ5_K_M, QuantType::kF32}) {
    EXPECT_EQ(parse_quant_type(quant_type_name(q)), q);
    EXPECT_NE(std::string(kQuantTypeNames).find(quant_type_name(q)), std::string::npos);
  }
}

// ---- Quantized models run ---------------------------------------------------------------------

// Relative RMS difference of the logits of a fixed token sequence between two model files.
double logits_rel_rms(const std::string& a_path, const std::string& b_path) {
  const std::vector<int32_t> ids = {1, 280, 270, 285, 77, 268, 290, 120, 261, 264, 42, 275};  // < 293
  std::vector<std::vector<float>> rows[2];
  int k = 0;
  for (const std::string* p : {&a_path, &b_path}) {
    auto m = Model::load(*p, LoadOptions{.n_threads = 1, .isa = "", .chat_template = "", .repack = true});
    EXPECT_TRUE(m.ok()) << m.error().message;
    if (!m.ok()) return INFINITY;
    auto s = (*m)->new_session({});
    EXPECT_TRUE(s.ok());
    EXPECT_TRUE((*s)->eval(ids, true).ok());
    for (size_t i = 0; i < ids.size(); ++i) {
      auto row = (*s)->logits(static_cast<int64_t>(i));
      rows[k].emplace_back(row.begin(), row.end());
    }
    ++k;
  }
  double num = 0, den = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    for (size_t j = 0; j < rows[0][i].size(); ++j) {
      const double d = static_cast<double>(rows[0][i][j]) - rows[1][i][j];
      EXPECT_TRUE(std::isfinite(rows[1][i][j]));
      num += d * d;
      den += static_cast<double>(rows[0][i][j]) * rows[0][i][j];
    }
  }
  return std::sqrt(num / den);
}

TEST(Quantize, QuantizedTinyModelsLoadAndStayCloseToF32) {
  TempDir dir;
  const std::string in = dir.write("in.gguf", test::make_tiny_llama(k_quant_spec(4)));
  // Logit error follows weight error (q8_0 ~0.5%, q4_k ~7%), amplified by 4 random layers and
  // the 8-bit activations of the quantized dot products: measured f16 0.001, q8_0 0.023,
  // q4_k_m 0.21 (3-4x the weight error). Bounds about 2x above those, and the order.
  ASSERT_TRUE(quantize_gguf(in, dir.str("q8.gguf"), QuantType::kQ8_0).ok());
  ASSERT_TRUE(quantize_gguf(in, dir.str("q4km.gguf"), QuantType::kQ4_K_M).ok());
  ASSERT_TRUE(quantize_gguf(in, dir.str("f16.gguf"), QuantType::kF16).ok());
  const double e8 = logits_rel_rms(in, dir.str("q8.gguf"));
  const double e4 = logits_rel_rms(in, dir.str("q4km.gguf"));
  const double e16 = logits_rel_rms(in, dir.str("f16.gguf"));
  std::printf("  logits relative RMS vs f32: f16 %.5f, q8_0 %.5f, q4_k_m %.5f\n", e16, e8, e4);
  EXPECT_LT(e16, 0.01);
  EXPECT_LT(e8, 0.05);
  EXPECT_LT(e4, 0.45);
  EXPECT_LT(e8, e4);
}

}  // namespace
}  // namespace minnow

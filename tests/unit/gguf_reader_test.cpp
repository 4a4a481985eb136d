// GGUF writer -> reader round trips (every value type, arrays, tensor types and shapes, two
// alignments), typed getters, file I/O, and reading the real GGUF files in ../shared.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "test_util.h"

namespace minnow::gguf {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

// A scratch directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("minnow_gguf_test_" + std::to_string(::getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

struct TensorSpec {
  std::string name;
  DType type;
  std::vector<int64_t> ne;
  size_t bytes;
};

// Shapes chosen so no tensor's bytes are a multiple of 32: every one is followed by padding.
const std::vector<TensorSpec>& tensor_specs() {
  static const std::vector<TensorSpec> specs = {
      {"a.f32", DType::F32, {3}, 12},
      {"b.f16", DType::F16, {5, 3}, 30},
      {"c.q4_0", DType::Q4_0, {64, 3}, 2 * 18 * 3},
      {"d.q8_0", DType::Q8_0, {32, 2, 1}, 2 * 34},
      {"blk.0.q4_k", DType::Q4_K, {256, 1}, 144},
      {"e.iq2_xxs", DType::IQ2_XXS, {256}, 66},  // defined but unsupported: must still parse
      {"f.i8", DType::I8, {5, 1, 1, 3}, 15},
      {"g.empty", DType::F32, {0, 4}, 0},
  };
  return specs;
}

Writer make_writer(uint64_t alignment) {
  Writer w;
  w.set_string("general.architecture", "llama");
  w.set_u8("t.u8", 200);
  w.set_i8("t.i8", -100);
  w.set_u16("t.u16", 60000);
  w.set_i16("t.i16", -30000);
  w.set_u32("t.u32", 4000000000u);
  w.set_i32("t.i32", -2000000000);
  w.set_u64("t.u64", (uint64_t{1} << 63) + 5);
  w.set_i64("t.i64", -(int64_t{1} << 62));
  w.set_f32("t.f32", 1.5f);
  w.set_f64("t.f64", -2.25e100);
  w.set_bool("t.true", true);
  w.set_bool("t.false", false);
  w.set_string("t.str", std::string("nul\0inside \xe2\x9c\x93", 15));
  w.set_string("t.empty_str", "");
  w.set_array_string("t.arr_str", {"a", "", "<0x0A>", "\xe2\x96\x81the"});
  w.set_array_f32("t.arr_f32", {0.5f, -1.0f, 3.25f});
  w.set_array_i32("t.arr_i32", {-1, 0, 2147483647});
  w.set_array_u32("t.arr_u32", {0, 4294967295u});
  w.set_array_f32("t.arr_empty", {});
  w.set_array_string("t.arr_empty_str", {});
  w.set_alignment(alignment);
  uint8_t seed = 1;
  for (const TensorSpec& s : tensor_specs()) {
    EXPECT_TRUE(w.add_tensor(s.name, s.type, s.ne, pattern(s.bytes, seed++)).ok()) << s.name;
  }
  return w;
}

class RoundTrip : public ::testing::TestWithParam<uint64_t> {};

TEST_P(RoundTrip, EveryValueTypeAndTensor) {
  const uint64_t alignment = GetParam();
  std::vector<uint8_t> bytes = make_writer(alignment).to_bytes();
  auto r = File::parse(bytes);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const File& f = *r;
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), alignment);
  EXPECT_EQ(f.data_offset() % alignment, 0u);
  EXPECT_EQ(f.file_size(), bytes.size());
  EXPECT_EQ(bytes.size() % alignment, 0u);
  EXPECT_EQ(f.find("general.alignment") != nullptr, alignment != 32);

  EXPECT_EQ(*f.get_string("general.architecture"), "llama");
  EXPECT_EQ(*f.get_int("t.u8"), 200);
  EXPECT_EQ(*f.get_int("t.i8"), -100);
  EXPECT_EQ(*f.get_int("t.u16"), 60000);
  EXPECT_EQ(*f.get_int("t.i16"), -30000);
  EXPECT_EQ(*f.get_int("t.u32"), 4000000000);
  EXPECT_EQ(*f.get_int("t.i32"), -2000000000);
  EXPECT_EQ(*f.get_uint("t.u64"), (uint64_t{1} << 63) + 5);
  EXPECT_EQ(*f.get_int("t.i64"), -(int64_t{1} << 62));
  EXPECT_EQ(*f.get_float("t.f32"), 1.5);
  EXPECT_EQ(*f.get_float("t.f64"), -2.25e100);
  EXPECT_EQ(*f.get_bool("t.true"), true);
  EXPECT_EQ(*f.get_bool("t.false"), false);
  EXPECT_EQ(*f.get_string("t.str"), std::string_view("nul\0inside \xe2\x9c\x93", 15));
  EXPECT_EQ(*f.get_string("t.empty_str"), "");
  EXPECT_EQ(f.find("t.u8")->type, ValueType::UINT8);
  EXPECT_EQ(f.find("t.f64")->type, ValueType::FLOAT64);

  const ArrayValue* s = *f.get_array("t.arr_str");
  ASSERT_EQ(s->elem_type, ValueType::STRING);
  ASSERT_EQ(s->count, 4u);
  ASSERT_EQ(s->strings.size(), 4u);
  EXPECT_EQ(s->strings[0], "a");
  EXPECT_EQ(s->strings[1], "");
  EXPECT_EQ(s->strings[2], "<0x0A>");
  EXPECT_EQ(s->strings[3], "\xe2\x96\x81the");
  EXPECT_EQ(s->int_at(0), 0);  // strings read as 0 through the numeric accessors

  const ArrayValue* af = *f.get_array("t.arr_f32");
  ASSERT_EQ(af->elem_type, ValueType::FLOAT32);
  ASSERT_EQ(af->count, 3u);
  EXPECT_EQ(af->float_at(0), 0.5);
  EXPECT_EQ(af->float_at(1), -1.0);
  EXPECT_EQ(af->float_at(2), 3.25);
  EXPECT_EQ(af->int_at(2), 3);
  EXPECT_EQ(af->float_at(3), 0.0);  // out of range

  const ArrayValue* ai = *f.get_array("t.arr_i32");
  ASSERT_EQ(ai->count, 3u);
  EXPECT_EQ(ai->int_at(0), -1);
  EXPECT_EQ(ai->int_at(1), 0);
  EXPECT_EQ(ai->int_at(2), 2147483647);
  EXPECT_EQ(ai->float_at(0), -1.0);

  const ArrayValue* au = *f.get_array("t.arr_u32");
  ASSERT_EQ(au->elem_type, ValueType::UINT32);
  EXPECT_EQ(au->int_at(1), 4294967295);

  EXPECT_EQ((*f.get_array("t.arr_empty"))->count, 0u);
  EXPECT_EQ((*f.get_array("t.arr_empty_str"))->count, 0u);
  EXPECT_TRUE((*f.get_array("t.arr_empty_str"))->strings.empty());

  const auto& specs = tensor_specs();
  ASSERT_EQ(f.tensors().size(), specs.size());
  uint8_t seed = 1;
  for (size_t k = 0; k < specs.size(); ++k) {
    const TensorInfo& t = f.tensors()[k];
    const TensorSpec& s = specs[k];
    SCOPED_TRACE(s.name);
    EXPECT_EQ(t.name, s.name);
    EXPECT_EQ(t.type, s.type);
    EXPECT_EQ(t.n_dims, static_cast<int>(s.ne.size()));
    int64_t n = 1;
    for (int d = 0; d < kMaxDims; ++d) {
      int64_t want = d < static_cast<int>(s.ne.size()) ? s.ne[d] : 1;
      EXPECT_EQ(t.ne[d], want);
      n *= want;
    }
    EXPECT_EQ(t.n_elements(), n);
    EXPECT_EQ(t.n_bytes, s.bytes);
    EXPECT_EQ(t.offset % alignment, 0u);
    ASSERT_NE(t.data, nullptr);
    EXPECT_EQ(t.data, bytes.data() + f.data_offset() + t.offset);
    EXPECT_EQ(std::vector<uint8_t>(t.data, t.data + t.n_bytes), pattern(s.bytes, seed++));
    EXPECT_EQ(f.find_tensor(s.name), &t);
  }
  EXPECT_EQ(f.find_tensor("nope"), nullptr);
  EXPECT_EQ(f.find("nope"), nullptr);
}

INSTANTIATE_TEST_SUITE_P(Alignments, RoundTrip, ::testing::Values(32, 64, 1, 256));

TEST(GgufWriter, KeysKeepInsertionOrderAndReplaceInPlace) {
  Writer w;
  w.set_u32("b", 1);
  w.set_string("a", "x");
  w.set_u32("c", 3);
  w.set_string("b", "replaced");  // a new type too
  const std::vector<uint8_t> bytes = w.to_bytes();
  auto r = File::parse(bytes);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->metadata().size(), 3u);
  EXPECT_EQ(r->metadata()[0].first, "b");
  EXPECT_EQ(r->metadata()[1].first, "a");
  EXPECT_EQ(r->metadata()[2].first, "c");
  EXPECT_EQ(*r->get_string("b"), "replaced");
}

TEST(GgufWriter, AlignmentBackToDefaultDropsTheKey) {
  Writer w;
  w.set_alignment(64);
  w.set_alignment(32);
  const std::vector<uint8_t> bytes = w.to_bytes();
  auto r = File::parse(bytes);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->find("general.alignment"), nullptr);
  EXPECT_EQ(r->alignment(), 32u);
}

TEST(GgufWriter, EmptyFileParses) {
  std::vector<uint8_t> b = Writer().to_bytes();
  auto r = File::parse(b);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->metadata().empty());
  EXPECT_TRUE(r->tensors().empty());
}

TEST(GgufWriter, AddTensorValidates) {
  Writer w;
  ASSERT_TRUE(w.add_tensor("x", DType::F32, {2, 2}, std::vector<uint8_t>(16)).ok());
  auto dup = w.add_tensor("x", DType::F32, {2, 2}, std::vector<uint8_t>(16));
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.error().message.find("duplicate tensor name 'x'"), std::string::npos);
  auto size = w.add_tensor("y", DType::F32, {2, 2}, std::vector<uint8_t>(15));
  ASSERT_FALSE(size.ok());
  EXPECT_NE(size.error().message.find("15 bytes"), std::string::npos) << size.error().message;
  EXPECT_NE(size.error().message.find("16"), std::string::npos);
  auto block = w.add_tensor("z", DType::Q4_0, {33}, std::vector<uint8_t>(18));
  ASSERT_FALSE(block.ok());
  EXPECT_NE(block.error().message.find("block size 32"), std::string::npos);
  EXPECT_FALSE(w.add_tensor("d0", DType::F32, {}, {}).ok());
  EXPECT_FALSE(w.add_tensor("d5", DType::F32, {1, 1, 1, 1, 1}, std::vector<uint8_t>(4)).ok());
  EXPECT_FALSE(w.add_tensor("neg", DType::F32, {-1}, {}).ok());
  EXPECT_FALSE(w.add_tensor("bad", static_cast<DType>(4), {1}, std::vector<uint8_t>(4)).ok());
  auto big = w.add_tensor("big", DType::F64, {int64_t{1} << 62, 4}, {});
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().message.find("overflows"), std::string::npos);
  for (const auto& e : {dup.error(), size.error(), block.error()})
    EXPECT_EQ(e.message.rfind("gguf: ", 0), 0u);
}

TEST(GgufGetters, TypesDefaultsAndMessages) {
  Writer w;
  w.set_string("llama.context_length", "2048");
  w.set_u64("big", ~uint64_t{0});
  w.set_i32("neg", -3);
  w.set_u16("small", 7);
  w.set_f32("flt", 0.25f);
  w.set_bool("flag", true);
  w.set_array_i32("arr", {1, 2});
  const std::vector<uint8_t> bytes = w.to_bytes();
  auto r = File::parse(bytes);
  ASSERT_TRUE(r.ok());
  const File& f = *r;

  auto e = f.get_int("llama.context_length");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message, "gguf: key 'llama.context_length': expected an integer, found string");
  auto m = f.get_int("llama.block_count");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().message, "gguf: missing key 'llama.block_count'");

  EXPECT_FALSE(f.get_int("big").ok());  // does not fit int64
  EXPECT_EQ(*f.get_uint("big"), ~uint64_t{0});
  EXPECT_EQ(*f.get_float("big"), 18446744073709551615.0);
  EXPECT_EQ(*f.get_int("neg"), -3);
  auto neg = f.get_uint("neg");
  ASSERT_FALSE(neg.ok());
  EXPECT_NE(neg.error().message.find("'neg'"), std::string::npos);
  EXPECT_EQ(*f.get_uint("small"), 7u);
  EXPECT_EQ(*f.get_float("small"), 7.0);  // integers are accepted as floats
  EXPECT_EQ(*f.get_float("flt"), 0.25);
  EXPECT_FALSE(f.get_int("flt").ok());
  EXPECT_FALSE(f.get_bool("small").ok());
  EXPECT_TRUE(*f.get_bool("flag"));
  EXPECT_FALSE(f.get_int("flag").ok());
  EXPECT_FALSE(f.get_string("small").ok());
  auto arr_as_int = f.get_int("arr");
  ASSERT_FALSE(arr_as_int.ok());
  EXPECT_EQ(arr_as_int.error().message, "gguf: key 'arr': expected an integer, found array of int32");
  auto not_arr = f.get_array("flt");
  ASSERT_FALSE(not_arr.ok());
  EXPECT_EQ(not_arr.error().message, "gguf: key 'flt': expected an array, found float32");
  EXPECT_FALSE(f.get_float("llama.context_length").ok());
  EXPECT_FALSE(f.get_array("absent").ok());
  EXPECT_FALSE(f.get_uint("absent").ok());

  EXPECT_EQ(*f.get_int_or("absent", 42), 42);
  EXPECT_EQ(*f.get_int_or("small", 42), 7);
  EXPECT_FALSE(f.get_int_or("llama.context_length", 42).ok());  // present but wrong type
  EXPECT_EQ(*f.get_float_or("absent", 1.5), 1.5);
  EXPECT_FALSE(f.get_float_or("flag", 1.5).ok());
  EXPECT_EQ(*f.get_bool_or("absent", true), true);
  EXPECT_FALSE(f.get_bool_or("small", true).ok());
  EXPECT_EQ(*f.get_string_or("absent", "dflt"), "dflt");
  EXPECT_EQ(*f.get_string_or("llama.context_length", "dflt"), "2048");
  EXPECT_FALSE(f.get_string_or("small", "dflt").ok());
}

TEST(GgufFile, WriteThenOpen) {
  TempDir dir;
  const std::string path = dir.file("model.gguf");
  Writer w = make_writer(64);
  ASSERT_TRUE(w.write(path).ok());
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> on_disk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(on_disk, w.to_bytes());  // streaming write == in-memory serialization

  auto r = File::open(path);
  ASSERT_TRUE(r.ok()) << r.error().message;
  File f = std::move(r).value();
  File moved = std::move(f);  // views into the mapping survive moves
  EXPECT_EQ(*moved.get_string("general.architecture"), "llama");
  const TensorInfo* t = moved.find_tensor("c.q4_0");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(std::vector<uint8_t>(t->data, t->data + t->n_bytes), pattern(t->n_bytes, 3));
  for (const auto& e : fs::directory_iterator(fs::path(path).parent_path())) {
    EXPECT_EQ(e.path().filename(), "model.gguf");  // no temporary left behind
  }
}

TEST(GgufFile, OpenErrorsNameThePath) {
  TempDir dir;
  const std::string missing = dir.file("missing.gguf");
  auto r = File::open(missing);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.rfind("gguf: " + missing + ": ", 0), 0u) << r.error().message;

  const std::string text = dir.file("text.gguf");
  std::ofstream(text) << "hello, not a model\n";
  auto t = File::open(text);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().message, "gguf: " + text + ": not a GGUF file (bad magic)");

  const std::string empty = dir.file("empty.gguf");
  std::ofstream(empty).flush();
  auto e = File::open(empty);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message.rfind("gguf: " + empty + ": ", 0), 0u) << e.error().message;

  auto d = File::open(dir.file(""));
  EXPECT_FALSE(d.ok());  // a directory
}

TEST(GgufFile, WriteFailsCleanly) {
  TempDir dir;
  auto st = make_writer(32).write(dir.file("no/such/dir/x.gguf"));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message.rfind("gguf: ", 0), 0u);
}

// Every tensor of a real file lies in bounds and every metadata value is readable.
void check_consistent(const File& f) {
  for (const TensorInfo& t : f.tensors()) {
    EXPECT_NE(t.data, nullptr);
    EXPECT_LE(f.data_offset() + t.offset + t.n_bytes, f.file_size()) << t.name;
    EXPECT_EQ(t.offset % f.alignment(), 0u);
    EXPECT_EQ(f.find_tensor(t.name), &t);
  }
  for (const auto& [key, v] : f.metadata()) EXPECT_EQ(f.find(key), &v);
}

TEST(GgufShared, Stories260K) {
  MINNOW_REQUIRE_SHARED("models/stories260K.gguf");
  auto r = File::open(test::shared_path("models/stories260K.gguf"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const File& f = *r;
  EXPECT_EQ(*f.get_string("general.architecture"), "llama");
  const ArrayValue* tokens = *f.get_array("tokenizer.ggml.tokens");
  EXPECT_EQ(tokens->elem_type, ValueType::STRING);
  EXPECT_EQ(tokens->count, 512u);
  EXPECT_EQ(tokens->strings.size(), 512u);
  EXPECT_EQ(tokens->strings[0], "<unk>");
  const ArrayValue* scores = *f.get_array("tokenizer.ggml.scores");
  EXPECT_EQ(scores->count, 512u);
  EXPECT_TRUE(std::isfinite(scores->float_at(511)));
  EXPECT_GT(*f.get_int("llama.block_count"), 0);
  EXPECT_GT(*f.get_uint("llama.embedding_length"), 0u);
  const TensorInfo* emb = f.find_tensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->type, DType::F32);
  EXPECT_EQ(emb->ne[1], 512);
  EXPECT_EQ(emb->ne[0], *f.get_int("llama.embedding_length"));
  check_consistent(f);
}

TEST(GgufShared, TinyLlamaQ4_0) {
  MINNOW_REQUIRE_SHARED("reference/tiny-llama-q4_0.gguf");
  auto r = File::open(test::shared_path("reference/tiny-llama-q4_0.gguf"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r->get_string("general.architecture"), "llama");
  int q4 = 0;
  for (const TensorInfo& t : r->tensors()) q4 += t.type == DType::Q4_0;
  EXPECT_GT(q4, 0);
  check_consistent(*r);
}

TEST(GgufShared, EveryReferenceModelParses) {
  MINNOW_REQUIRE_SHARED("reference");
  int n = 0;
  for (const auto& e : fs::directory_iterator(test::shared_path("reference"))) {
    if (e.path().extension() != ".gguf") continue;
    SCOPED_TRACE(e.path().string());
    auto r = File::open(e.path().string());
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_FALSE(r->tensors().empty());
    EXPECT_TRUE(r->get_string("general.architecture").ok());
    check_consistent(*r);
    ++n;
  }
  EXPECT_GT(n, 0);
}

TEST(GgufShared, TokenizerVocabs) {
  MINNOW_REQUIRE_SHARED("tokenizer-tests/ggml-vocab-llama-spm.gguf");
  auto r = File::open(test::shared_path("tokenizer-tests/ggml-vocab-llama-spm.gguf"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r->get_string("tokenizer.ggml.model"), "llama");
  EXPECT_EQ((*r->get_array("tokenizer.ggml.tokens"))->count, 32000u);
  EXPECT_TRUE(r->tensors().empty());

  int n = 0;
  for (const auto& e : fs::directory_iterator(test::shared_path("tokenizer-tests"))) {
    if (e.path().extension() != ".gguf") continue;
    SCOPED_TRACE(e.path().string());
    auto v = File::open(e.path().string());
    ASSERT_TRUE(v.ok()) << v.error().message;
    auto tokens = v->get_array("tokenizer.ggml.tokens");
    ASSERT_TRUE(tokens.ok()) << tokens.error().message;
    EXPECT_EQ((*tokens)->strings.size(), (*tokens)->count);
    EXPECT_GT((*tokens)->count, 1000u);
    ++n;
  }
  EXPECT_GE(n, 10);
}

}  // namespace
}  // namespace minnow::gguf

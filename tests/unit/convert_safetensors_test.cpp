// The safetensors reader and writer: a round trip of every float dtype through bytes and through a
// file; a table of corrupt files, each an error naming the file, the tensor and the problem; every
// truncation and seeded random corruption of a valid file, which must never crash. Under
// ASan+UBSan this is the deterministic half of the fuzzing (tests/fuzz/convert_fuzz.cpp).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "convert/safetensors.h"

namespace minnow::convert {
namespace {

// A file from a header text and data bytes, the length field as given (or the header's).
std::vector<uint8_t> raw(const std::string& header, size_t data_bytes = 0,
                         std::optional<uint64_t> length = {}) {
  std::vector<uint8_t> v(8);
  const uint64_t n = length.value_or(header.size());
  std::memcpy(v.data(), &n, 8);
  v.insert(v.end(), header.begin(), header.end());
  v.resize(v.size() + data_bytes, 0);
  return v;
}

std::vector<uint8_t> sample_file() {
  SafetensorsWriter w;
  w.set_metadata("format", "pt");
  const std::vector<float> a = {1.0f, -2.5f, 0.125f, 3.0f, 49152.0f, -0.0f};
  EXPECT_TRUE(w.add_f32("model.a", StDType::F32, {2, 3}, a).ok());
  EXPECT_TRUE(w.add_f32("model.b", StDType::F16, {3, 2}, a).ok());
  EXPECT_TRUE(w.add_f32("model.c", StDType::BF16, {6}, a).ok());
  EXPECT_TRUE(w.add("model.ids", StDType::I64, {2}, std::vector<uint8_t>(16, 7)).ok());
  EXPECT_TRUE(w.add("model.empty", StDType::F32, {0, 4}, {}).ok());
  EXPECT_TRUE(w.add_f32("model.scalar", StDType::F32, {}, std::vector<float>{42.0f}).ok());
  return w.to_bytes();
}

TEST(Safetensors, RoundTrip) {
  const std::vector<uint8_t> bytes = sample_file();
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u) << "data starts 8-byte aligned";
  auto f = SafetensorsFile::parse(bytes, "sample.safetensors");
  ASSERT_TRUE(f.ok()) << f.error().message;
  ASSERT_EQ(f->tensors().size(), 6u);
  ASSERT_EQ(f->metadata().size(), 1u);
  EXPECT_EQ(f->metadata()[0], (std::pair<std::string, std::string>{"format", "pt"}));
  const std::vector<float> want = {1.0f, -2.5f, 0.125f, 3.0f, 49152.0f, -0.0f};  // exact in f16 and bf16
  for (const char* name : {"model.a", "model.b", "model.c"}) {
    const StTensor* t = f->find(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(t->n_elements, 6);
    std::vector<float> got(6);
    ASSERT_TRUE(read_f32(*t, 0, got).ok());
    for (size_t i = 0; i < 6; ++i) EXPECT_EQ(std::memcmp(&got[i], &want[i], 4), 0) << name << " " << i;
    std::vector<float> tail(2);
    ASSERT_TRUE(read_f32(*t, 4, tail).ok());
    EXPECT_EQ(tail[0], 49152.0f);
  }
  EXPECT_EQ(f->find("model.a")->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(f->find("model.b")->dtype, StDType::F16);
  EXPECT_EQ(f->find("model.c")->dtype, StDType::BF16);
  EXPECT_EQ(f->find("model.empty")->n_elements, 0);
  EXPECT_EQ(f->find("model.scalar")->n_elements, 1);
  EXPECT_TRUE(f->find("model.scalar")->shape.empty());
  EXPECT_EQ(f->find("nope"), nullptr);

  // Not a float type, and reads past the end: errors naming the tensor.
  std::vector<float> two(2), seven(7);
  auto e = read_f32(*f->find("model.ids"), 0, two);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("tensor 'model.ids' is I64"), std::string::npos) << e.error().message;
  e = read_f32(*f->find("model.a"), 0, seven);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("'model.a'"), std::string::npos);
  EXPECT_FALSE(read_f32(*f->find("model.a"), -1, two).ok());
  EXPECT_FALSE(read_f32(*f->find("model.a"), 5, two).ok());

  // BF16 and F16 round to nearest even.
  SafetensorsWriter w;
  const std::vector<float> odd = {1.0f + 1.0f / 256 +
                                  1.0f / 1024};  // between two bf16 values, nearer the upper
  ASSERT_TRUE(w.add_f32("x", StDType::BF16, {1}, odd).ok());
  const std::vector<uint8_t> b = w.to_bytes();
  auto g = SafetensorsFile::parse(b, "x");
  ASSERT_TRUE(g.ok());
  float x;
  ASSERT_TRUE(read_f32(*g->find("x"), 0, std::span<float>(&x, 1)).ok());
  EXPECT_EQ(x, 1.0f + 1.0f / 128);
}

TEST(Safetensors, FileRoundTripAndWriterErrors) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("minnow_st_" + std::to_string(getpid()) + ".safetensors"))
          .string();
  SafetensorsWriter w;
  const std::vector<float> v = {1, 2, 3, 4};
  ASSERT_TRUE(w.add_f32("w", StDType::F32, {2, 2}, v).ok());
  ASSERT_TRUE(w.write(path).ok());
  auto f = SafetensorsFile::open(path);
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->label(), path);
  std::vector<float> got(4);
  ASSERT_TRUE(read_f32(*f->find("w"), 0, got).ok());
  EXPECT_EQ(got, v);
  std::filesystem::remove(path);

  auto missing = SafetensorsFile::open(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find(path), std::string::npos);

  EXPECT_FALSE(w.add_f32("w", StDType::F32, {4}, v).ok());                      // duplicate
  EXPECT_FALSE(w.add_f32("y", StDType::F32, {3}, v).ok());                      // wrong size
  EXPECT_FALSE(w.add_f32("y", StDType::I32, {4}, v).ok());                      // not a float type
  EXPECT_FALSE(w.add("y", StDType::U8, {-1}, {}).ok());                         // negative dimension
  EXPECT_FALSE(w.add("__metadata__", StDType::U8, {1}, {0}).ok());              // reserved name
  EXPECT_FALSE(w.add("y", StDType::U8, std::vector<int64_t>(9, 1), {0}).ok());  // too many dims
}

struct Case {
  const char* name;
  std::vector<uint8_t> bytes;
  const char* expect;  // substring of the error; nullptr: must parse
};

std::vector<Case> cases() {
  const std::string t = R"("model.w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]})";
  auto one = [](const std::string& entry, size_t data = 16) { return raw("{" + entry + "}", data); };
  std::string deep;
  for (int i = 0; i < 200; ++i) deep += "[";
  return {
      {"empty", {}, "0 bytes, too short for the 8-byte header length"},
      {"short", {1, 0, 0}, "3 bytes, too short"},
      {"zero header length", raw("", 0, 0), "header length is 0"},
      {"header over limit", raw("{}", 0, uint64_t{200'000'000}), "header length 200000000 is over the"},
      {"header longer than file", raw("{}", 0, 1000),
       "header length 1000 runs past the end of the file (10 bytes)"},
      {"header length all ones", raw("{}", 0, ~uint64_t{0}), "header length 18446744073709551615"},
      {"bad json", raw("{\"a\": ", 0), "header: parse error"},
      {"nested too deep", raw(deep, 0), "nested deeper than"},
      {"header not object", raw("[1, 2]"), "header is not a JSON object"},
      {"entry not object", one(R"("model.w": 5)"), "tensor 'model.w': not an object"},
      {"no dtype", one(R"("model.w": {"shape": [4], "data_offsets": [0, 16]})"),
       "tensor 'model.w': no dtype"},
      {"unknown dtype", one(R"("model.w": {"dtype": "Q9", "shape": [4], "data_offsets": [0, 16]})"),
       "tensor 'model.w': unknown dtype 'Q9'"},
      {"no shape", one(R"("model.w": {"dtype": "F32", "data_offsets": [0, 16]})"),
       "tensor 'model.w': no shape"},
      {"negative dim", one(R"("model.w": {"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]})"),
       "shape entry -4 is not a size"},
      {"float dim", one(R"("model.w": {"dtype": "F32", "shape": [4.5], "data_offsets": [0, 16]})"),
       "shape entry 4.5 is not a size"},
      {"too many dims",
       one(R"("model.w": {"dtype": "F32", "shape": [1,1,1,1,1,1,1,1,4], "data_offsets": [0, 16]})"),
       "tensor 'model.w': 9 dims, at most 8"},
      {"huge shape overflows",
       one(R"("model.w": {"dtype": "F32", "shape": [4294967296, 4294967296, 4294967296], "data_offsets": [0, 16]})"),
       "tensor 'model.w': shape [4294967296, 4294967296, 4294967296] has too many elements"},
      {"huge shape bytes overflow",
       one(R"("model.w": {"dtype": "F64", "shape": [4611686018427387904], "data_offsets": [0, 16]})"),
       "needs too many bytes"},
      {"offsets missing", one(R"("model.w": {"dtype": "F32", "shape": [4]})"),
       "data_offsets is not a [begin, end] pair"},
      {"offsets triple", one(R"("model.w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8, 16]})"),
       "data_offsets is not a [begin, end] pair"},
      {"offsets reversed", one(R"("model.w": {"dtype": "F32", "shape": [0], "data_offsets": [16, 0]})"),
       "data_offsets [16,0] are not a range"},
      {"offsets negative", one(R"("model.w": {"dtype": "F32", "shape": [0], "data_offsets": [-8, 0]})"),
       "are not a range"},
      {"offsets out of range", one(t, 12),
       "tensor 'model.w': data_offsets [0, 16] run past the end of the data (12 bytes)"},
      {"offsets huge",
       one(R"("model.w": {"dtype": "F32", "shape": [4], "data_offsets": [18446744073709551600, 18446744073709551615]})"),
       "are not a range"},
      {"shape mismatch", one(R"("model.w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 12]})"),
       "tensor 'model.w': shape [2, 2] of F32 needs 16 bytes, data_offsets give 12"},
      {"overlapping", one(t + R"(, "model.v": {"dtype": "F16", "shape": [4], "data_offsets": [8, 16]})"),
       "tensors 'model.w' and 'model.v' overlap in the data"},
      {"metadata not object", one(R"("__metadata__": [1])", 0), "__metadata__ is not an object"},
      {"metadata not strings", one(R"("__metadata__": {"format": 1})", 0),
       "__metadata__ 'format' is not a string"},
      {"invalid utf-8", raw("{\"model.\xff\": 1}"), "header: parse error"},
      {"one tensor ok", one(t), nullptr},
      {"no tensors ok", raw("{}"), nullptr},
      {"padded header ok", raw("{}      "), nullptr},
      {"gap ok", one(R"("model.w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]})"), nullptr},
      {"zero size beside ok",
       one(t + R"(, "model.z": {"dtype": "F32", "shape": [0], "data_offsets": [16, 16]})"), nullptr},
  };
}

TEST(SafetensorsCorrupt, Table) {
  for (const Case& c : cases()) {
    auto r = SafetensorsFile::parse(c.bytes, "bad.safetensors");
    if (c.expect == nullptr) {
      EXPECT_TRUE(r.ok()) << c.name << ": " << r.error().message;
      continue;
    }
    ASSERT_FALSE(r.ok()) << c.name << " parsed";
    const std::string& m = r.error().message;
    EXPECT_EQ(m.rfind("safetensors: bad.safetensors: ", 0), 0u) << c.name << ": " << m;
    EXPECT_NE(m.find(c.expect), std::string::npos) << c.name << ": " << m;
  }
}

// Every prefix of a valid file: parses (never past its bytes) or fails cleanly.
TEST(SafetensorsCorrupt, EveryTruncation) {
  const std::vector<uint8_t> bytes = sample_file();
  for (size_t n = 0; n < bytes.size(); ++n) {
    const std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + n);
    auto r = SafetensorsFile::parse(cut, "cut");
    EXPECT_FALSE(r.ok()) << n;  // the data section is fully used, so any cut loses something
  }
}

// Seeded random bit flips and byte overwrites: ok or a clean error, never a crash; a parsed
// file's float tensors read in bounds.
TEST(SafetensorsCorrupt, RandomCorruption) {
  const std::vector<uint8_t> bytes = sample_file();
  std::mt19937 rng(7);
  int parsed = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::vector<uint8_t> b = bytes;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % b.size();
      if (rng() % 2) {
        b[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
      } else {
        b[at] = static_cast<uint8_t>("0123456789[]{}\",:-e"[rng() % 19]);
      }
    }
    auto r = SafetensorsFile::parse(b, "flip");
    if (!r.ok()) {
      EXPECT_EQ(r.error().message.rfind("safetensors: flip: ", 0), 0u) << r.error().message;
      continue;
    }
    ++parsed;
    for (const StTensor& t : r->tensors()) {
      if (!st_dtype_is_float(t.dtype) || t.n_elements > 4096) continue;
      std::vector<float> v(static_cast<size_t>(t.n_elements));
      EXPECT_TRUE(read_f32(t, 0, v).ok());
    }
  }
  EXPECT_GT(parsed, 0);  // some flips land in the data and leave the file valid
}

// Writes the seed corpus of tests/fuzz/corpus/convert when MINNOW_CONVERT_WRITE_CORPUS names a
// directory (run by hand when the format coverage changes); otherwise does nothing.
TEST(SafetensorsCorpus, WriteSeedsOnRequest) {
  const char* dir = std::getenv("MINNOW_CONVERT_WRITE_CORPUS");
  if (dir == nullptr) GTEST_SKIP() << "set MINNOW_CONVERT_WRITE_CORPUS=<dir> to write the fuzz seeds";
  auto save = [&](const std::string& name, const std::vector<uint8_t>& b) {
    ASSERT_LT(b.size(), 4096u) << name;
    std::ofstream(std::filesystem::path(dir) / (name + ".bin"), std::ios::binary)
        .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  };
  save("valid_sample", sample_file());
  for (const Case& c : cases()) {
    std::string name = c.name;
    for (char& ch : name) ch = std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
    save((c.expect ? "bad_" : "") + name, c.bytes);
  }
}

}  // namespace
}  // namespace minnow::convert

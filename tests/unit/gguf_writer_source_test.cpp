// Tensors whose bytes a source makes while the GGUF writer writes (how the converter streams a
// model): the file equals one written from the same bytes given as data, whatever the piece
// sizes; a failing source, or one giving too few or too many bytes, fails the write and leaves
// no file (an existing one untouched, no temporary behind).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gguf/gguf.h"

namespace minnow::gguf {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A source handing `bytes` to the sink in pieces of `piece` bytes.
Writer::TensorSource pieces(std::vector<uint8_t> bytes, size_t piece) {
  return [bytes = std::move(bytes), piece](const Writer::TensorSink& sink) -> Status {
    for (size_t at = 0; at < bytes.size(); at += piece) {
      MINNOW_CHECK_OK(sink(std::span<const uint8_t>(bytes).subspan(at, std::min(piece, bytes.size() - at))));
    }
    return {};
  };
}

struct Dir {
  fs::path path = fs::temp_directory_path() / ("minnow_gguf_source_" + std::to_string(getpid()));
  Dir() { fs::create_directories(path); }
  ~Dir() { fs::remove_all(path); }
  size_t n_files() const { return static_cast<size_t>(std::distance(fs::directory_iterator(path), {})); }
};

std::vector<uint8_t> ramp(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 7 + 3);
  return v;
}

TEST(GgufWriterSource, SameFileAsData) {
  Dir d;
  Writer data;
  data.set_string("general.architecture", "llama");
  ASSERT_TRUE(data.add_tensor("a", DType::F32, {5, 3}, ramp(60)).ok());
  ASSERT_TRUE(data.add_tensor("b", DType::F16, {7}, ramp(14)).ok());
  ASSERT_TRUE(data.write((d.path / "data.gguf").string()).ok());
  for (size_t piece : {1, 3, 14, 60, 1000}) {
    Writer w;
    w.set_string("general.architecture", "llama");
    ASSERT_TRUE(w.add_tensor_source("a", DType::F32, {5, 3}, pieces(ramp(60), piece)).ok());
    ASSERT_TRUE(w.add_tensor("b", DType::F16, {7}, ramp(14)).ok());  // sources and data mix
    const fs::path out = d.path / "source.gguf";
    ASSERT_TRUE(w.write(out.string()).ok()) << piece;
    EXPECT_EQ(slurp(out), slurp(d.path / "data.gguf")) << piece;
  }
  // Shape checks as for data.
  Writer w;
  EXPECT_FALSE(w.add_tensor_source("q", DType::Q8_0, {33}, pieces({}, 1)).ok());
  ASSERT_TRUE(w.add_tensor_source("x", DType::F32, {1}, pieces(ramp(4), 4)).ok());
  EXPECT_FALSE(w.add_tensor_source("x", DType::F32, {1}, pieces(ramp(4), 4)).ok());  // duplicate
}

TEST(GgufWriterSource, BadSourcesLeaveNoFile) {
  Dir d;
  const fs::path out = d.path / "m.gguf";
  std::ofstream(out) << "old";
  struct Case {
    const char* what;
    Writer::TensorSource source;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {"fails", [](const Writer::TensorSink&) -> Status { return make_error("disk on fire"); },
       "disk on fire"},
      {"too few", pieces(ramp(59), 7), "tensor 'a': its source gave 59 bytes, the shape needs 60"},
      {"too many", pieces(ramp(61), 7), "tensor 'a': its source gives more than 60 bytes"},
  };
  for (const Case& c : cases) {
    Writer w;
    ASSERT_TRUE(w.add_tensor("first", DType::F32, {2}, ramp(8)).ok());
    ASSERT_TRUE(w.add_tensor_source("a", DType::F32, {15}, c.source).ok());
    auto st = w.write(out.string());
    ASSERT_FALSE(st.ok()) << c.what;
    EXPECT_NE(st.error().message.find(c.expect), std::string::npos) << c.what << ": " << st.error().message;
    EXPECT_EQ(slurp(out), "old") << c.what;
    EXPECT_EQ(d.n_files(), 1u) << c.what << ": a temporary was left behind";
  }
}

}  // namespace
}  // namespace minnow::gguf

// Session::eval refuses what it cannot do with a clear error: no tokens, a context overflow,
// all-position logits too large to hold; and works again afterwards.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "minnow/engine.h"
#include "tiny_model.h"

namespace minnow {
namespace {

TEST(Session, RefusesWhatItCannotHold) {
  const auto bytes = test::make_tiny_llama({});
  const std::string path = (std::filesystem::temp_directory_path() / ("minnow_sess_" + std::to_string(getpid()))).string();
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  auto m = Model::load(path, LoadOptions{.n_threads = 1, .isa = ""});
  std::filesystem::remove(path);
  ASSERT_TRUE(m.ok()) << m.error().message;
  auto s = (*m)->new_session(SessionOptions{.n_ctx = 16, .kv_f32 = false, .n_batch = 8});
  ASSERT_TRUE(s.ok()) << s.error().message;

  EXPECT_NE((*s)->eval({}, false).error().message.find("no tokens"), std::string::npos);
  const std::vector<int32_t> many(20, 5);
  EXPECT_NE((*s)->eval(many, false).error().message.find("context full"), std::string::npos);
  // 2^28 floats of logits is the bound: this asks for more, and is refused before any work.
  const std::vector<int32_t> huge(static_cast<size_t>((int64_t{1} << 28) / (*m)->info().n_vocab + 1), 5);
  EXPECT_NE((*s)->eval(huge, true).error().message.find("exceed 1 GiB"), std::string::npos);

  const std::vector<int32_t> ok(16, 5);
  ASSERT_TRUE((*s)->eval(ok, true).ok());
  EXPECT_EQ((*s)->n_past(), 16);
  EXPECT_EQ((*s)->logits(15).size(), static_cast<size_t>((*m)->info().n_vocab));
  EXPECT_TRUE((*s)->logits(16).empty());
}

}  // namespace
}  // namespace minnow

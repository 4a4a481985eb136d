// `minnow template render` against every case in ../shared/templates: the rendering byte for
// byte on stdout with exit 0, or exit 1 and one error line where the reference refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "e2e/cli_runner.h"
#include "test_util.h"

namespace minnow {
namespace {

std::vector<std::string> template_names() {
  std::vector<std::string> names;
  const std::filesystem::path dir = test::shared_path("templates");
  if (!std::filesystem::is_directory(dir)) return {"(none)"};
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".jinja") names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class TemplateCli : public testing::TestWithParam<std::string> {};

TEST_P(TemplateCli, RendersEveryCase) {
  const std::string name = GetParam();
  MINNOW_REQUIRE_SHARED("templates/" + name + ".jinja");
  const std::string tpl = test::shared_path("templates/" + name + ".jinja");
  const auto cases = nlohmann::ordered_json::parse(test::read_file(test::shared_path("templates/" + name + ".cases.json")));
  const std::string ctx_path =
      (std::filesystem::temp_directory_path() / ("minnow_ctx_" + std::to_string(getpid()) + ".json")).string();
  for (const auto& c : cases) {
    std::ofstream(ctx_path, std::ios::binary) << c["context"].dump();
    auto r = test::run_cli({"template", "render", "--template", tpl, "--context", ctx_path});
    const std::string what = name + " / " + c["name"].get<std::string>();
    if (c.contains("error")) {
      EXPECT_EQ(r.exit_code, 1) << what << ": rendered instead of failing:\n" << r.out;
      EXPECT_TRUE(r.out.empty()) << what;
      EXPECT_EQ(r.err.rfind("minnow: ", 0), 0u) << what << ": " << r.err;
    } else {
      EXPECT_EQ(r.exit_code, 0) << what << ": " << r.err;
      EXPECT_EQ(r.out, c["expected"].get<std::string>()) << what;
    }
  }
  std::filesystem::remove(ctx_path);
}

INSTANTIATE_TEST_SUITE_P(Templates, TemplateCli, testing::ValuesIn(template_names()),
                         [](const testing::TestParamInfo<std::string>& i) {
                           std::string s = i.param;
                           for (char& ch : s) {
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return s;
                         });

TEST(TemplateCliErrors, BadInputs) {
  auto r = test::run_cli({"template", "render", "--template", "/nonexistent.jinja", "--context", "/nonexistent"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot read"), std::string::npos) << r.err;
  const auto dir = std::filesystem::temp_directory_path();
  const std::string tpl = (dir / ("minnow_t_" + std::to_string(getpid()) + ".jinja")).string();
  const std::string ctx = (dir / ("minnow_c_" + std::to_string(getpid()) + ".json")).string();
  std::ofstream(tpl) << "line one\n{{ messages | nosuchfilter }}";
  std::ofstream(ctx) << "{\"messages\": []}";
  r = test::run_cli({"template", "render", "--template", tpl, "--context", ctx});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("line 2"), std::string::npos) << r.err;
  std::ofstream(ctx) << "{not json";
  r = test::run_cli({"template", "render", "--template", tpl, "--context", ctx});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("invalid JSON"), std::string::npos) << r.err;
  std::filesystem::remove(tpl);
  std::filesystem::remove(ctx);
}

}  // namespace
}  // namespace minnow

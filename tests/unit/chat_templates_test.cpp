// Golden test: every case of every real chat template in ../shared/templates renders
// byte-for-byte as Jinja2 (as Hugging Face configures it) rendered it, or fails where it failed.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "chat/template.h"
#include "test_util.h"

namespace {

std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Templates still known to fail, each with a TODO(#4) saying why; the test asserts they still
// fail, so the list can only shrink. Empty: all 56 golden templates pass.
const std::set<std::string> kKnownFailing = {};

// Returns "" when every case passes, otherwise a description of the first failure.
std::string check_template(const std::filesystem::path& jinja) {
  std::filesystem::path cases_path = jinja;
  cases_path.replace_extension(".cases.json");
  std::string source = read_file(jinja);
  auto cases = nlohmann::ordered_json::parse(read_file(cases_path));
  auto tmpl = minnow::chat::Template::parse(source);
  if (!tmpl.ok()) return "parse: " + tmpl.error().message;
  for (const auto& c : cases) {
    auto r = tmpl->render(c["context"]);
    std::string name = c.value("name", "?");
    if (c.contains("error")) {
      if (r.ok()) return name + ": expected an error, rendered";
      continue;
    }
    if (!r.ok()) return name + ": " + r.error().message;
    if (*r != c["expected"].get<std::string>()) {
      const std::string& exp = c["expected"].get_ref<const std::string&>();
      size_t k = 0;
      while (k < r->size() && k < exp.size() && (*r)[k] == exp[k]) ++k;
      return name + ": mismatch at byte " + std::to_string(k) +
             "\n  got:      " + nlohmann::json(r->substr(k > 40 ? k - 40 : 0, 120)).dump() +
             "\n  expected: " + nlohmann::json(exp.substr(k > 40 ? k - 40 : 0, 120)).dump();
    }
  }
  return "";
}

TEST(ChatTemplates, GoldenCases) {
  MINNOW_REQUIRE_SHARED("templates/README.md");
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(minnow::test::shared_path("templates")))
    if (e.path().extension() == ".jinja") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  int passed = 0;
  for (const auto& f : files) {
    std::string name = f.stem().string();
    std::string failure = check_template(f);
    if (kKnownFailing.count(name)) {
      EXPECT_NE(failure, "") << name << " now passes: remove it from kKnownFailing";
    } else {
      EXPECT_EQ(failure, "") << name;
    }
    passed += failure.empty();
  }
  std::printf("chat templates passing: %d of %zu\n", passed, files.size());
}

}  // namespace

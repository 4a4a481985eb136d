// Shared helpers for tests: where ../shared is, and skipping cleanly when it is absent.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace minnow::test {

inline std::string shared_path(const std::string& rel) { return std::string(MINNOW_SHARED_DIR) + "/" + rel; }

// Skips the current test with a clear message when a ../shared file is missing (a user's
// fresh clone has no ../shared).
#define MINNOW_REQUIRE_SHARED(rel)                                                       \
  do {                                                                                   \
    if (!std::filesystem::exists(::minnow::test::shared_path(rel)))                      \
      GTEST_SKIP() << "needs ../shared/" << (rel) << " (absent: test data not present)"; \
  } while (0)

}  // namespace minnow::test

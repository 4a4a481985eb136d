// src/base: the thread pool runs every index exactly once for any thread count and grain, also
// when its workers have gone to sleep; checked arithmetic catches overflow, Result carries values
// and errors, mmap reports errors.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <filesystem>
#include <fstream>
#include <vector>

#include "base/checked_math.h"
#include "base/error.h"
#include "base/mmap.h"
#include "base/thread_pool.h"

namespace minnow {
namespace {

TEST(ThreadPool, EveryIndexExactlyOnce) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int64_t n : {0, 1, 7, 64, 1000}) {
      for (int64_t grain : {1, 3, 64, 5000}) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        pool.parallel_for(n, grain, [&](int64_t b, int64_t e) {
          ASSERT_LE(e - b, grain);
          for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
        });
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << threads << " " << n << " " << grain;
      }
    }
  }
}

TEST(ThreadPool, ManyBackToBackLoops) {
  // A forward pass issues hundreds of short loops in a row; none may be lost or run twice.
  ThreadPool pool(3);
  std::atomic<int64_t> sum{0};
  for (int rep = 0; rep < 2000; ++rep) {
    pool.parallel_for(16, 1, [&](int64_t b, int64_t e) { sum += e - b; });
  }
  EXPECT_EQ(sum.load(), 2000 * 16);
}

TEST(ThreadPool, UsesWorkerThreads) {
  ThreadPool pool(2);
  std::atomic<int> other{0};
  const auto caller = std::this_thread::get_id();
  for (int rep = 0; rep < 200 && other.load() == 0; ++rep) {
    pool.parallel_for(64, 1, [&](int64_t, int64_t) {
      if (std::this_thread::get_id() != caller) other++;
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    });
  }
  EXPECT_GT(other.load(), 0);
}

TEST(ThreadPool, WakesSleepingWorkers) {
  // Idle for 2 ms, far past the ~100 us spin: the workers are asleep on the condition variable
  // when each loop starts, and must wake, run their share, and report completion.
  ThreadPool pool(3);
  std::atomic<int> other{0};
  const auto caller = std::this_thread::get_id();
  for (int rep = 0; rep < 20; ++rep) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::vector<std::atomic<int>> hits(64);
    pool.parallel_for(64, 1, [&](int64_t b, int64_t e) {
      if (std::this_thread::get_id() != caller) other++;
      for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    });
    for (const auto& h : hits) ASSERT_EQ(h.load(), 1) << "rep " << rep;
  }
  EXPECT_GT(other.load(), 0);
}

TEST(CheckedMath, Overflow) {
  EXPECT_EQ(checked_add(1, 2), 3u);
  EXPECT_FALSE(checked_add(UINT64_MAX, 1).has_value());
  EXPECT_EQ(checked_mul(uint64_t{1} << 31, 4), uint64_t{1} << 33);
  EXPECT_FALSE(checked_mul(uint64_t{1} << 32, uint64_t{1} << 32).has_value());
  EXPECT_EQ(checked_align_up(33, 32), 64u);
  EXPECT_EQ(checked_align_up(64, 32), 64u);
  EXPECT_FALSE(checked_align_up(UINT64_MAX - 3, 32).has_value());
}

Result<int> half(int x) {
  if (x % 2) return make_error("%d is odd", x);
  return x / 2;
}

Status chain(int x) {
  MINNOW_CHECK_OK(half(x));
  return Status();
}

TEST(Result, ValuesErrorsAndContext) {
  auto a = half(8);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, 4);
  auto b = half(7);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().message, "7 is odd");
  EXPECT_EQ(b.error().with_context("model.gguf").message, "model.gguf: 7 is odd");
  EXPECT_TRUE(chain(2).ok());
  EXPECT_EQ(chain(3).error().message, "3 is odd");
  EXPECT_EQ(strfmt("%s-%03d", "x", 7), "x-007");
}

TEST(MappedFile, MapsAndReportsErrors) {
  const auto path = std::filesystem::temp_directory_path() / ("minnow_mmap_" + std::to_string(getpid()));
  std::ofstream(path, std::ios::binary) << "hello";
  auto f = MappedFile::open(path.string());
  ASSERT_TRUE(f.ok()) << f.error().message;
  ASSERT_EQ(f->size(), 5u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(f->data()), 5), "hello");
  MappedFile moved = std::move(*f);
  EXPECT_EQ(moved.size(), 5u);
  std::filesystem::remove(path);

  auto missing = MappedFile::open("/nonexistent/file");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("No such file"), std::string::npos);
  auto dir = MappedFile::open("/tmp");
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.error().message.find("not a regular file"), std::string::npos);
}

}  // namespace
}  // namespace minnow

// The machine's memory read bandwidth, measured the way ../shared/tools/roofline.cpp does (the
// best of several passes summing a buffer far larger than the caches, every thread on its own
// contiguous slice), so `minnow bench` can state generation speed as a fraction of it in the
// same run. Plain 16-byte vector adds: streaming from DRAM is bound by the memory system, not
// by the width of the loads.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "base/thread_pool.h"
#include "minnow/engine.h"

namespace minnow {
namespace {

using V = uint64_t __attribute__((vector_size(16)));

constexpr size_t kMaxBytes = size_t{1} << 30;  // 1 GiB, far beyond any L3
constexpr int kPasses = 5;

// Sum of n vectors with four independent chains (one would wait on each add's latency).
uint64_t sum(const V* p, size_t n) {
  V a = {0, 0}, b = a, c = a, d = a;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    a += p[i];
    b += p[i + 1];
    c += p[i + 2];
    d += p[i + 3];
  }
  for (; i < n; ++i) a += p[i];
  const V s = a + b + c + d;
  return s[0] + s[1];
}

}  // namespace

double measure_read_bandwidth(int n_threads) {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  size_t bytes = kMaxBytes;
  if (pages > 0 && page > 0) bytes = std::min(bytes, static_cast<size_t>(pages) * static_cast<size_t>(page) / 8);
  const size_t n = bytes / sizeof(V);
  std::unique_ptr<V, decltype(&std::free)> buf(static_cast<V*>(std::aligned_alloc(64, n * sizeof(V))), &std::free);
  if (!buf || n == 0) return 0;
  ThreadPool pool(n_threads);
  const int64_t grain = static_cast<int64_t>((n + pool.size() - 1) / pool.size());
  // Written by the threads that read it, so its pages sit where they will be read.
  pool.parallel_for(static_cast<int64_t>(n), grain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) buf.get()[i] = V{static_cast<uint64_t>(i), 1};
  });
  double best = 0;
  std::atomic<uint64_t> sink{0};
  for (int pass = 0; pass < kPasses; ++pass) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.parallel_for(static_cast<int64_t>(n), grain, [&](int64_t b, int64_t e) {
      sink += sum(buf.get() + b, static_cast<size_t>(e - b));
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s > 0) best = std::max(best, static_cast<double>(n * sizeof(V)) / s / 1e9);
  }
  return best;  // (the sums went to an atomic, so the reads cannot be elided)
}

}  // namespace minnow

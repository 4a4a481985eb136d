// A fixed pool of worker threads for data-parallel loops (matmul rows, attention heads).
// Work is handed out in chunks from an atomic counter; each index runs exactly once, so a
// loop whose iterations are independent gives identical results for every thread count.
// Idle workers spin for a bounded time (~100 us) before sleeping, so back-to-back loops do not
// pay a wake-up each.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace minnow {

class ThreadPool {
 public:
  // n_threads counts the calling thread; <= 0 means one per hardware thread.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(begin, end) over [0, n) in chunks of at most `grain`, on all threads, and returns
  // when every chunk is done. Not reentrant: fn must not call parallel_for on the same pool.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void worker_loop();
  void run_chunks();

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> active_{0};    // workers yet to finish the current loop
  std::atomic<int> sleepers_{0};  // workers blocked on cv_
  std::atomic<int64_t> next_{0};
  std::atomic<bool> stop_{false};
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_ = 0;
  int64_t grain_ = 1;
};

}  // namespace minnow

#include "base/thread_pool.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MINNOW_PAUSE() _mm_pause()
#else
#define MINNOW_PAUSE() std::this_thread::yield()
#endif

namespace minnow {
namespace {

// How long a thread spins before it sleeps (a worker waiting for work) or yields (the caller
// waiting for workers). Decoding a token issues a few hundred parallel loops, separated by
// serial work of a few to a few tens of microseconds (norms, RoPE, activation quantizing), so
// workers that spin 100 us are awake for the whole token and no loop pays a futex wake
// (tens of microseconds, as long as a 576-wide matmul); between requests they sleep.
constexpr auto kSpinTime = std::chrono::microseconds(100);

// Spins until done() or kSpinTime has passed; true if done. The clock is read every 64 pauses
// (a pause is ~40-140 cycles, a clock read ~20 ns).
template <class Done>
bool spin_until(const Done& done) {
  const auto start = std::chrono::steady_clock::now();
  for (int i = 1;; ++i) {
    if (done()) return true;
    MINNOW_PAUSE();
    if (i % 64 == 0 && std::chrono::steady_clock::now() - start > kSpinTime) return done();
  }
}

}  // namespace

ThreadPool::ThreadPool(int n_threads) {
  if (n_threads <= 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i < n_threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_.store(true);
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::run_chunks() {
  for (;;) {
    int64_t begin = next_.fetch_add(grain_, std::memory_order_relaxed);
    if (begin >= n_) break;
    (*fn_)(begin, std::min(n_, begin + grain_));
  }
}

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    const auto work_or_stop = [&] {
      return generation_.load(std::memory_order_acquire) != seen || stop_.load();
    };
    if (!spin_until(work_or_stop)) {
      std::unique_lock<std::mutex> lk(mu_);
      // Seen by parallel_for after its generation bump (both seq_cst): either it sees a sleeper
      // and notifies under the lock, or this thread's predicate check sees the new generation.
      sleepers_.fetch_add(1);
      cv_.wait(lk, work_or_stop);
      sleepers_.fetch_sub(1);
    }
    if (stop_.load()) return;
    seen = generation_.load(std::memory_order_acquire);
    run_chunks();
    active_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  if (workers_.empty() || n <= grain) {
    for (int64_t b = 0; b < n; b += grain) fn(b, std::min(n, b + grain));
    return;
  }
  fn_ = &fn;
  n_ = n;
  grain_ = grain;
  next_.store(0, std::memory_order_relaxed);
  active_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  generation_.fetch_add(1);  // seq_cst, and publishes the fields above to acquiring workers
  if (sleepers_.load() > 0) {
    std::lock_guard<std::mutex> lk(mu_);
    cv_.notify_all();
  }
  run_chunks();
  const auto workers_done = [&] { return active_.load(std::memory_order_acquire) == 0; };
  while (!spin_until(workers_done)) std::this_thread::yield();
  fn_ = nullptr;
}

}  // namespace minnow

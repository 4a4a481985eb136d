// What every nn block computes with: the kernel table of this machine, the thread pool, and
// the activation memory a forward pass reuses from call to call.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/kernel_table.h"

namespace minnow::nn {

// Receives named intermediates of a forward pass ("attn_norm", layer 3, [n_tokens][n_embd]),
// for debugging and differential checks between kernel sets.
using TraceFn = std::function<void(const char* name, int layer, const float* data, int64_t n)>;

// Activation buffers of forward calls. Whoever runs forward passes one after another (a
// session) keeps one, so that decoding a token allocates nothing; it only grows, to the largest
// batch seen. One forward at a time.
class Scratch {
 public:
  // Consecutive buffers of sizes[i] floats, contents unspecified (every forward writes a buffer
  // before reading it), valid until the next call.
  template <size_t N>
  std::array<float*, N> take(const std::array<int64_t, N>& sizes) {
    size_t total = 0;
    for (int64_t s : sizes) total += static_cast<size_t>(s);
    if (buf_.size() < total) buf_.resize(total);
    std::array<float*, N> out;
    float* p = buf_.data();
    for (size_t i = 0; i < N; ++i) {
      out[i] = p;
      p += sizes[i];
    }
    return out;
  }

 private:
  std::vector<float> buf_;
};

struct Compute {
  const kernels::KernelTable& kt;
  ThreadPool& pool;
  const TraceFn* trace = nullptr;  // null: no tracing (the normal case, one branch per block)
  Scratch* scratch = nullptr;      // null: each forward call allocates its own buffers

  void emit(const char* name, int layer, const float* data, int64_t n) const {
    if (trace) (*trace)(name, layer, data, n);
  }
};

// A weight matrix as stored in the file: n_out rows of n_in elements of `type`, and optionally
// a copy packed for the kernels that stream 16 rows at once (kernels/packed.h; its format is
// that layout of `type`), owned by the model. data stays valid either way: kernel tables
// without packed kernels for `type` read it.
struct Weight {
  DType type = DType::F32;
  const void* data = nullptr;
  int64_t n_in = 0;
  int64_t n_out = 0;
  const void* packed = nullptr;
};

}  // namespace minnow::nn

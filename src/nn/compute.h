// What every nn block computes with: the kernel table of this machine and the thread pool.
#pragma once

#include <cstdint>
#include <functional>

#include "base/thread_pool.h"
#include "kernels/kernel_table.h"

namespace minnow::nn {

// Receives named intermediates of a forward pass ("attn_norm", layer 3, [n_tokens][n_embd]),
// for debugging and differential checks between kernel sets.
using TraceFn = std::function<void(const char* name, int layer, const float* data, int64_t n)>;

struct Compute {
  const kernels::KernelTable& kt;
  ThreadPool& pool;
  const TraceFn* trace = nullptr;  // null: no tracing (the normal case, one branch per block)

  void emit(const char* name, int layer, const float* data, int64_t n) const {
    if (trace) (*trace)(name, layer, data, n);
  }
};

// A weight matrix as stored in the file: n_out rows of n_in elements of `type`.
struct Weight {
  DType type = DType::F32;
  const void* data = nullptr;
  int64_t n_in = 0;
  int64_t n_out = 0;
};

}  // namespace minnow::nn

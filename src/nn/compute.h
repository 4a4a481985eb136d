// What every nn block computes with: the kernel table of this machine and the thread pool.
#pragma once

#include <cstdint>

#include "base/thread_pool.h"
#include "kernels/kernel_table.h"

namespace minnow::nn {

struct Compute {
  const kernels::KernelTable& kt;
  ThreadPool& pool;
};

// A weight matrix as stored in the file: n_out rows of n_in elements of `type`.
struct Weight {
  DType type = DType::F32;
  const void* data = nullptr;
  int64_t n_in = 0;
  int64_t n_out = 0;
};

}  // namespace minnow::nn

// Model::pack_weights: the load-time copy of the linear weights in the layout of the kernel
// table's packed kernels (kernels/packed.h), in one allocation owned by the model.
#include <algorithm>
#include <cstdlib>

#include "base/checked_math.h"
#include "gguf/gguf.h"
#include "models/model.h"

namespace minnow::models {
namespace {

// Groups of 16 rows per pool chunk: 80-160 KB of 576-wide q4_0/q8_0 rows, so a 49152-row output
// matrix (3072 groups) spreads over the threads while chunks stay far above the pool's overhead.
constexpr int64_t kPackGrain = 16;

}  // namespace

Status Model::pack_weights(const gguf::File& file, const kernels::KernelTable& kt, ThreadPool* pool) {
  struct Job {
    nn::Weight* w;
    size_t offset;
    int64_t first_group;  // in the concatenation of every job's groups
  };
  std::vector<Job> jobs;
  uint64_t total = 0;
  int64_t n_groups = 0;
  const LinearWeights lw = linear_weights();
  for (nn::Weight* w : lw.matrices) {
    if (w->data == nullptr || w->packed != nullptr ||
        kt.packed_matmul[static_cast<size_t>(w->type)] == nullptr)
      continue;
    // A matrix listed twice (a tied output) is packed once.
    if (std::any_of(jobs.begin(), jobs.end(), [&](const Job& j) { return j.w->data == w->data; })) continue;
    const std::optional<size_t> bytes = kernels::packed_bytes(w->type, w->n_in, w->n_out);
    if (!bytes) continue;
    jobs.push_back({w, static_cast<size_t>(total), n_groups});
    const std::optional<uint64_t> sum = checked_add(total, *bytes);
    if (!sum || *sum > SIZE_MAX / 2)
      return make_error("model: packed weights overflow (%s)", dtype_name(w->type));
    total = *sum;
    n_groups += (w->n_out + kernels::kPackRows - 1) / kernels::kPackRows;
  }
  if (jobs.empty()) return Status();
  void* buf = std::aligned_alloc(64, static_cast<size_t>(total));  // every copy's size is a multiple of 64
  if (buf == nullptr)
    return make_error("model: out of memory for %llu bytes of packed weights",
                      static_cast<unsigned long long>(total));
  packed_.reset(static_cast<uint8_t*>(buf));
  packed_bytes_ = total;

  // Groups [u0, u1) of the concatenation, matrix by matrix.
  auto pack = [&](int64_t u0, int64_t u1) {
    for (const Job& j : jobs) {
      const int64_t groups = (j.w->n_out + kernels::kPackRows - 1) / kernels::kPackRows;
      const int64_t g0 = std::max<int64_t>(u0 - j.first_group, 0), g1 = std::min(u1 - j.first_group, groups);
      if (g0 < g1)
        kernels::pack_groups(j.w->type, j.w->data, j.w->n_in, j.w->n_out, g0, g1, packed_.get() + j.offset);
    }
  };
  if (pool != nullptr) {
    pool->parallel_for(n_groups, kPackGrain, pack);
  } else {
    pack(0, n_groups);
  }
  for (const Job& j : jobs) {
    const void* data = j.w->data;
    for (nn::Weight* w : lw.matrices)  // every Weight with this data (a tied output's copies)
      if (w->data == data && w->type == j.w->type) w->packed = packed_.get() + j.offset;
    // Only the packed copy is read from now on (with this table), unless rows are looked up.
    if (data != lw.row_read)
      file.release_pages(data, *row_bytes(j.w->type, j.w->n_in) * static_cast<size_t>(j.w->n_out));
  }
  return Status();
}

}  // namespace minnow::models

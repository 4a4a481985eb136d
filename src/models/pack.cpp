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
    size_t offset;  // of its packed copy in packed_
  };
  std::vector<Job> jobs;
  uint64_t total = 0;
  const std::vector<nn::Weight*> matrices = linear_weights();
  for (nn::Weight* w : matrices) {
    if (w->data == nullptr || w->packed != nullptr ||
        kt.packed_matmul[static_cast<size_t>(w->type)] == nullptr)
      continue;
    // A matrix listed twice (a tied output) is packed once.
    if (std::any_of(jobs.begin(), jobs.end(), [&](const Job& j) { return j.w->data == w->data; })) continue;
    const std::optional<size_t> bytes = kernels::packed_bytes(w->type, w->n_in, w->n_out);
    if (!bytes) continue;
    jobs.push_back({w, static_cast<size_t>(total)});
    const std::optional<uint64_t> sum = checked_add(total, *bytes);
    if (!sum || *sum > SIZE_MAX / 2)
      return make_error("model: packed weights overflow (%s)", dtype_name(w->type));
    total = *sum;
  }
  if (jobs.empty()) return Status();
  void* buf = std::aligned_alloc(64, static_cast<size_t>(total));  // every copy's size is a multiple of 64
  if (buf == nullptr)
    return make_error("model: out of memory for %llu bytes of packed weights",
                      static_cast<unsigned long long>(total));
  packed_.reset(static_cast<uint8_t*>(buf));
  packed_bytes_ = total;

  // Matrix by matrix, so that the file pages of one are dropped before the next is read: the
  // process holds the packed copies and one matrix of the file, not the file as well.
  for (const Job& j : jobs) {
    nn::Weight& w = *j.w;
    uint8_t* dst = packed_.get() + j.offset;
    auto pack = [&](int64_t g0, int64_t g1) {
      kernels::pack_groups(w.type, w.data, w.n_in, w.n_out, g0, g1, dst);
    };
    const int64_t groups = (w.n_out + kernels::kPackRows - 1) / kernels::kPackRows;
    if (pool != nullptr) {
      pool->parallel_for(groups, kPackGrain, pack);
    } else {
      pack(0, groups);
    }
    const void* data = w.data;
    for (nn::Weight* other : matrices)  // every Weight with this data (a tied output's copies)
      if (other->data == data && other->type == w.type) other->packed = dst;
    // Only the packed copy is read from now on (with this table); a tied token_embd's rows
    // fault back in one page per looked-up token.
    file.release_pages(data, *row_bytes(w.type, w.n_in) * static_cast<size_t>(w.n_out));
  }
  return Status();
}

}  // namespace minnow::models

#include "kv/kv_cache.h"

#include <algorithm>

#include "base/checked_math.h"

namespace minnow {

Result<KvCache> KvCache::create(int n_layer, int n_ctx, int n_kv_dim, DType type,
                                std::span<const int> windows) {
  if (type != DType::F16 && type != DType::F32) return make_error("kv cache: type must be f16 or f32");
  if (n_layer <= 0 || n_ctx <= 0 || n_kv_dim <= 0) {
    return make_error("kv cache: bad shape (layers %d, context %d, kv dim %d)", n_layer, n_ctx, n_kv_dim);
  }
  if (!windows.empty() && windows.size() != static_cast<size_t>(n_layer)) {
    return make_error("kv cache: %zu layer windows for %d layers", windows.size(), n_layer);
  }
  KvCache c;
  c.type_ = type;
  c.n_layer_ = n_layer;
  c.n_ctx_ = n_ctx;
  c.n_kv_dim_ = n_kv_dim;
  c.row_bytes_ = static_cast<size_t>(n_kv_dim) * (type == DType::F16 ? 2 : 4);
  c.window_.assign(n_layer, 0);
  c.capacity_.assign(n_layer, n_ctx);
  c.first_row_.assign(n_layer, 0);
  uint64_t rows = 0;
  for (int il = 0; il < n_layer; ++il) {
    if (!windows.empty()) {
      const int w = windows[il];
      if (w < 0) return make_error("kv cache: layer %d has a negative window (%d)", il, w);
      c.window_[il] = w;
      // In 64 bits: a window near INT_MAX plus the chunk must not wrap.
      if (w > 0) c.capacity_[il] = static_cast<int>(std::min<int64_t>(n_ctx, int64_t{w} + kRingChunk - 1));
    }
    c.first_row_[il] = rows;
    rows += static_cast<uint64_t>(c.capacity_[il]);
  }
  auto total = checked_mul(rows, c.row_bytes_);
  // 64 GiB per tensor is far beyond any machine minnow targets: refuse rather than thrash.
  if (!total || *total > (uint64_t{64} << 30)) {
    return make_error("kv cache: %d layers x %d positions x %d dims is too large", n_layer, n_ctx, n_kv_dim);
  }
  try {
    c.k_.resize(*total);
    c.v_.resize(*total);
  } catch (const std::bad_alloc&) {
    return make_error("kv cache: out of memory allocating %llu bytes",
                      static_cast<unsigned long long>(2 * *total));
  }
  return c;
}

}  // namespace minnow

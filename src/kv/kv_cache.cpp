#include "kv/kv_cache.h"

#include "base/checked_math.h"

namespace minnow {

Result<KvCache> KvCache::create(int n_layer, int n_ctx, int n_kv_dim, DType type) {
  if (type != DType::F16 && type != DType::F32) return make_error("kv cache: type must be f16 or f32");
  if (n_layer <= 0 || n_ctx <= 0 || n_kv_dim <= 0) {
    return make_error("kv cache: bad shape (layers %d, context %d, kv dim %d)", n_layer, n_ctx, n_kv_dim);
  }
  KvCache c;
  c.type_ = type;
  c.n_layer_ = n_layer;
  c.n_ctx_ = n_ctx;
  c.n_kv_dim_ = n_kv_dim;
  c.row_bytes_ = static_cast<size_t>(n_kv_dim) * (type == DType::F16 ? 2 : 4);
  auto total = checked_mul(static_cast<uint64_t>(n_layer) * static_cast<uint64_t>(n_ctx), c.row_bytes_);
  // 64 GiB per tensor is far beyond any machine minnow targets: refuse rather than thrash.
  if (!total || *total > (uint64_t{64} << 30)) {
    return make_error("kv cache: %d layers x %d positions x %d dims is too large", n_layer, n_ctx, n_kv_dim);
  }
  try {
    c.k_.resize(*total);
    c.v_.resize(*total);
  } catch (const std::bad_alloc&) {
    return make_error("kv cache: out of memory allocating %llu bytes", static_cast<unsigned long long>(2 * *total));
  }
  return c;
}

}  // namespace minnow

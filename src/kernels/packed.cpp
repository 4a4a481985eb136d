// Packing of weight rows into 16-row groups (layout in packed.h), and the activation block
// info the packed kernels read. Generic code: it runs once per matrix at load.
#include "kernels/packed.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "base/checked_math.h"
#include "tensor/blocks.h"
#include "tensor/fp16.h"

namespace minnow::kernels {
namespace {

constexpr size_t kQ8Quants = 512, kQ4Quants = 256;  // bytes of one block's quants per group

size_t quant_bytes(DType type) {
  return type == DType::Q8_0 ? kQ8Quants : kQ4Quants;
}

}  // namespace

bool packable(DType type) {
  return type == DType::Q8_0 || type == DType::Q4_0;
}

size_t packed_scales_bytes(int64_t n_in) {
  const size_t nb = static_cast<size_t>(n_in / 32);
  return (nb * 32 + 63) / 64 * 64;
}

size_t packed_group_bytes(DType type, int64_t n_in) {
  return packed_scales_bytes(n_in) + static_cast<size_t>(n_in / 32) * quant_bytes(type);
}

std::optional<size_t> packed_bytes(DType type, int64_t n_in, int64_t n_out) {
  if (!packable(type) || n_in <= 0 || n_in % 32 != 0 || n_out <= 0) return std::nullopt;
  // A group is at most 17 bytes per element plus 64 of padding, below 32 * n_in: it cannot
  // overflow when that product does not; the product with the group count is checked.
  if (!checked_mul(static_cast<uint64_t>(n_in), 32)) return std::nullopt;
  const uint64_t groups = static_cast<uint64_t>((n_out + kPackRows - 1) / kPackRows);
  const std::optional<uint64_t> total = checked_mul(packed_group_bytes(type, n_in), groups);
  if (!total || *total > SIZE_MAX) return std::nullopt;
  return static_cast<size_t>(*total);
}

void pack_groups(DType type, const void* w, int64_t n_in, int64_t n_out, int64_t g0, int64_t g1, void* out) {
  assert(packable(type));
  const int64_t nb = n_in / 32;
  const size_t row = *row_bytes(type, n_in), group_bytes = packed_group_bytes(type, n_in);
  const size_t scales_bytes = packed_scales_bytes(n_in), qb = quant_bytes(type);
  for (int64_t g = g0; g < g1; ++g) {
    auto* dst = static_cast<uint8_t*>(out) + static_cast<size_t>(g) * group_bytes;
    std::memset(dst, 0, group_bytes);                 // padding rows and bytes
    auto* scales = reinterpret_cast<uint16_t*>(dst);  // [nb][16]
    uint8_t* quants = dst + scales_bytes;             // [nb][qb]
    const int64_t rows = std::min(kPackRows, n_out - g * kPackRows);
    for (int64_t r = 0; r < rows; ++r) {
      const auto* src = static_cast<const uint8_t*>(w) + static_cast<size_t>(g * kPackRows + r) * row;
      for (int64_t b = 0; b < nb; ++b) {
        uint8_t* q = quants + static_cast<size_t>(b) * qb + 4 * r;  // dword (g = 0, r)
        if (type == DType::Q8_0) {
          BlockQ8_0 blk;
          std::memcpy(&blk, src + static_cast<size_t>(b) * sizeof(BlockQ8_0), sizeof(blk));
          scales[b * kPackRows + r] = blk.d;
          for (int j = 0; j < 32; ++j) q[64 * (j / 4) + j % 4] = static_cast<uint8_t>(blk.qs[j] ^ 0x80);
        } else {
          BlockQ4_0 blk;
          std::memcpy(&blk, src + static_cast<size_t>(b) * sizeof(BlockQ4_0), sizeof(blk));
          scales[b * kPackRows + r] = blk.d;
          for (int j = 0; j < 16; ++j) q[64 * (j / 4) + j % 4] = blk.qs[j];
        }
      }
    }
  }
}

void packed_act_info(const void* a, int64_t n, PackedActBlock* info) {
  const auto* y = static_cast<const BlockQ8_0*>(a);
  for (int64_t b = 0; b < n / 32; ++b) {
    int32_t sum = 0;
    for (int j = 0; j < 32; ++j) sum += y[b].qs[j];
    info[b] = {fp16_to_fp32(y[b].d), sum};
  }
}

}  // namespace minnow::kernels

// Weight matrices repacked once at load into 16-row groups, so that decoding and prompt GEMMs
// stream one contiguous run of bytes per 16 rows with no horizontal reductions. The row-major
// original stays valid; tables without packed kernels use it (kernel_table.h, packed_matmul).
//
// A group is 16 consecutive rows r0..r0+15 of an [n_out][n_in] matrix, nb = n_in / 32 blocks:
//
//   scales: [nb][16 rows] f16, padded to a multiple of 64 bytes        (one vcvtph2ps per block)
//   quants: [nb][8 dword groups g][16 rows][4 bytes]                   (the AMX B / VNNI layout)
//     q8_0: byte j of (g, r) = element 4g + j of row r, stored as u8 = q + 128 (512 B per block)
//     q4_0: byte j of (g, r) for g < 4 holds element 4g + j (low nibble) and 16 + 4g + j (high
//           nibble), as u8 = q + 8: one and / shift of a 64-byte vector gives groups g and g + 4,
//           and these are exactly the block's stored qs dwords, regrouped (256 B per block)
//
// Scales apart from the quants keep every 64-byte quant vector inside one cache line (a 544-byte
// block would put every other block's vectors across lines); the group is still one run of
// bytes, as many as the rows' blocks had (16 x 34, 16 x 18) plus at most 62 bytes of padding.
// Rows past n_out in the last group are zero (their outputs are never stored).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "tensor/dtype.h"

namespace minnow::kernels {

constexpr int64_t kPackRows = 16;

// Whether `type` has a packed layout (q8_0, q4_0).
bool packable(DType type);

// Bytes of one packed group of rows n_in wide (packable type, n_in a multiple of 32), and the
// offset of its quants within it.
size_t packed_group_bytes(DType type, int64_t n_in);
size_t packed_scales_bytes(int64_t n_in);

// Bytes of the packed copy of an [n_out][n_in] matrix; nullopt when not packable or too large.
std::optional<size_t> packed_bytes(DType type, int64_t n_in, int64_t n_out);

// Packs the groups [g0, g1) of the row-major matrix w ([n_out][n_in] of `type`) into `out`, the
// whole packed copy (packed_bytes). Disjoint group ranges may be packed concurrently.
void pack_groups(DType type, const void* w, int64_t n_in, int64_t n_out, int64_t g0, int64_t g1, void* out);

// What the packed kernels need of each quantized activation block besides its bytes: the scale
// as f32 and the exact sum of its 32 quants (the weights' u8 offset times it is subtracted).
struct PackedActBlock {
  float d;
  int32_t sum;
};

// info[b] for the nb = n / 32 blocks of one q8_0 activation row.
void packed_act_info(const void* a, int64_t n, PackedActBlock* info);

}  // namespace minnow::kernels

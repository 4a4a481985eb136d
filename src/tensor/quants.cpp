// Type dispatch for the reference quantize / dequantize, plus the plain float types.
// The block formats live in quants_legacy.cpp (32-element blocks) and quants_k.cpp (k-quants).
#include "tensor/quants.h"

#include <cstring>

#include "tensor/fp16.h"

namespace minnow {
namespace {

// True when n is a whole, non-negative number of t's blocks.
bool whole_blocks(DType t, int64_t n) {
  const DTypeInfo* info = dtype_info(static_cast<uint32_t>(t));
  return info != nullptr && n >= 0 && n % info->block_size == 0;
}

}  // namespace

bool dequantize_row(DType t, const void* src, float* dst, int64_t n) {
  if (!whole_blocks(t, n)) return false;
  switch (t) {
    case DType::F32:
      if (n > 0) std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return true;
    case DType::F16: {
      const auto* h = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(h[i]);
      return true;
    }
    case DType::BF16: {
      const auto* h = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(h[i]);
      return true;
    }
    case DType::Q4_0:
      dequantize_row_q4_0(static_cast<const BlockQ4_0*>(src), dst, n);
      return true;
    case DType::Q4_1:
      dequantize_row_q4_1(static_cast<const BlockQ4_1*>(src), dst, n);
      return true;
    case DType::Q5_0:
      dequantize_row_q5_0(static_cast<const BlockQ5_0*>(src), dst, n);
      return true;
    case DType::Q5_1:
      dequantize_row_q5_1(static_cast<const BlockQ5_1*>(src), dst, n);
      return true;
    case DType::Q8_0:
      dequantize_row_q8_0(static_cast<const BlockQ8_0*>(src), dst, n);
      return true;
    case DType::Q8_1:
      dequantize_row_q8_1(static_cast<const BlockQ8_1*>(src), dst, n);
      return true;
    case DType::Q4_K:
      dequantize_row_q4_k(static_cast<const BlockQ4_K*>(src), dst, n);
      return true;
    case DType::Q5_K:
      dequantize_row_q5_k(static_cast<const BlockQ5_K*>(src), dst, n);
      return true;
    case DType::Q6_K:
      dequantize_row_q6_k(static_cast<const BlockQ6_K*>(src), dst, n);
      return true;
    case DType::Q8_K:
      dequantize_row_q8_k(static_cast<const BlockQ8_K*>(src), dst, n);
      return true;
    default:
      return false;
  }
}

bool quantize_row(DType t, const float* src, void* dst, int64_t n) {
  if (!whole_blocks(t, n)) return false;
  switch (t) {
    case DType::F32:
      if (n > 0) std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return true;
    case DType::F16: {
      auto* h = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = fp32_to_fp16(src[i]);
      return true;
    }
    case DType::BF16: {
      auto* h = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = fp32_to_bf16(src[i]);
      return true;
    }
    case DType::Q4_0:
      quantize_row_q4_0(src, static_cast<BlockQ4_0*>(dst), n);
      return true;
    case DType::Q4_1:
      quantize_row_q4_1(src, static_cast<BlockQ4_1*>(dst), n);
      return true;
    case DType::Q5_0:
      quantize_row_q5_0(src, static_cast<BlockQ5_0*>(dst), n);
      return true;
    case DType::Q5_1:
      quantize_row_q5_1(src, static_cast<BlockQ5_1*>(dst), n);
      return true;
    case DType::Q8_0:
      quantize_row_q8_0(src, static_cast<BlockQ8_0*>(dst), n);
      return true;
    case DType::Q8_1:
      quantize_row_q8_1(src, static_cast<BlockQ8_1*>(dst), n);
      return true;
    case DType::Q4_K:
      quantize_row_q4_k(src, static_cast<BlockQ4_K*>(dst), n);
      return true;
    case DType::Q5_K:
      quantize_row_q5_k(src, static_cast<BlockQ5_K*>(dst), n);
      return true;
    case DType::Q6_K:
      quantize_row_q6_k(src, static_cast<BlockQ6_K*>(dst), n);
      return true;
    case DType::Q8_K:
      quantize_row_q8_k(src, static_cast<BlockQ8_K*>(dst), n);
      return true;
    default:
      return false;
  }
}

}  // namespace minnow

// Weight and activation element types, with the GGML type ids GGUF files store (the ids are a
// file-format contract). Every id the format defines has a size here so any file can be read
// and its tensors bounded; `supported` says whether minnow can compute with it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace minnow {

enum class DType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
};

constexpr uint32_t kDTypeIdLimit = 40;  // ids are < this

struct DTypeInfo {
  const char* name;     // "q4_0", as GGUF tools spell it
  int64_t block_size;   // elements per block (1 for plain types)
  size_t block_bytes;   // bytes per block
  bool supported;       // minnow has dequantize + dot kernels for it as a weight type
};

// nullptr for ids the format does not define.
const DTypeInfo* dtype_info(uint32_t id);
inline const DTypeInfo& dtype_info(DType t) { return *dtype_info(static_cast<uint32_t>(t)); }
const char* dtype_name(DType t);

// Bytes of a row of n elements; nullopt when n is not a whole number of blocks.
std::optional<size_t> row_bytes(DType t, int64_t n);

}  // namespace minnow

#include "tensor/dtype.h"

namespace minnow {
namespace {

struct Entry {
  bool defined;
  DTypeInfo info;
};

// Sizes from the GGUF/GGML block definitions; ids 4, 5, 31-33, 36-38 are retired or unassigned.
constexpr Entry kTable[kDTypeIdLimit] = {
    {true, {"f32", 1, 4, true}},          // 0
    {true, {"f16", 1, 2, true}},          // 1
    {true, {"q4_0", 32, 18, true}},       // 2
    {true, {"q4_1", 32, 20, true}},       // 3
    {false, {}},                          // 4
    {false, {}},                          // 5
    {true, {"q5_0", 32, 22, true}},       // 6
    {true, {"q5_1", 32, 24, true}},       // 7
    {true, {"q8_0", 32, 34, true}},       // 8
    {true, {"q8_1", 32, 36, false}},      // 9  (activations only)
    {true, {"q2_k", 256, 84, false}},     // 10
    {true, {"q3_k", 256, 110, false}},    // 11
    {true, {"q4_k", 256, 144, true}},     // 12
    {true, {"q5_k", 256, 176, true}},     // 13
    {true, {"q6_k", 256, 210, true}},     // 14
    {true, {"q8_k", 256, 292, false}},    // 15 (activations only)
    {true, {"iq2_xxs", 256, 66, false}},  // 16
    {true, {"iq2_xs", 256, 74, false}},   // 17
    {true, {"iq3_xxs", 256, 98, false}},  // 18
    {true, {"iq1_s", 256, 50, false}},    // 19
    {true, {"iq4_nl", 32, 18, false}},    // 20
    {true, {"iq3_s", 256, 110, false}},   // 21
    {true, {"iq2_s", 256, 82, false}},    // 22
    {true, {"iq4_xs", 256, 136, false}},  // 23
    {true, {"i8", 1, 1, false}},          // 24
    {true, {"i16", 1, 2, false}},         // 25
    {true, {"i32", 1, 4, false}},         // 26
    {true, {"i64", 1, 8, false}},         // 27
    {true, {"f64", 1, 8, false}},         // 28
    {true, {"iq1_m", 256, 56, false}},    // 29
    {true, {"bf16", 1, 2, true}},         // 30
    {false, {}},                          // 31
    {false, {}},                          // 32
    {false, {}},                          // 33
    {true, {"tq1_0", 256, 54, false}},    // 34
    {true, {"tq2_0", 256, 66, false}},    // 35
    {false, {}},                          // 36
    {false, {}},                          // 37
    {false, {}},                          // 38
    {true, {"mxfp4", 32, 17, false}},     // 39
};

}  // namespace

const DTypeInfo* dtype_info(uint32_t id) {
  if (id >= kDTypeIdLimit || !kTable[id].defined) return nullptr;
  return &kTable[id].info;
}

const char* dtype_name(DType t) {
  const DTypeInfo* i = dtype_info(static_cast<uint32_t>(t));
  return i ? i->name : "unknown";
}

std::optional<size_t> row_bytes(DType t, int64_t n) {
  const DTypeInfo* i = dtype_info(static_cast<uint32_t>(t));
  if (!i || n < 0 || n % i->block_size != 0) return std::nullopt;
  return static_cast<size_t>(n / i->block_size) * i->block_bytes;
}

}  // namespace minnow

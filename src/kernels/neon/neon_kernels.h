// aarch64 NEON kernels. Declarations only: this header is included by generic code
// (dispatch.cpp), which calls these only on aarch64 (NEON is baseline there) and calls the
// dotprod build only where the CPU reports SDOT.
#pragma once

#include <cstdint>

#include "kernels/kernel_table.h"

namespace minnow::kernels::neon {

void vec_dot_f32_f32(int64_t n, const void* w, const void* a, float* out);
void vec_dot_f16_f16(int64_t n, const void* w, const void* a, float* out);
void vec_dot_bf16_bf16(int64_t n, const void* w, const void* a, float* out);
void quantize_row_f16(const float* x, void* out, int64_t n);  // f16 activations

// Sets vec_dot and vec_dot_rows of q4_0, q4_1, q5_0, q5_1, q8_0, q4_k, q5_k and q6_k: bit-identical
// to the scalar reference (quant_dots.h says why). Block sums by widening multiplies (any aarch64
// CPU); dotprod::set_quant_dots is the same with SDOT.
void set_quant_dots(KernelTable& t);
namespace dotprod {
void set_quant_dots(KernelTable& t);
}

// Activation quantizers: byte-identical to the scalar reference (tensor/quants_*.cpp).
void quantize_row_q8_0(const float* x, void* out, int64_t n);
void quantize_row_q8_1(const float* x, void* out, int64_t n);
void quantize_row_q8_k(const float* x, void* out, int64_t n);

// Row conversions to f32.
void to_float_f16(const void* src, float* dst, int64_t n);
void to_float_bf16(const void* src, float* dst, int64_t n);

float dot_f32(int64_t n, const float* x, const float* y);
void axpy_f32(int64_t n, float a, const float* x, float* y);
float dot_f16_f32(int64_t n, const uint16_t* x, const float* y);
void axpy_f16(int64_t n, float a, const uint16_t* x, float* y);
// Round-to-nearest-even like the scalar reference; NaN payloads may differ.
void f32_to_f16(const float* x, uint16_t* y, int64_t n);

// gate = gate / (1 + e^-gate) * up, with the exp of softmax_scaled.
void swiglu(float* gate, const float* up, int64_t n);
// Softmax of scale * x with an exp accurate to ~1-2 ulp (float_kernels.cpp); sums in double.
void softmax_scaled(float* x, int64_t n, float scale);

}  // namespace minnow::kernels::neon

// The scalar reference kernels: portable C++ that defines what every SIMD version computes.
// Named <op>_<weight type>_<activation type>; the ISA is the namespace. dispatch.cpp builds
// the scalar table from these; tests and benchmarks may call them directly.
#pragma once

#include <cstdint>

namespace minnow::kernels::scalar {

// Float weights with f32 activations.
void vec_dot_f32_f32(int64_t n, const void* w, const void* a, float* out);
void vec_dot_f16_f16(int64_t n, const void* w, const void* a, float* out);
void vec_dot_bf16_bf16(int64_t n, const void* w, const void* a, float* out);
void quantize_row_f16(const float* x, void* out, int64_t n);   // f16 activations
void quantize_row_bf16(const float* x, void* out, int64_t n);  // bf16 activations

// 32-element blocks.
void vec_dot_q4_0_q8_0(int64_t n, const void* w, const void* a, float* out);
void vec_dot_q4_1_q8_1(int64_t n, const void* w, const void* a, float* out);
void vec_dot_q5_0_q8_0(int64_t n, const void* w, const void* a, float* out);
void vec_dot_q5_1_q8_1(int64_t n, const void* w, const void* a, float* out);
void vec_dot_q8_0_q8_0(int64_t n, const void* w, const void* a, float* out);

// 256-element k-quant super-blocks.
void vec_dot_q4_k_q8_k(int64_t n, const void* w, const void* a, float* out);
void vec_dot_q5_k_q8_k(int64_t n, const void* w, const void* a, float* out);
void vec_dot_q6_k_q8_k(int64_t n, const void* w, const void* a, float* out);

// f32 / f16 helpers for attention and the KV cache.
float dot_f32(int64_t n, const float* x, const float* y);
void axpy_f32(int64_t n, float a, const float* x, float* y);
float dot_f16_f32(int64_t n, const uint16_t* x, const float* y);
void axpy_f16(int64_t n, float a, const uint16_t* x, float* y);
void f32_to_f16(const float* x, uint16_t* y, int64_t n);

}  // namespace minnow::kernels::scalar

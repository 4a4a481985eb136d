// AVX-512 (F, BW, DQ, VL) + VNNI kernels. Declarations only: this header is included by
// generic code (dispatch.cpp), which calls these only after the run-time CPU check.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/kernel_table.h"

namespace minnow::kernels::avx512 {

void vec_dot_f32_f32(int64_t n, const void* w, const void* a, float* out);
void vec_dot_f16_f16(int64_t n, const void* w, const void* a, float* out);
void vec_dot_bf16_bf16(int64_t n, const void* w, const void* a, float* out);
void quantize_row_f16(const float* x, void* out, int64_t n);  // f16 activations

// Bit-identical to the scalar reference (quant_kernels.cpp, kquant_kernels.cpp say why).
void vec_dot_q4_0_q8_0(int64_t n, const void* w, const void* a, float* out);
void vec_dot_q4_1_q8_1(int64_t n, const void* w, const void* a, float* out);
void vec_dot_q5_0_q8_0(int64_t n, const void* w, const void* a, float* out);
void vec_dot_q5_1_q8_1(int64_t n, const void* w, const void* a, float* out);
void vec_dot_q8_0_q8_0(int64_t n, const void* w, const void* a, float* out);
void vec_dot_q4_k_q8_k(int64_t n, const void* w, const void* a, float* out);
void vec_dot_q5_k_q8_k(int64_t n, const void* w, const void* a, float* out);
void vec_dot_q6_k_q8_k(int64_t n, const void* w, const void* a, float* out);

// n_rows weight rows, w_stride bytes apart, against one activation row (VecDotRowsFn).
void vec_dot_rows_q4_0_q8_0(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* a,
                            float* out);
void vec_dot_rows_q4_1_q8_1(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* a,
                            float* out);
void vec_dot_rows_q5_0_q8_0(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* a,
                            float* out);
void vec_dot_rows_q5_1_q8_1(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* a,
                            float* out);
void vec_dot_rows_q8_0_q8_0(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* a,
                            float* out);
void vec_dot_rows_q4_k_q8_k(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* a,
                            float* out);
void vec_dot_rows_q5_k_q8_k(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* a,
                            float* out);
void vec_dot_rows_q6_k_q8_k(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* a,
                            float* out);

// The prompt-batch matrix products of weight type w (q4_0, q4_1, q5_0, q5_1, q8_0; others: none).
GemmFns gemm_fns(DType w);
// The packed-weight kernel of weight type w (q8_0, q4_0; others: nullptr).
PackedMatmulFn packed_matmul_fn(DType w);

// Activation quantizers: byte-identical to the scalar reference (tensor/quants.cpp).
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
// Softmax of scale * x with an exp accurate to ~1 ulp (float_kernels.cpp); sums in double.
void softmax_scaled(float* x, int64_t n, float scale);

// Flash attention over the KV cache (AttnTileFn).
void attn_tile_f16(const AttnTile<uint16_t>& tile, float* work);
void attn_tile_f32(const AttnTile<float>& tile, float* work);

}  // namespace minnow::kernels::avx512

// AMX (tile) kernels. Declarations only: included by generic code (dispatch.cpp), which calls
// these only after the run-time CPU check and the OS's permission to use tile state.
#pragma once

#include "kernels/kernel_table.h"

namespace minnow::kernels::amx {

// The prompt-batch matrix products of weight type w (q4_0, q4_1, q5_0, q5_1, q8_0; others: none).
GemmFns gemm_fns(DType w);
// The prompt-batch kernel on packed weights of type w (q8_0, q4_0; others: nullptr), on the
// activation tiles of gemm_fns(w).pack_tile.
PackedGemmFn packed_gemm_fn(DType w);

}  // namespace minnow::kernels::amx

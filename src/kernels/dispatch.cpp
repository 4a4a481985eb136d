// Builds the kernel tables (scalar reference, then each ISA's overrides on top of a copy of
// it) and picks the one for this machine once: best available, or MINNOW_ISA. Each target
// builds only its own ISAs' tables (x86-64: avx2, avx512, amx; aarch64: neon).
#include <cstdlib>
#include <cstring>

#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "base/cpu_features.h"
#include "base/log.h"
#include "kernels/amx/amx_kernels.h"
#include "kernels/avx2/avx2_kernels.h"
#include "kernels/avx512/avx512_kernels.h"
#include "kernels/kernel_table.h"
#include "kernels/neon/neon_kernels.h"
#include "kernels/scalar/scalar_kernels.h"
#include "tensor/quants.h"

namespace minnow::kernels {
namespace {

constexpr size_t idx(DType t) {
  return static_cast<size_t>(t);
}

// Scalar quantize_act / to_float entries: the reference implementations in tensor/.
void copy_f32(const float* x, void* out, int64_t n) {
  if (n > 0) std::memcpy(out, x, static_cast<size_t>(n) * sizeof(float));
}
void quantize_q8_0(const float* x, void* out, int64_t n) {
  quantize_row_q8_0(x, static_cast<BlockQ8_0*>(out), n);
}
void quantize_q8_1(const float* x, void* out, int64_t n) {
  quantize_row_q8_1(x, static_cast<BlockQ8_1*>(out), n);
}
void quantize_q8_k(const float* x, void* out, int64_t n) {
  quantize_row_q8_k(x, static_cast<BlockQ8_K*>(out), n);
}

template <DType T>
void to_float(const void* src, float* dst, int64_t n) {
  dequantize_row(T, src, dst, n);
}

KernelTable make_scalar() {
  KernelTable t{};
  t.isa = Isa::kScalar;
  t.vec_dot[idx(DType::F32)] = scalar::vec_dot_f32_f32;
  t.vec_dot[idx(DType::F16)] = scalar::vec_dot_f16_f16;
  t.vec_dot[idx(DType::BF16)] = scalar::vec_dot_bf16_bf16;
  t.vec_dot[idx(DType::Q4_0)] = scalar::vec_dot_q4_0_q8_0;
  t.vec_dot[idx(DType::Q4_1)] = scalar::vec_dot_q4_1_q8_1;
  t.vec_dot[idx(DType::Q5_0)] = scalar::vec_dot_q5_0_q8_0;
  t.vec_dot[idx(DType::Q5_1)] = scalar::vec_dot_q5_1_q8_1;
  t.vec_dot[idx(DType::Q8_0)] = scalar::vec_dot_q8_0_q8_0;
  t.vec_dot[idx(DType::Q4_K)] = scalar::vec_dot_q4_k_q8_k;
  t.vec_dot[idx(DType::Q5_K)] = scalar::vec_dot_q5_k_q8_k;
  t.vec_dot[idx(DType::Q6_K)] = scalar::vec_dot_q6_k_q8_k;

  t.quantize_act[idx(DType::F32)] = copy_f32;
  t.quantize_act[idx(DType::F16)] = scalar::quantize_row_f16;
  t.quantize_act[idx(DType::BF16)] = scalar::quantize_row_bf16;
  t.quantize_act[idx(DType::Q8_0)] = quantize_q8_0;
  t.quantize_act[idx(DType::Q8_1)] = quantize_q8_1;
  t.quantize_act[idx(DType::Q8_K)] = quantize_q8_k;

  t.to_float[idx(DType::F32)] = to_float<DType::F32>;
  t.to_float[idx(DType::F16)] = to_float<DType::F16>;
  t.to_float[idx(DType::BF16)] = to_float<DType::BF16>;
  t.to_float[idx(DType::Q4_0)] = to_float<DType::Q4_0>;
  t.to_float[idx(DType::Q4_1)] = to_float<DType::Q4_1>;
  t.to_float[idx(DType::Q5_0)] = to_float<DType::Q5_0>;
  t.to_float[idx(DType::Q5_1)] = to_float<DType::Q5_1>;
  t.to_float[idx(DType::Q8_0)] = to_float<DType::Q8_0>;
  t.to_float[idx(DType::Q4_K)] = to_float<DType::Q4_K>;
  t.to_float[idx(DType::Q5_K)] = to_float<DType::Q5_K>;
  t.to_float[idx(DType::Q6_K)] = to_float<DType::Q6_K>;

  t.dot_f32 = scalar::dot_f32;
  t.axpy_f32 = scalar::axpy_f32;
  t.dot_f16_f32 = scalar::dot_f16_f32;
  t.axpy_f16 = scalar::axpy_f16;
  t.f32_to_f16 = scalar::f32_to_f16;
  return t;
}

#if defined(__x86_64__)
KernelTable make_avx2() {
  KernelTable t = make_scalar();
  t.isa = Isa::kAvx2;
  t.vec_dot[idx(DType::F32)] = avx2::vec_dot_f32_f32;
  t.vec_dot[idx(DType::F16)] = avx2::vec_dot_f16_f16;
  t.vec_dot[idx(DType::BF16)] = avx2::vec_dot_bf16_bf16;
  t.vec_dot[idx(DType::Q4_0)] = avx2::vec_dot_q4_0_q8_0;
  t.vec_dot[idx(DType::Q4_1)] = avx2::vec_dot_q4_1_q8_1;
  t.vec_dot[idx(DType::Q5_0)] = avx2::vec_dot_q5_0_q8_0;
  t.vec_dot[idx(DType::Q5_1)] = avx2::vec_dot_q5_1_q8_1;
  t.vec_dot[idx(DType::Q8_0)] = avx2::vec_dot_q8_0_q8_0;
  t.vec_dot[idx(DType::Q4_K)] = avx2::vec_dot_q4_k_q8_k;
  t.vec_dot[idx(DType::Q5_K)] = avx2::vec_dot_q5_k_q8_k;
  t.vec_dot[idx(DType::Q6_K)] = avx2::vec_dot_q6_k_q8_k;

  t.quantize_act[idx(DType::F16)] = avx2::quantize_row_f16;
  t.quantize_act[idx(DType::Q8_0)] = avx2::quantize_row_q8_0;
  t.quantize_act[idx(DType::Q8_1)] = avx2::quantize_row_q8_1;
  t.quantize_act[idx(DType::Q8_K)] = avx2::quantize_row_q8_k;

  t.to_float[idx(DType::F16)] = avx2::to_float_f16;
  t.to_float[idx(DType::BF16)] = avx2::to_float_bf16;

  t.dot_f32 = avx2::dot_f32;
  t.axpy_f32 = avx2::axpy_f32;
  t.dot_f16_f32 = avx2::dot_f16_f32;
  t.axpy_f16 = avx2::axpy_f16;
  t.f32_to_f16 = avx2::f32_to_f16;
  return t;
}

KernelTable make_avx512() {
  KernelTable t = make_avx2();
  t.isa = Isa::kAvx512;
  t.vec_dot[idx(DType::F32)] = avx512::vec_dot_f32_f32;
  t.vec_dot[idx(DType::F16)] = avx512::vec_dot_f16_f16;
  t.vec_dot[idx(DType::BF16)] = avx512::vec_dot_bf16_bf16;
  t.vec_dot[idx(DType::Q4_0)] = avx512::vec_dot_q4_0_q8_0;
  t.vec_dot[idx(DType::Q4_1)] = avx512::vec_dot_q4_1_q8_1;
  t.vec_dot[idx(DType::Q5_0)] = avx512::vec_dot_q5_0_q8_0;
  t.vec_dot[idx(DType::Q5_1)] = avx512::vec_dot_q5_1_q8_1;
  t.vec_dot[idx(DType::Q8_0)] = avx512::vec_dot_q8_0_q8_0;
  t.vec_dot[idx(DType::Q4_K)] = avx512::vec_dot_q4_k_q8_k;
  t.vec_dot[idx(DType::Q5_K)] = avx512::vec_dot_q5_k_q8_k;
  t.vec_dot[idx(DType::Q6_K)] = avx512::vec_dot_q6_k_q8_k;

  t.vec_dot_rows[idx(DType::Q4_0)] = avx512::vec_dot_rows_q4_0_q8_0;
  t.vec_dot_rows[idx(DType::Q4_1)] = avx512::vec_dot_rows_q4_1_q8_1;
  t.vec_dot_rows[idx(DType::Q5_0)] = avx512::vec_dot_rows_q5_0_q8_0;
  t.vec_dot_rows[idx(DType::Q5_1)] = avx512::vec_dot_rows_q5_1_q8_1;
  t.vec_dot_rows[idx(DType::Q8_0)] = avx512::vec_dot_rows_q8_0_q8_0;
  t.vec_dot_rows[idx(DType::Q4_K)] = avx512::vec_dot_rows_q4_k_q8_k;
  t.vec_dot_rows[idx(DType::Q5_K)] = avx512::vec_dot_rows_q5_k_q8_k;
  t.vec_dot_rows[idx(DType::Q6_K)] = avx512::vec_dot_rows_q6_k_q8_k;
  for (DType w : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0})
    t.gemm[idx(w)] = avx512::gemm_fns(w);
  for (DType w : {DType::Q4_0, DType::Q8_0}) t.packed_matmul[idx(w)] = avx512::packed_matmul_fn(w);

  t.quantize_act[idx(DType::F16)] = avx512::quantize_row_f16;
  t.quantize_act[idx(DType::Q8_0)] = avx512::quantize_row_q8_0;
  t.quantize_act[idx(DType::Q8_1)] = avx512::quantize_row_q8_1;
  t.quantize_act[idx(DType::Q8_K)] = avx512::quantize_row_q8_k;

  t.to_float[idx(DType::F16)] = avx512::to_float_f16;
  t.to_float[idx(DType::BF16)] = avx512::to_float_bf16;

  t.dot_f32 = avx512::dot_f32;
  t.axpy_f32 = avx512::axpy_f32;
  t.dot_f16_f32 = avx512::dot_f16_f32;
  t.axpy_f16 = avx512::axpy_f16;
  t.f32_to_f16 = avx512::f32_to_f16;
  t.softmax_scaled = avx512::softmax_scaled;
  t.swiglu = avx512::swiglu;
  t.attn_tile_f16 = avx512::attn_tile_f16;
  t.attn_tile_f32 = avx512::attn_tile_f32;
  return t;
}

KernelTable make_amx() {
  KernelTable t = make_avx512();
  t.isa = Isa::kAmx;
  for (DType w : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0})
    t.gemm[idx(w)] = amx::gemm_fns(w);
  for (DType w : {DType::Q4_0, DType::Q8_0}) t.packed_gemm[idx(w)] = amx::packed_gemm_fn(w);
  return t;
}
#endif  // __x86_64__

#if defined(__aarch64__)
KernelTable make_neon() {
  KernelTable t = make_scalar();
  t.isa = Isa::kNeon;
  // The integer dot products come in two builds: SDOT where the CPU has dotprod, else widening
  // multiplies; both give the same (exact) block sums, so the same results.
  if (cpu_features().neon_dotprod) {
    neon::dotprod::set_quant_dots(t);
  } else {
    neon::set_quant_dots(t);
  }

  t.vec_dot[idx(DType::F32)] = neon::vec_dot_f32_f32;
  t.vec_dot[idx(DType::F16)] = neon::vec_dot_f16_f16;
  t.vec_dot[idx(DType::BF16)] = neon::vec_dot_bf16_bf16;

  t.quantize_act[idx(DType::F16)] = neon::quantize_row_f16;
  t.quantize_act[idx(DType::Q8_0)] = neon::quantize_row_q8_0;
  t.quantize_act[idx(DType::Q8_1)] = neon::quantize_row_q8_1;
  t.quantize_act[idx(DType::Q8_K)] = neon::quantize_row_q8_k;

  t.to_float[idx(DType::F16)] = neon::to_float_f16;
  t.to_float[idx(DType::BF16)] = neon::to_float_bf16;

  t.dot_f32 = neon::dot_f32;
  t.axpy_f32 = neon::axpy_f32;
  t.dot_f16_f32 = neon::dot_f16_f32;
  t.axpy_f16 = neon::axpy_f16;
  t.f32_to_f16 = neon::f32_to_f16;
  t.softmax_scaled = neon::softmax_scaled;
  t.swiglu = neon::swiglu;
  return t;
}
#endif  // __aarch64__

// Linux hands out AMX tile state only to processes that ask (arch_prctl ARCH_REQ_XCOMP_PERM
// for XTILEDATA); without it the first tile instruction raises SIGILL. Asked once, process-wide.
bool amx_permitted() {
#if defined(__linux__) && defined(__x86_64__)
  static const bool ok = [] {
    constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
  }();
  return ok;
#else
  return false;
#endif
}

// Best first.
constexpr Isa kPreference[] = {Isa::kAmx, Isa::kAvx512, Isa::kAvx2, Isa::kNeon, Isa::kScalar};

Isa best_isa() {
  for (Isa isa : kPreference)
    if (isa_available(isa)) return isa;
  return Isa::kScalar;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
    case Isa::kAmx:
      return "amx";
    case Isa::kNeon:
      return "neon";
  }
  return "unknown";
}

std::optional<Isa> isa_from_name(std::string_view name) {
  for (Isa isa : kPreference)
    if (name == isa_name(isa)) return isa;
  return std::nullopt;
}

std::span<const Isa> all_isas() {
  return kPreference;
}

DType activation_type(DType w) {
  switch (w) {
    case DType::Q4_0:
    case DType::Q5_0:
    case DType::Q8_0:
      return DType::Q8_0;
    case DType::Q4_1:
    case DType::Q5_1:
      return DType::Q8_1;
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K:
      return DType::Q8_K;
    case DType::F16:
      return DType::F16;
    case DType::BF16:
      return DType::BF16;
    default:
      return DType::F32;
  }
}

bool isa_available(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return true;
    case Isa::kAvx2: {
      const CpuFeatures& f = cpu_features();
      return f.avx2 && f.fma && f.f16c;
    }
    case Isa::kAvx512: {
      // cpu_features() reports AVX-512 only where XGETBV shows the OS saving ZMM state.
      const CpuFeatures& f = cpu_features();
      return isa_available(Isa::kAvx2) && f.avx512f && f.avx512bw && f.avx512dq && f.avx512vl && f.avx512vnni;
    }
    case Isa::kAmx:
      return isa_available(Isa::kAvx512) && cpu_features().amx_int8 && amx_permitted();
    case Isa::kNeon:
      return cpu_features().neon;
  }
  return false;
}

const KernelTable& table(Isa isa) {
  static const KernelTable scalar_table = make_scalar();
#if defined(__x86_64__)
  static const KernelTable avx2_table = make_avx2();
  static const KernelTable avx512_table = make_avx512();
  static const KernelTable amx_table = make_amx();
#endif
#if defined(__aarch64__)
  static const KernelTable neon_table = make_neon();
#endif
  switch (isa) {
#if defined(__x86_64__)
    case Isa::kAmx:
      return amx_table;
    case Isa::kAvx2:
      return avx2_table;
    case Isa::kAvx512:
      return avx512_table;
#endif
#if defined(__aarch64__)
    case Isa::kNeon:
      return neon_table;
#endif
    default:  // kScalar, and ISAs of another architecture (never available)
      break;
  }
  return scalar_table;
}

Isa choose_isa(const char* requested) {
  const Isa best = best_isa();
  if (requested == nullptr || requested[0] == '\0') return best;
  if (const std::optional<Isa> isa = isa_from_name(requested)) {
    if (isa_available(*isa)) return *isa;
    log_message(LogLevel::kWarn, "kernels: MINNOW_ISA=%s is not available on this CPU; using %s", requested,
                isa_name(best));
    return best;
  }
  log_message(LogLevel::kWarn,
              "kernels: unknown MINNOW_ISA=%s (known: scalar, avx2, avx512, amx, neon); using %s", requested,
              isa_name(best));
  return best;
}

const KernelTable& active() {
  static const KernelTable& t = table(choose_isa(std::getenv("MINNOW_ISA")));
  return t;
}

}  // namespace minnow::kernels

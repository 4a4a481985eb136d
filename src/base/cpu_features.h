// What the CPU and OS support, read once: on x86-64 CPUID + XGETBV (so AVX state saving is
// checked too), on aarch64 Linux the kernel's hardware capability bits (getauxval). Features of
// the other architecture read false.
#pragma once

namespace minnow {

struct CpuFeatures {
  bool avx2 = false;  // with FMA and F16C, as every AVX2 CPU we target has
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512dq = false;
  bool avx512vl = false;
  bool avx512vnni = false;
  bool avx512bf16 = false;
  bool avxvnni = false;
  bool amx_int8 = false;      // AMX tiles with int8 products, and the OS saving tile state (XCR0)
  bool neon = false;          // aarch64 Advanced SIMD (baseline there; HWCAP_ASIMD)
  bool neon_dotprod = false;  // SDOT/UDOT int8 dot products (ARMv8.2 dotprod; HWCAP_ASIMDDP)
  bool neon_fp16 = false;     // half-precision arithmetic, scalar and vector (HWCAP_FPHP + ASIMDHP)
};

const CpuFeatures& cpu_features();

}  // namespace minnow

// What the CPU and OS support, read once (CPUID + XGETBV so AVX state saving is checked too).
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
  bool amx_int8 = false;  // AMX tiles with int8 products, and the OS saving tile state (XCR0)
};

const CpuFeatures& cpu_features();

}  // namespace minnow

#include "base/cpu_features.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#elif defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace minnow {
namespace {

CpuFeatures detect() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27);
  const bool avx = c & (1u << 28);
  f.fma = c & (1u << 12);
  f.f16c = c & (1u << 29);
  if (!osxsave || !avx) return f;
  unsigned xlo, xhi;
  __asm__("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
  const bool ymm_state = (xlo & 0x6) == 0x6;
  const bool zmm_state = (xlo & 0xe6) == 0xe6;
  const bool tile_state = (xlo & 0x60000) == 0x60000;  // XTILECFG and XTILEDATA
  if (!ymm_state) {
    f.fma = f.f16c = false;
    return f;
  }
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  f.avx2 = (b & (1u << 5)) && f.fma && f.f16c;
  if (zmm_state) {
    f.avx512f = b & (1u << 16);
    f.avx512bw = b & (1u << 30);
    f.avx512dq = b & (1u << 17);
    f.avx512vl = b & (1u << 31);
    f.avx512vnni = c & (1u << 11);
  }
  f.amx_int8 = tile_state && (d & (1u << 24)) && (d & (1u << 25));  // AMX-TILE, AMX-INT8
  unsigned a1, b1, c1, d1;
  __cpuid_count(7, 1, a1, b1, c1, d1);
  f.avxvnni = a1 & (1u << 4);
  if (zmm_state) f.avx512bf16 = a1 & (1u << 5);
#elif defined(__aarch64__) && defined(__linux__)
  const unsigned long hw = getauxval(AT_HWCAP);
  f.neon = hw & HWCAP_ASIMD;
  f.neon_dotprod = f.neon && (hw & HWCAP_ASIMDDP);
  f.neon_fp16 = f.neon && (hw & HWCAP_FPHP) && (hw & HWCAP_ASIMDHP);
#elif defined(__aarch64__)
  f.neon = true;  // part of the AArch64 base architecture; optional extensions stay unknown (false)
#endif
  return f;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

}  // namespace minnow

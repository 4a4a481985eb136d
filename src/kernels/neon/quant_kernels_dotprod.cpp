// The NEON quant dot products (quant_dots.h) with SDOT, the ARMv8.2 dotprod extension: each
// int32 lane gains the exact sum of 4 int8 products. Built with -march=armv8.2-a+dotprod and
// entered only where the CPU reports it (cpu_features().neon_dotprod).
#include "kernels/neon/neon_kernels.h"
#include "kernels/neon/quant_dots.h"

namespace minnow::kernels::neon {
namespace {

struct SdotDot {
  static int32x4_t acc(int32x4_t acc, int8x16_t a, int8x16_t b) { return vdotq_s32(acc, a, b); }
};

}  // namespace

namespace dotprod {
void set_quant_dots(KernelTable& t) {
  set_quant_dots_with<SdotDot>(t);
}
}  // namespace dotprod

}  // namespace minnow::kernels::neon

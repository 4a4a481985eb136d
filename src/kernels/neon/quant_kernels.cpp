// The NEON quant dot products (quant_dots.h) for any aarch64 CPU: 16 int8 products summed by
// widening multiplies. Each product fits int16 (|-128 * -128| = 2^14) and SADALP adds adjacent
// pairs straight into int32, so the sums are exact for any bytes.
#include "kernels/neon/neon_kernels.h"
#include "kernels/neon/quant_dots.h"

namespace minnow::kernels::neon {
namespace {

struct WideningDot {
  static int32x4_t acc(int32x4_t acc, int8x16_t a, int8x16_t b) {
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
    return vpadalq_s16(acc, vmull_high_s8(a, b));
  }
};

}  // namespace

void set_quant_dots(KernelTable& t) {
  set_quant_dots_with<WideningDot>(t);
}

}  // namespace minnow::kernels::neon

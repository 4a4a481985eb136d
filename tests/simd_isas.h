// The SIMD kernel sets this CPU has (every available ISA but the scalar reference), for the
// tests that hold each of them against scalar.
#pragma once

#include <vector>

#include "kernels/kernel_table.h"

namespace minnow::test {

inline std::vector<kernels::Isa> simd_isas() {
  std::vector<kernels::Isa> out;
  for (kernels::Isa isa : kernels::all_isas())
    if (isa != kernels::Isa::kScalar && kernels::isa_available(isa)) out.push_back(isa);
  return out;
}

}  // namespace minnow::test

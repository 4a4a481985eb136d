// The kernel tables: every supported weight type has a vec_dot and a to_float on every ISA,
// each activation type a quantizer; activation types pair as the reference engine pairs them;
// MINNOW_ISA names resolve, and unknown or unavailable ones fall back to the best with a warning.
#include <string>
#include <vector>

#include "base/log.h"
#include "kernel_test_data.h"
#include "test_util.h"

namespace minnow::kernels::test {
namespace {

std::vector<std::string>* g_warnings = nullptr;
void capture(LogLevel level, const char* message) {
  if (g_warnings != nullptr && level == LogLevel::kWarn) g_warnings->push_back(message);
}

TEST(KernelsDispatch, ActivationTypes) {
  EXPECT_EQ(activation_type(DType::Q4_0), DType::Q8_0);
  EXPECT_EQ(activation_type(DType::Q5_0), DType::Q8_0);
  EXPECT_EQ(activation_type(DType::Q8_0), DType::Q8_0);
  EXPECT_EQ(activation_type(DType::Q4_1), DType::Q8_1);
  EXPECT_EQ(activation_type(DType::Q5_1), DType::Q8_1);
  EXPECT_EQ(activation_type(DType::Q4_K), DType::Q8_K);
  EXPECT_EQ(activation_type(DType::Q5_K), DType::Q8_K);
  EXPECT_EQ(activation_type(DType::Q6_K), DType::Q8_K);
  EXPECT_EQ(activation_type(DType::F32), DType::F32);
  EXPECT_EQ(activation_type(DType::F16), DType::F16);
  EXPECT_EQ(activation_type(DType::BF16), DType::BF16);
}

TEST(KernelsDispatch, TablesAreComplete) {
  for (Isa isa : all_isas()) {
    if (!isa_available(isa)) continue;
    const KernelTable& kt = table(isa);
    EXPECT_EQ(kt.isa, isa);
    for (uint32_t id = 0; id < kDTypeIdLimit; ++id) {
      const DTypeInfo* info = dtype_info(id);
      if (info == nullptr || !info->supported) continue;
      EXPECT_NE(kt.vec_dot[id], nullptr) << isa_name(isa) << " " << info->name;
      EXPECT_NE(kt.to_float[id], nullptr) << isa_name(isa) << " " << info->name;
      EXPECT_NE(kt.quantize_act[static_cast<size_t>(activation_type(static_cast<DType>(id)))], nullptr)
          << isa_name(isa) << " " << info->name;
    }
    EXPECT_NE(kt.dot_f32, nullptr);
    EXPECT_NE(kt.axpy_f32, nullptr);
    EXPECT_NE(kt.dot_f16_f32, nullptr);
    EXPECT_NE(kt.axpy_f16, nullptr);
    EXPECT_NE(kt.f32_to_f16, nullptr);
  }
}

TEST(KernelsDispatch, ChooseIsa) {
  std::vector<std::string> warnings;
  g_warnings = &warnings;
  set_log_sink(capture);
  Isa best = Isa::kScalar;  // all_isas() lists the best first
  for (Isa isa : all_isas()) {
    if (isa_available(isa)) {
      best = isa;
      break;
    }
  }
  EXPECT_EQ(choose_isa(nullptr), best);
  EXPECT_EQ(choose_isa(""), best);
  EXPECT_EQ(choose_isa("scalar"), Isa::kScalar);
  EXPECT_TRUE(warnings.empty());
  for (Isa isa : all_isas()) {
    if (isa_available(isa)) {
      EXPECT_EQ(choose_isa(isa_name(isa)), isa);
      EXPECT_TRUE(warnings.empty()) << isa_name(isa);
    } else {
      EXPECT_EQ(choose_isa(isa_name(isa)), best);
      EXPECT_EQ(warnings.size(), 1u) << isa_name(isa);
      warnings.clear();
    }
  }
  EXPECT_EQ(choose_isa("avx9000"), best);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("avx9000"), std::string::npos) << warnings[0];
  set_log_sink(nullptr);
  g_warnings = nullptr;

  EXPECT_TRUE(isa_available(active().isa));
  EXPECT_STREQ(isa_name(Isa::kScalar), "scalar");
  EXPECT_STREQ(isa_name(Isa::kAvx2), "avx2");
  EXPECT_STREQ(isa_name(Isa::kAvx512), "avx512");
  EXPECT_STREQ(isa_name(Isa::kAmx), "amx");
  EXPECT_STREQ(isa_name(Isa::kNeon), "neon");
}

// A build has its own architecture's ISAs only: NEON (baseline there) on aarch64 and no x86
// ISA; on x86-64 never NEON.
TEST(KernelsDispatch, IsasOfThisArchitecture) {
#if defined(__aarch64__)
  EXPECT_TRUE(isa_available(Isa::kNeon));
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512, Isa::kAmx}) EXPECT_FALSE(isa_available(isa)) << isa_name(isa);
  EXPECT_EQ(choose_isa(nullptr), Isa::kNeon);
  EXPECT_EQ(table(Isa::kNeon).isa, Isa::kNeon);
#else
  EXPECT_FALSE(isa_available(Isa::kNeon));
#endif
}

TEST(KernelsDispatch, IsaFromName) {
  for (Isa isa : all_isas()) EXPECT_EQ(isa_from_name(isa_name(isa)), isa);
  EXPECT_EQ(isa_from_name("avx512"), Isa::kAvx512);
  EXPECT_EQ(isa_from_name("neon"), Isa::kNeon);
  EXPECT_EQ(isa_from_name("AVX2"), std::nullopt);
  EXPECT_EQ(isa_from_name("avx"), std::nullopt);
  EXPECT_EQ(isa_from_name(""), std::nullopt);
  EXPECT_EQ(all_isas().back(), Isa::kScalar);
}

}  // namespace
}  // namespace minnow::kernels::test

// Models whose linear weights were packed at load (Model::pack_weights) give the same logits,
// bit for bit, as the same file loaded without packing: on every ISA whose table has packed
// kernels, for decoding (batches of 1) and prompt batches, for separate, fused (phi3) and tied
// (gemma, llama) output matrices; and a packed model still runs with every other table.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "forward_harness.h"
#include "simd_isas.h"
#include "tiny_gemma.h"
#include "tiny_model.h"
#include "tiny_qwen2_phi3.h"

namespace minnow {
namespace {

struct Case {
  std::string name;
  std::vector<uint8_t> bytes;
  DType wtype;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  for (DType t : {DType::Q8_0, DType::Q4_0}) {
    test::TinyLlamaSpec llama;
    llama.wtype = t;
    llama.tied = t == DType::Q4_0;
    out.push_back({std::string("llama_") + dtype_name(t), test::make_tiny_llama(llama), t});
    test::TinyArchSpec phi3;
    phi3.arch = "phi3";
    phi3.wtype = t;
    out.push_back({std::string("phi3_") + dtype_name(t), test::make_tiny_arch(phi3), t});
    test::TinyGemmaSpec gemma;
    gemma.wtype = t;
    out.push_back({std::string("gemma3_") + dtype_name(t), test::make_tiny_gemma(gemma), t});
  }
  return out;
}

struct Model {
  std::optional<gguf::File> file;
  std::unique_ptr<models::Model> model;
};

Model load(const std::vector<uint8_t>& bytes, const kernels::KernelTable* pack_for, ThreadPool* pool) {
  Model m;
  auto f = gguf::File::parse(bytes);
  EXPECT_TRUE(f.ok()) << f.error().message;
  if (!f) return m;
  m.file.emplace(std::move(*f));
  auto loaded = models::load_model(*m.file, models::LoadConfig{pack_for, pool});
  EXPECT_TRUE(loaded.ok()) << loaded.error().message;
  if (loaded) m.model = std::move(*loaded);
  return m;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(ModelsPacked, PackedLogitsEqualUnpacked) {
  const std::vector<kernels::Isa> isas = test::simd_isas();
  int packed_isas = 0;
  for (const Case& c : cases()) {
    const Model plain = load(c.bytes, nullptr, nullptr);
    ASSERT_TRUE(plain.model) << c.name;
    EXPECT_EQ(plain.model->packed_bytes(), 0u) << c.name;
    const std::vector<int32_t> tokens = test::random_tokens(20, plain.model->hparams().n_vocab);
    for (kernels::Isa isa : isas) {
      const kernels::KernelTable& kt = kernels::table(isa);
      ThreadPool pool(2);
      const Model packed = load(c.bytes, &kt, &pool);
      ASSERT_TRUE(packed.model) << c.name;
      const bool has = kt.packed_matmul[static_cast<size_t>(c.wtype)] != nullptr;
      EXPECT_EQ(packed.model->packed_bytes() > 0, has) << c.name << " " << kernels::isa_name(isa);
      packed_isas += has;
      for (int batch : {1, 4, 20}) {
        test::RunOptions o;
        o.batch = batch;
        o.kt = &kt;
        EXPECT_TRUE(
            same_bits(test::run_logits(*packed.model, tokens, o), test::run_logits(*plain.model, tokens, o)))
            << c.name << " " << kernels::isa_name(isa) << " batch " << batch;
        // The packed model with the scalar reference (which reads the row-major data).
        o.kt = &kernels::table(kernels::Isa::kScalar);
        if (batch == 4) {
          EXPECT_TRUE(same_bits(test::run_logits(*packed.model, tokens, o),
                                test::run_logits(*plain.model, tokens, o)))
              << c.name << " packed for " << kernels::isa_name(isa) << ", run on scalar";
        }
      }
    }
  }
  if (packed_isas == 0) GTEST_SKIP() << "no kernel table on this CPU has packed kernels";
}

}  // namespace
}  // namespace minnow

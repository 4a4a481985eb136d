// Rewriting a GGUF model's weights into another type, with llama.cpp's llama-quantize rules:
// only 2-D (and higher) weight matrices change type (norms, biases and other 1-D tensors are
// copied), the _M mixes give some tensors more bits, and a matrix whose rows are not a whole
// number of the type's blocks falls back to a type that fits. Metadata is copied, with
// general.file_type and general.quantization_version set. Not here: importance matrices.
//
//   minnow::QuantizeOptions options;
//   options.on_tensor = [](const minnow::QuantizedTensor& t) { std::printf("%s\n", t.name.c_str()); };
//   auto r = minnow::quantize_gguf("model-f16.gguf", "model-q4_k_m.gguf", minnow::QuantType::kQ4_K_M,
//   options); if (!r.ok()) std::fprintf(stderr, "%s\n", r.error().message.c_str());
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "minnow/error.h"

namespace minnow {

// The file types minnow writes, named as llama.cpp names them.
enum class QuantType {
  kQ4_0,
  kQ4_1,
  kQ5_0,
  kQ5_1,
  kQ8_0,
  kQ4_K_S,
  kQ4_K_M,
  kQ5_K_S,
  kQ5_K_M,
  kQ6_K,
  kF16,
  kBF16,
  kF32,
};

// "Q4_K_M", "q8_0", "bf16", ... (any case); nullopt for a name not listed in kQuantTypeNames.
std::optional<QuantType> parse_quant_type(std::string_view name);
const char* quant_type_name(QuantType type);  // "Q4_K_M"
extern const char* const kQuantTypeNames;     // "Q4_0, Q4_1, ..." for help and error messages
// llama.cpp's LLAMA_FTYPE id, stored as general.file_type (Q4_K_M is 15).
uint32_t quant_file_type(QuantType type);

// What happened to one tensor.
struct QuantizedTensor {
  std::string name;
  std::vector<int64_t> shape;  // ne: the row length first
  std::string from;            // its type in the input ("f32", "q8_0", ...)
  std::string to;              // its type in the output; == from when copied unchanged
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  bool requantized = false;   // converted from one block-quantized type into another: errors add up
  std::string fallback_from;  // the type the rules chose, when its blocks do not fit the rows; else ""
};

struct QuantizeSummary {
  std::vector<QuantizedTensor> tensors;  // in file order
  uint64_t bytes_in = 0;                 // tensor data, before and after
  uint64_t bytes_out = 0;
  uint64_t file_size_in = 0;
  uint64_t file_size_out = 0;
  int n_converted = 0;    // tensors whose type changed
  int n_requantized = 0;  // of those, from a block-quantized type
  int n_fallback = 0;
};

struct QuantizeOptions {
  int n_threads = 0;  // <= 0: one per hardware thread
  // Called as each tensor has been written, in file order (progress for the CLI).
  std::function<void(const QuantizedTensor&)> on_tensor;
};

// Reads in_path (any tensor type minnow can dequantize: f32, f16, bf16, q4_0 .. q8_0, q4_k ..
// q6_k; requantizing is allowed and counted), plans every tensor's type before writing, then
// streams out_path tensor by tensor through a temporary renamed at the end: a failed run leaves
// no file, and an existing out_path untouched. Errors name the file and the tensor.
Result<QuantizeSummary> quantize_gguf(const std::string& in_path, const std::string& out_path, QuantType type,
                                      const QuantizeOptions& options = {});

}  // namespace minnow

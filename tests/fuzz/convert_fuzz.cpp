// libFuzzer target for the safetensors reader: parses arbitrary bytes and, when they parse, reads
// every float tensor's values and looks every tensor up by name, so ASan/UBSan see any view that
// escapes the input. Seeds: corpus/convert (written by convert_safetensors_test on request).
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "convert/safetensors.h"

using namespace minnow;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto r = convert::SafetensorsFile::parse(std::span<const uint8_t>(data, size), "fuzz");
  if (!r.ok()) return 0;
  volatile uint64_t sink = r->metadata().size();
  std::vector<float> values;
  for (const convert::StTensor& t : r->tensors()) {
    sink = sink + (r->find(t.name) != nullptr) + t.shape.size() + convert::st_dtype_size(t.dtype);
    if (t.end > t.begin) sink = sink + t.data[0] + t.data[t.end - t.begin - 1];
    // Values of small float tensors, and a read past the end, which must be refused.
    if (!convert::st_dtype_is_float(t.dtype) || t.n_elements > (int64_t{1} << 16)) continue;
    values.resize(static_cast<size_t>(t.n_elements) + 1);
    sink = sink + convert::read_f32(t, 0, std::span<float>(values.data(), values.size() - 1)).ok();
    sink = sink + convert::read_f32(t, 0, values).ok();
    for (size_t i = 0; i + 1 < values.size(); ++i) sink = sink + (values[i] != 0);
  }
  for (const auto& [k, v] : r->metadata()) sink = sink + k.size() + v.size();
  (void)sink;
  return 0;
}

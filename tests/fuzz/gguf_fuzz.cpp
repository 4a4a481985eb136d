// libFuzzer target for the GGUF reader: parses arbitrary bytes and, when they parse, reads every
// metadata value, array element and tensor byte through the public API, so ASan/UBSan see any
// view that escapes the input. Seeds: corpus/gguf (written by gguf_corrupt_test on request).
#include <cstddef>
#include <cstdint>
#include <span>

#include "gguf/gguf.h"

using namespace minnow;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto r = gguf::File::parse(std::span<const uint8_t>(data, size));
  if (!r.ok()) return 0;
  const gguf::File& f = *r;
  volatile uint64_t sink = f.version() + f.alignment() + f.data_offset() + f.file_size();
  for (const auto& [key, v] : f.metadata()) {
    // Every getter on every key: each must answer ok or a clean error whatever the type.
    sink = sink + f.get_int(key).ok() + f.get_uint(key).ok() + f.get_float(key).ok() + f.get_bool(key).ok() +
           f.get_string(key).ok() + f.get_array(key).ok() + f.get_int_or(key, 1).ok() +
           f.get_float_or(key, 1).ok() + f.get_bool_or(key, true).ok() + f.get_string_or(key, "").ok();
    sink = sink + (f.find(key) == &v) + v.is_integer() + v.is_float();
    for (char c : v.str) sink = sink + static_cast<uint8_t>(c);
    if (v.arr) {
      const gguf::ArrayValue& a = *v.arr;
      for (uint64_t i = 0; i < a.count; ++i) {
        sink = sink + static_cast<uint64_t>(a.int_at(i)) + static_cast<uint64_t>(a.float_at(i) != 0);
      }
      sink = sink + static_cast<uint64_t>(a.int_at(a.count)) + gguf::value_type_name(a.elem_type)[0];
      for (std::string_view s : a.strings) {
        for (char c : s) sink = sink + static_cast<uint8_t>(c);
      }
    }
  }
  for (const gguf::TensorInfo& t : f.tensors()) {
    sink = sink + static_cast<uint64_t>(t.n_elements()) + static_cast<uint64_t>(t.n_dims) + t.offset;
    sink = sink + (f.find_tensor(t.name) == &t) + static_cast<uint32_t>(t.type);
    if (t.n_bytes > 0) sink = sink + t.data[0] + t.data[t.n_bytes - 1];
  }
  (void)sink;
  return 0;
}

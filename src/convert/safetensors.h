// The safetensors format (Hugging Face weights): an 8-byte little-endian header length, a JSON
// header {"name": {"dtype", "shape", "data_offsets"}, "__metadata__": {...}}, then the raw data.
// A bounded, defensive reader over a memory mapping (every length, shape and offset checked with
// overflow-checked math; corruption is an Error naming the file and tensor), and the writer the
// tests build model folders with. Not a general tensor library: values come out as f32.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/mmap.h"

namespace minnow::convert {

// Every dtype the format defines (so any file can be bounded); F32/F16/BF16 can be read as values.
enum class StDType { BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64 };

const char* st_dtype_name(StDType t);  // as the format spells it: "F16"
size_t st_dtype_size(StDType t);       // bytes per element
std::optional<StDType> st_dtype_from_name(std::string_view name);
bool st_dtype_is_float(StDType t);  // F32, F16 or BF16: what read_f32 accepts

// Header lengths past this are not weights files (the reference implementation's limit too).
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr int kMaxStDims = 8;

struct StTensor {
  std::string name;
  StDType dtype = StDType::F32;
  std::vector<int64_t> shape;     // outermost first, as PyTorch: a Linear weight is [n_out, n_in]
  uint64_t begin = 0, end = 0;    // byte offsets in the data section
  const uint8_t* data = nullptr;  // end - begin bytes, in bounds, possibly unaligned
  int64_t n_elements = 1;         // the shape's product (checked to fit int64)
};

class SafetensorsFile {
 public:
  // Maps the file and parses it; messages start with the path.
  static Result<SafetensorsFile> open(const std::string& path);
  // Parses bytes the caller keeps alive (tests, the fuzzer); `label` names them in messages.
  static Result<SafetensorsFile> parse(std::span<const uint8_t> bytes, const std::string& label);

  SafetensorsFile(SafetensorsFile&&) noexcept = default;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept = default;

  const std::string& label() const { return label_; }
  const std::vector<StTensor>& tensors() const { return tensors_; }  // in data order
  const StTensor* find(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& metadata() const { return metadata_; }

 private:
  SafetensorsFile() = default;
  Status parse_impl();

  std::optional<MappedFile> map_;
  std::span<const uint8_t> bytes_;
  std::string label_;
  std::vector<StTensor> tensors_;
  std::vector<std::pair<std::string, std::string>> metadata_;
  std::unordered_map<std::string_view, size_t> index_;  // name -> tensors_ index
};

// Elements [first, first + out.size()) of a float tensor as f32; errors name the tensor when its
// dtype is not F32/F16/BF16 or the range is out of bounds.
Status read_f32(const StTensor& t, int64_t first, std::span<float> out);

// Builds safetensors files: tests write Hugging Face model folders with it.
class SafetensorsWriter {
 public:
  // shape outermost first; data must hold exactly the tensor's bytes.
  Status add(const std::string& name, StDType dtype, const std::vector<int64_t>& shape,
             std::vector<uint8_t> data);
  // An f32 tensor stored as F32, F16 or BF16 (rounded to nearest even).
  Status add_f32(const std::string& name, StDType dtype, const std::vector<int64_t>& shape,
                 std::span<const float> values);
  void set_metadata(const std::string& key, const std::string& value);

  std::vector<uint8_t> to_bytes() const;
  Status write(const std::string& path) const;

 private:
  struct Tensor {
    std::string name;
    StDType dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> data;
  };
  std::vector<Tensor> tensors_;
  std::vector<std::pair<std::string, std::string>> metadata_;
};

}  // namespace minnow::convert

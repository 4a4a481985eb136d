// GGUF v2/v3 reader over a memory mapping (or any byte span), bounded and defensive: every
// count, length, shape and offset read from the file is checked, and any corruption becomes
// an Error naming what is wrong. Strings and tensor data point into the mapped bytes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/mmap.h"
#include "tensor/dtype.h"

namespace minnow::gguf {

enum class ValueType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};
const char* value_type_name(ValueType t);
// Bytes of one numeric value (an array element); 0 for STRING and ARRAY.
uint64_t value_type_size(ValueType t);

constexpr int kMaxDims = 4;
constexpr uint64_t kDefaultAlignment = 32;

// An array value. Numeric elements stay in the file (possibly unaligned; read through the
// accessors); string elements are indexed once at parse time.
struct ArrayValue {
  ValueType elem_type = ValueType::UINT8;
  uint64_t count = 0;
  const uint8_t* data = nullptr;          // numeric elements, little-endian, packed
  std::vector<std::string_view> strings;  // filled when elem_type == STRING

  // Element i as an integer / float; callers check elem_type first (see File getters).
  // Out-of-range indices and string elements read as 0.
  int64_t int_at(uint64_t i) const;
  double float_at(uint64_t i) const;
};

struct Value {
  ValueType type = ValueType::UINT8;
  uint64_t u = 0;  // unsigned integers and bool
  int64_t i = 0;   // signed integers
  double f = 0;    // floats
  std::string_view str;
  std::shared_ptr<const ArrayValue> arr;  // type == ARRAY

  bool is_integer() const;
  bool is_float() const { return type == ValueType::FLOAT32 || type == ValueType::FLOAT64; }
};

struct TensorInfo {
  std::string name;
  int n_dims = 0;
  // ne[0] is the contiguous (row) dimension. Each is >= 0 and their product, zeros counted
  // as ones, fits int64, so no partial product (rows, n_elements()) can overflow.
  int64_t ne[kMaxDims] = {1, 1, 1, 1};
  DType type = DType::F32;  // only ids the format defines; may be unsupported
  uint64_t offset = 0;      // from the start of the data section
  uint64_t n_bytes = 0;
  const uint8_t* data = nullptr;  // into the file bytes, in bounds

  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
};

class File {
 public:
  // Maps the file and parses it.
  static Result<File> open(const std::string& path);
  // Parses bytes the caller keeps alive (tests, the fuzzer).
  static Result<File> parse(std::span<const uint8_t> bytes);
  // A temporary would dangle under the views into it: keep the bytes in a variable.
  static Result<File> parse(std::vector<uint8_t>&& bytes) = delete;

  File(File&&) noexcept = default;
  File& operator=(File&&) noexcept = default;

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  // Start of the tensor data; with no tensors it may lie past the end of the file.
  uint64_t data_offset() const { return data_offset_; }
  size_t file_size() const { return bytes_.size(); }

  const std::vector<std::pair<std::string, Value>>& metadata() const { return kv_; }
  const Value* find(std::string_view key) const;

  // Typed getters: an error names the key when it is missing or of the wrong type.
  // get_int accepts every integer type and checks the value fits int64; get_float accepts
  // f32/f64 (and integers); get_uint rejects negative values.
  Result<int64_t> get_int(std::string_view key) const;
  Result<uint64_t> get_uint(std::string_view key) const;
  Result<double> get_float(std::string_view key) const;
  Result<bool> get_bool(std::string_view key) const;
  Result<std::string_view> get_string(std::string_view key) const;
  Result<const ArrayValue*> get_array(std::string_view key) const;
  // The same, with a default when the key is absent (still an error when of the wrong type).
  Result<int64_t> get_int_or(std::string_view key, int64_t def) const;
  Result<double> get_float_or(std::string_view key, double def) const;
  Result<bool> get_bool_or(std::string_view key, bool def) const;
  Result<std::string_view> get_string_or(std::string_view key, std::string_view def) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  // Drops the file's pages inside [p, p + n) from memory when the file is mapped (MappedFile::
  // release); parsed bytes the caller owns are left alone.
  void release_pages(const void* p, size_t n) const {
    if (map_) map_->release(p, n);
  }
  const TensorInfo* find_tensor(std::string_view name) const;

 private:
  File() = default;
  static Result<File> parse_impl(File f);

  std::optional<MappedFile> map_;
  std::span<const uint8_t> bytes_;
  uint32_t version_ = 0;
  uint64_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, Value>> kv_;
  std::vector<TensorInfo> tensors_;
  // Name -> index into kv_ / tensors_; the views point into the file bytes, which outlive them.
  std::unordered_map<std::string_view, size_t> kv_index_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
};

// Builds GGUF v3 files: tests make tiny models with it, `quantize` writes with it.
class Writer {
 public:
  void set_u8(const std::string& key, uint8_t v);
  void set_i8(const std::string& key, int8_t v);
  void set_u16(const std::string& key, uint16_t v);
  void set_i16(const std::string& key, int16_t v);
  void set_u32(const std::string& key, uint32_t v);
  void set_i32(const std::string& key, int32_t v);
  void set_u64(const std::string& key, uint64_t v);
  void set_i64(const std::string& key, int64_t v);
  void set_f32(const std::string& key, float v);
  void set_f64(const std::string& key, double v);
  void set_bool(const std::string& key, bool v);
  void set_string(const std::string& key, const std::string& v);
  void set_array_string(const std::string& key, const std::vector<std::string>& v);
  void set_array_f32(const std::string& key, const std::vector<float>& v);
  void set_array_i32(const std::string& key, const std::vector<int32_t>& v);
  void set_array_u32(const std::string& key, const std::vector<uint32_t>& v);
  // A value as a reader parsed it, of any type (quantize carries a file's metadata over with it).
  void set_value(const std::string& key, const Value& v);
  // Setting a key again replaces its value, keeping its position.

  // ne[0] is the row length; data must hold exactly the tensor's bytes.
  Status add_tensor(const std::string& name, DType type, const std::vector<int64_t>& ne,
                    std::vector<uint8_t> data);
  // A tensor whose bytes are made while write() runs, so a converter never holds more than
  // one piece of a model: the source hands them, in order, to the sink in pieces of any size.
  // write() fails (and leaves no file) when a source fails or gives the wrong byte count.
  // to_bytes() is for tensors given as data only.
  using TensorSink = std::function<Status(std::span<const uint8_t>)>;
  using TensorSource = std::function<Status(const TensorSink&)>;
  Status add_tensor_source(const std::string& name, DType type, const std::vector<int64_t>& ne,
                           TensorSource source);
  // A power of two (asserted); written as general.alignment when not 32. Setting the key
  // directly with set_u32 does not change how data is aligned (tests use that to corrupt files).
  void set_alignment(uint64_t alignment);

  std::vector<uint8_t> to_bytes() const;
  Status write(const std::string& path) const;

 private:
  struct Kv {
    std::string key;
    ValueType type;
    std::vector<uint8_t> payload;  // the value as serialized after the type field
  };
  struct Tensor {
    std::string name;
    DType type;
    std::vector<int64_t> ne;
    uint64_t n_bytes = 0;
    std::vector<uint8_t> data;  // when source is empty
    TensorSource source;
  };
  void set_raw(const std::string& key, ValueType type, std::vector<uint8_t> payload);
  // Checks the name is new and the shape valid; the tensor's byte size.
  Result<uint64_t> check_tensor(const std::string& name, DType type, const std::vector<int64_t>& ne) const;
  // Everything before the first tensor's data, padded to the alignment; write() streams the
  // tensor data after it instead of building the whole file in memory.
  std::vector<uint8_t> header_bytes() const;
  std::vector<Kv> kv_;
  std::vector<Tensor> tensors_;
  uint64_t alignment_ = kDefaultAlignment;
};

}  // namespace minnow::gguf

// GGUF v3 writer: metadata in insertion order, tensor infos, then each tensor's data padded to
// the alignment with zeros. Used by tests to build tiny models and by quantize.
#include <fcntl.h>
#include <unistd.h>

#include <bit>
#include <cassert>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/checked_math.h"
#include "gguf/gguf.h"

namespace minnow::gguf {

// Numbers are written with memcpy straight into the little-endian file.
static_assert(std::endian::native == std::endian::little, "the GGUF writer assumes a little-endian host");

namespace {

constexpr uint32_t kVersion = 3;

template <class T>
void put(std::vector<uint8_t>* out, T v) {
  uint8_t b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out->insert(out->end(), b, b + sizeof(T));
}

void put_string(std::vector<uint8_t>* out, std::string_view s) {
  put<uint64_t>(out, s.size());
  out->insert(out->end(), s.begin(), s.end());
}

template <class T>
std::vector<uint8_t> scalar(T v) {
  std::vector<uint8_t> out;
  put(&out, v);
  return out;
}

template <class T>
std::vector<uint8_t> numeric_array(ValueType elem, const std::vector<T>& v) {
  std::vector<uint8_t> out;
  out.reserve(4 + 8 + v.size() * sizeof(T));
  put<uint32_t>(&out, static_cast<uint32_t>(elem));
  put<uint64_t>(&out, v.size());
  for (T x : v) put(&out, x);
  return out;
}

void pad_to(std::vector<uint8_t>* out, uint64_t alignment) {
  out->resize((out->size() + alignment - 1) / alignment * alignment, 0);
}

uint64_t padded(uint64_t n, uint64_t alignment) {
  return (n + alignment - 1) / alignment * alignment;
}

}  // namespace

void Writer::set_raw(const std::string& key, ValueType type, std::vector<uint8_t> payload) {
  for (Kv& kv : kv_) {
    if (kv.key == key) {
      kv.type = type;
      kv.payload = std::move(payload);
      return;
    }
  }
  kv_.push_back(Kv{key, type, std::move(payload)});
}

void Writer::set_u8(const std::string& key, uint8_t v) {
  set_raw(key, ValueType::UINT8, scalar(v));
}
void Writer::set_i8(const std::string& key, int8_t v) {
  set_raw(key, ValueType::INT8, scalar(v));
}
void Writer::set_u16(const std::string& key, uint16_t v) {
  set_raw(key, ValueType::UINT16, scalar(v));
}
void Writer::set_i16(const std::string& key, int16_t v) {
  set_raw(key, ValueType::INT16, scalar(v));
}
void Writer::set_u32(const std::string& key, uint32_t v) {
  set_raw(key, ValueType::UINT32, scalar(v));
}
void Writer::set_i32(const std::string& key, int32_t v) {
  set_raw(key, ValueType::INT32, scalar(v));
}
void Writer::set_u64(const std::string& key, uint64_t v) {
  set_raw(key, ValueType::UINT64, scalar(v));
}
void Writer::set_i64(const std::string& key, int64_t v) {
  set_raw(key, ValueType::INT64, scalar(v));
}
void Writer::set_f32(const std::string& key, float v) {
  set_raw(key, ValueType::FLOAT32, scalar(v));
}
void Writer::set_f64(const std::string& key, double v) {
  set_raw(key, ValueType::FLOAT64, scalar(v));
}
void Writer::set_bool(const std::string& key, bool v) {
  set_raw(key, ValueType::BOOL, scalar<uint8_t>(v ? 1 : 0));
}

void Writer::set_string(const std::string& key, const std::string& v) {
  std::vector<uint8_t> out;
  put_string(&out, v);
  set_raw(key, ValueType::STRING, std::move(out));
}

void Writer::set_array_string(const std::string& key, const std::vector<std::string>& v) {
  std::vector<uint8_t> out;
  put<uint32_t>(&out, static_cast<uint32_t>(ValueType::STRING));
  put<uint64_t>(&out, v.size());
  for (const std::string& s : v) put_string(&out, s);
  set_raw(key, ValueType::ARRAY, std::move(out));
}

void Writer::set_array_f32(const std::string& key, const std::vector<float>& v) {
  set_raw(key, ValueType::ARRAY, numeric_array(ValueType::FLOAT32, v));
}
void Writer::set_array_i32(const std::string& key, const std::vector<int32_t>& v) {
  set_raw(key, ValueType::ARRAY, numeric_array(ValueType::INT32, v));
}
void Writer::set_array_u32(const std::string& key, const std::vector<uint32_t>& v) {
  set_raw(key, ValueType::ARRAY, numeric_array(ValueType::UINT32, v));
}

void Writer::set_value(const std::string& key, const Value& v) {
  std::vector<uint8_t> out;
  switch (v.type) {
    case ValueType::UINT8:
      put<uint8_t>(&out, static_cast<uint8_t>(v.u));
      break;
    case ValueType::INT8:
      put<int8_t>(&out, static_cast<int8_t>(v.i));
      break;
    case ValueType::UINT16:
      put<uint16_t>(&out, static_cast<uint16_t>(v.u));
      break;
    case ValueType::INT16:
      put<int16_t>(&out, static_cast<int16_t>(v.i));
      break;
    case ValueType::UINT32:
      put<uint32_t>(&out, static_cast<uint32_t>(v.u));
      break;
    case ValueType::INT32:
      put<int32_t>(&out, static_cast<int32_t>(v.i));
      break;
    case ValueType::UINT64:
      put<uint64_t>(&out, v.u);
      break;
    case ValueType::INT64:
      put<int64_t>(&out, v.i);
      break;
    case ValueType::FLOAT32:
      put<float>(&out, static_cast<float>(v.f));  // read from a float: exact
      break;
    case ValueType::FLOAT64:
      put<double>(&out, v.f);
      break;
    case ValueType::BOOL:
      put<uint8_t>(&out, v.u != 0 ? 1 : 0);
      break;
    case ValueType::STRING:
      put_string(&out, v.str);
      break;
    case ValueType::ARRAY: {
      const ArrayValue& a = *v.arr;
      put<uint32_t>(&out, static_cast<uint32_t>(a.elem_type));
      put<uint64_t>(&out, a.count);
      if (a.elem_type == ValueType::STRING) {
        for (std::string_view s : a.strings) put_string(&out, s);
      } else if (a.count > 0) {
        // Numeric elements are still packed little-endian as the file had them.
        const size_t bytes = static_cast<size_t>(a.count * value_type_size(a.elem_type));
        out.insert(out.end(), a.data, a.data + bytes);
      }
      break;
    }
  }
  set_raw(key, v.type, std::move(out));
}

void Writer::set_alignment(uint64_t alignment) {
  assert(alignment != 0 && (alignment & (alignment - 1)) == 0 && alignment <= UINT32_MAX);
  alignment_ = alignment;
  if (alignment != kDefaultAlignment) {
    set_u32("general.alignment", static_cast<uint32_t>(alignment));
  } else {
    std::erase_if(kv_, [](const Kv& kv) { return kv.key == "general.alignment"; });
  }
}

Result<uint64_t> Writer::check_tensor(const std::string& name, DType type,
                                      const std::vector<int64_t>& ne) const {
  for (const Tensor& t : tensors_) {
    if (t.name == name) return make_error("gguf: duplicate tensor name '%s'", name.c_str());
  }
  if (ne.empty() || ne.size() > static_cast<size_t>(kMaxDims)) {
    return make_error("gguf: tensor '%s': %zu dims, expected 1 to %d", name.c_str(), ne.size(), kMaxDims);
  }
  const DTypeInfo* info = dtype_info(static_cast<uint32_t>(type));
  if (!info)
    return make_error("gguf: tensor '%s': unknown type id %u", name.c_str(), static_cast<uint32_t>(type));
  for (int64_t n : ne) {
    if (n < 0)
      return make_error("gguf: tensor '%s': negative dimension %lld", name.c_str(),
                        static_cast<long long>(n));
  }
  if (ne[0] % info->block_size != 0) {
    return make_error("gguf: tensor '%s': row of %lld elements is not a multiple of the %s block size %lld",
                      name.c_str(), static_cast<long long>(ne[0]), info->name,
                      static_cast<long long>(info->block_size));
  }
  std::optional<uint64_t> bytes =
      checked_mul(static_cast<uint64_t>(ne[0] / info->block_size), info->block_bytes);
  for (size_t d = 1; d < ne.size() && bytes; ++d) bytes = checked_mul(*bytes, static_cast<uint64_t>(ne[d]));
  if (!bytes) return make_error("gguf: tensor '%s': byte size overflows", name.c_str());
  return *bytes;
}

Status Writer::add_tensor(const std::string& name, DType type, const std::vector<int64_t>& ne,
                          std::vector<uint8_t> data) {
  auto bytes = check_tensor(name, type, ne);
  if (!bytes) return bytes.error();
  if (data.size() != *bytes) {
    return make_error("gguf: tensor '%s': data is %zu bytes, its %s shape needs %llu", name.c_str(),
                      data.size(), dtype_name(type), static_cast<unsigned long long>(*bytes));
  }
  tensors_.push_back(Tensor{name, type, ne, *bytes, std::move(data), nullptr});
  return {};
}

Status Writer::add_tensor_source(const std::string& name, DType type, const std::vector<int64_t>& ne,
                                 TensorSource source) {
  auto bytes = check_tensor(name, type, ne);
  if (!bytes) return bytes.error();
  tensors_.push_back(Tensor{name, type, ne, *bytes, {}, std::move(source)});
  return {};
}

std::vector<uint8_t> Writer::header_bytes() const {
  std::vector<uint8_t> out = {'G', 'G', 'U', 'F'};
  put<uint32_t>(&out, kVersion);
  put<uint64_t>(&out, tensors_.size());
  put<uint64_t>(&out, kv_.size());
  for (const Kv& kv : kv_) {
    put_string(&out, kv.key);
    put<uint32_t>(&out, static_cast<uint32_t>(kv.type));
    out.insert(out.end(), kv.payload.begin(), kv.payload.end());
  }
  uint64_t offset = 0;  // from the start of the data section
  for (const Tensor& t : tensors_) {
    put_string(&out, t.name);
    put<uint32_t>(&out, static_cast<uint32_t>(t.ne.size()));
    for (int64_t n : t.ne) put<uint64_t>(&out, static_cast<uint64_t>(n));
    put<uint32_t>(&out, static_cast<uint32_t>(t.type));
    put<uint64_t>(&out, offset);
    offset += padded(t.n_bytes, alignment_);
  }
  pad_to(&out, alignment_);
  return out;
}

std::vector<uint8_t> Writer::to_bytes() const {
  std::vector<uint8_t> out = header_bytes();
  for (const Tensor& t : tensors_) {
    assert(!t.source && "to_bytes() cannot run tensor sources: use write()");
    out.insert(out.end(), t.data.begin(), t.data.end());
    pad_to(&out, alignment_);
  }
  return out;
}

namespace {

Status write_all(int fd, const uint8_t* p, size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return make_error("gguf: %s: write: %s", path.c_str(), std::strerror(errno));
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return {};
}

// Streams one tensor's bytes (its data, or what its source makes), then the padding.
Status write_tensor(int fd, const std::vector<uint8_t>& data, const Writer::TensorSource& source,
                    const std::string& name, uint64_t n_bytes, uint64_t alignment, const std::string& path) {
  if (source) {
    uint64_t written = 0;
    MINNOW_CHECK_OK(source([&](std::span<const uint8_t> piece) -> Status {
      if (piece.size() > n_bytes - written) {
        return make_error("gguf: tensor '%s': its source gives more than %llu bytes", name.c_str(),
                          static_cast<unsigned long long>(n_bytes));
      }
      written += piece.size();
      return write_all(fd, piece.data(), piece.size(), path);
    }));
    if (written != n_bytes) {
      return make_error("gguf: tensor '%s': its source gave %llu bytes, the shape needs %llu", name.c_str(),
                        static_cast<unsigned long long>(written), static_cast<unsigned long long>(n_bytes));
    }
  } else {
    MINNOW_CHECK_OK(write_all(fd, data.data(), data.size(), path));
  }
  const std::vector<uint8_t> zeros(alignment, 0);
  return write_all(fd, zeros.data(), padded(n_bytes, alignment) - n_bytes, path);
}

}  // namespace

Status Writer::write(const std::string& path) const {
  // Write a temporary beside the target and rename it over, so readers never see a partial file.
  const std::string tmp = path + strfmt(".tmp.%d", static_cast<int>(::getpid()));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return make_error("gguf: %s: %s", tmp.c_str(), std::strerror(errno));
  const std::vector<uint8_t> header = header_bytes();
  Status st = write_all(fd, header.data(), header.size(), tmp);
  for (size_t i = 0; i < tensors_.size() && st.ok(); ++i) {
    const Tensor& t = tensors_[i];
    st = write_tensor(fd, t.data, t.source, t.name, t.n_bytes, alignment_, tmp);
  }
  if (st.ok() && ::fsync(fd) != 0) st = make_error("gguf: %s: fsync: %s", tmp.c_str(), std::strerror(errno));
  if (::close(fd) != 0 && st.ok()) st = make_error("gguf: %s: close: %s", tmp.c_str(), std::strerror(errno));
  if (st.ok() && std::rename(tmp.c_str(), path.c_str()) != 0) {
    st = make_error("gguf: %s: rename: %s", path.c_str(), std::strerror(errno));
  }
  if (!st.ok()) ::unlink(tmp.c_str());
  return st;
}

}  // namespace minnow::gguf

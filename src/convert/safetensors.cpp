// Safetensors reader and writer (see safetensors.h). The header is untrusted JSON: every field
// is type-checked, every size computed with overflow checks, and tensors must lie inside the data
// section without overlapping before anything points into it.
#include "convert/safetensors.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

#include "base/checked_math.h"
#include "tensor/fp16.h"
#include "tokenizer/hf_json.h"

namespace minnow::convert {

static_assert(std::endian::native == std::endian::little,
              "safetensors is little-endian, as is the host we read it on");

namespace {

using tok::Json;

struct DTypeEntry {
  StDType type;
  const char* name;
  size_t size;
};

constexpr DTypeEntry kDTypes[] = {
    {StDType::BOOL, "BOOL", 1},       {StDType::U8, "U8", 1},           {StDType::I8, "I8", 1},
    {StDType::F8_E5M2, "F8_E5M2", 1}, {StDType::F8_E4M3, "F8_E4M3", 1}, {StDType::I16, "I16", 2},
    {StDType::U16, "U16", 2},         {StDType::F16, "F16", 2},         {StDType::BF16, "BF16", 2},
    {StDType::I32, "I32", 4},         {StDType::U32, "U32", 4},         {StDType::F32, "F32", 4},
    {StDType::F64, "F64", 8},         {StDType::I64, "I64", 8},         {StDType::U64, "U64", 8},
};

const DTypeEntry& entry(StDType t) {
  for (const DTypeEntry& e : kDTypes) {
    if (e.type == t) return e;
  }
  return kDTypes[0];  // unreachable: every enum value has an entry
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// The header entry of one tensor, checked against the data section's size.
Result<StTensor> parse_entry(const std::string& name, const Json& v, uint64_t data_size) {
  const std::string where = "tensor '" + tok::clip(name) + "'";
  if (!v.is_object()) return make_error("%s: not an object", where.c_str());
  const std::string* dtype_name = tok::string_member(v, "dtype");
  if (!dtype_name) return make_error("%s: no dtype string", where.c_str());
  StTensor t;
  t.name = name;
  const std::optional<StDType> dtype = st_dtype_from_name(*dtype_name);
  if (!dtype) return make_error("%s: unknown dtype '%s'", where.c_str(), tok::clip(*dtype_name).c_str());
  t.dtype = *dtype;

  const Json* shape = tok::member(v, "shape");
  if (!shape || !shape->is_array()) return make_error("%s: no shape array", where.c_str());
  if (shape->size() > static_cast<size_t>(kMaxStDims)) {
    return make_error("%s: %zu dims, at most %d", where.c_str(), shape->size(), kMaxStDims);
  }
  // The product must fit int64 so that element counts and indices never overflow later.
  uint64_t n = 1;
  bool overflow = false;
  for (const Json& d : *shape) {
    const std::optional<int64_t> dim = tok::as_int(d);
    if (!dim || *dim < 0)
      return make_error("%s: shape entry %s is not a size", where.c_str(), tok::clip(d.dump()).c_str());
    t.shape.push_back(*dim);
    const std::optional<uint64_t> p = checked_mul(n, static_cast<uint64_t>(*dim));
    if (!p || *p > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) overflow = true;
    if (p) n = *p;
  }
  if (overflow)
    return make_error("%s: shape %s has too many elements", where.c_str(), shape_str(t.shape).c_str());
  t.n_elements = static_cast<int64_t>(n);

  const Json* offsets = tok::member(v, "data_offsets");
  if (!offsets || !offsets->is_array() || offsets->size() != 2) {
    return make_error("%s: data_offsets is not a [begin, end] pair", where.c_str());
  }
  const std::optional<int64_t> begin = tok::as_int((*offsets)[0]), end = tok::as_int((*offsets)[1]);
  if (!begin || !end || *begin < 0 || *end < 0 || *begin > *end) {
    return make_error("%s: data_offsets %s are not a range", where.c_str(),
                      tok::clip(offsets->dump()).c_str());
  }
  t.begin = static_cast<uint64_t>(*begin);
  t.end = static_cast<uint64_t>(*end);
  if (t.end > data_size) {
    return make_error("%s: data_offsets [%llu, %llu] run past the end of the data (%llu bytes)",
                      where.c_str(), static_cast<unsigned long long>(t.begin),
                      static_cast<unsigned long long>(t.end), static_cast<unsigned long long>(data_size));
  }
  const std::optional<uint64_t> bytes = checked_mul(n, st_dtype_size(t.dtype));
  if (!bytes || *bytes != t.end - t.begin) {
    return make_error("%s: shape %s of %s needs %s bytes, data_offsets give %llu", where.c_str(),
                      shape_str(t.shape).c_str(), st_dtype_name(t.dtype),
                      bytes ? std::to_string(*bytes).c_str() : "too many",
                      static_cast<unsigned long long>(t.end - t.begin));
  }
  return t;
}

}  // namespace

const char* st_dtype_name(StDType t) {
  return entry(t).name;
}
size_t st_dtype_size(StDType t) {
  return entry(t).size;
}
bool st_dtype_is_float(StDType t) {
  return t == StDType::F32 || t == StDType::F16 || t == StDType::BF16;
}

std::optional<StDType> st_dtype_from_name(std::string_view name) {
  for (const DTypeEntry& e : kDTypes) {
    if (name == e.name) return e.type;
  }
  return std::nullopt;
}

Result<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  auto map = MappedFile::open(path);
  if (!map.ok()) return map.error();
  SafetensorsFile f;
  f.map_.emplace(std::move(map).value());
  f.bytes_ = std::span<const uint8_t>(f.map_->data(), f.map_->size());
  f.label_ = path;
  MINNOW_CHECK_OK(f.parse_impl());
  return f;
}

Result<SafetensorsFile> SafetensorsFile::parse(std::span<const uint8_t> bytes, const std::string& label) {
  SafetensorsFile f;
  f.bytes_ = bytes;
  f.label_ = label;
  MINNOW_CHECK_OK(f.parse_impl());
  return f;
}

Status SafetensorsFile::parse_impl() {
  auto fail = [&](const Error& e) { return e.with_context("safetensors: " + label_); };
  if (bytes_.size() < 8)
    return fail(make_error("%zu bytes, too short for the 8-byte header length", bytes_.size()));
  uint64_t n = 0;
  std::memcpy(&n, bytes_.data(), 8);
  if (n == 0) return fail(make_error("header length is 0"));
  if (n > kMaxHeaderBytes) {
    return fail(make_error("header length %llu is over the %llu-byte limit",
                           static_cast<unsigned long long>(n),
                           static_cast<unsigned long long>(kMaxHeaderBytes)));
  }
  if (n > bytes_.size() - 8) {
    return fail(make_error("header length %llu runs past the end of the file (%zu bytes)",
                           static_cast<unsigned long long>(n), bytes_.size()));
  }
  const std::string_view text(reinterpret_cast<const char*>(bytes_.data() + 8), static_cast<size_t>(n));
  const std::span<const uint8_t> data = bytes_.subspan(8 + static_cast<size_t>(n));
  try {
    auto header = tok::parse_json(text, "header");
    if (!header.ok()) return fail(header.error());
    if (!header->is_object()) return fail(make_error("header is not a JSON object"));
    for (const auto& [name, v] : header->items()) {
      if (name == "__metadata__") {
        if (!v.is_object()) return fail(make_error("__metadata__ is not an object"));
        for (const auto& [key, value] : v.items()) {
          if (!value.is_string()) {
            return fail(make_error("__metadata__ '%s' is not a string", tok::clip(key).c_str()));
          }
          metadata_.emplace_back(key, value.get<std::string>());
        }
        continue;
      }
      auto t = parse_entry(name, v, data.size());
      if (!t.ok()) return fail(t.error());
      tensors_.push_back(std::move(t).value());
    }
  } catch (const std::exception& e) {  // a check missed above, or out of memory
    return fail(make_error("header: %s", e.what()));
  }

  std::sort(tensors_.begin(), tensors_.end(), [](const StTensor& a, const StTensor& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  for (size_t i = 1; i < tensors_.size(); ++i) {
    if (tensors_[i].begin < tensors_[i - 1].end) {
      return fail(make_error("tensors '%s' and '%s' overlap in the data",
                             tok::clip(tensors_[i - 1].name).c_str(), tok::clip(tensors_[i].name).c_str()));
    }
  }
  for (size_t i = 0; i < tensors_.size(); ++i) {
    tensors_[i].data = data.data() + tensors_[i].begin;
    index_.emplace(tensors_[i].name, i);
  }
  return {};
}

const StTensor* SafetensorsFile::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

Status read_f32(const StTensor& t, int64_t first, std::span<float> out) {
  if (!st_dtype_is_float(t.dtype)) {
    return make_error("tensor '%s' is %s, not a float type (F32, F16, BF16)", t.name.c_str(),
                      st_dtype_name(t.dtype));
  }
  const uint64_t count = out.size();
  if (first < 0 || static_cast<uint64_t>(first) > static_cast<uint64_t>(t.n_elements) ||
      count > static_cast<uint64_t>(t.n_elements) - static_cast<uint64_t>(first)) {
    return make_error("tensor '%s': elements [%lld, +%llu) are outside its %lld", t.name.c_str(),
                      static_cast<long long>(first), static_cast<unsigned long long>(count),
                      static_cast<long long>(t.n_elements));
  }
  if (count == 0) return {};  // (out.data() may be null then, which memcpy must not see)
  const size_t esize = st_dtype_size(t.dtype);
  const uint8_t* p = t.data + static_cast<uint64_t>(first) * esize;
  if (t.dtype == StDType::F32) {
    std::memcpy(out.data(), p, count * 4);
    return {};
  }
  for (uint64_t i = 0; i < count; ++i) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    out[i] = t.dtype == StDType::F16 ? fp16_to_fp32(h) : bf16_to_fp32(h);
  }
  return {};
}

Status SafetensorsWriter::add(const std::string& name, StDType dtype, const std::vector<int64_t>& shape,
                              std::vector<uint8_t> data) {
  if (name == "__metadata__") return make_error("safetensors: '__metadata__' is not a tensor name");
  for (const Tensor& t : tensors_) {
    if (t.name == name) return make_error("safetensors: duplicate tensor '%s'", name.c_str());
  }
  if (shape.size() > static_cast<size_t>(kMaxStDims)) {
    return make_error("safetensors: tensor '%s': %zu dims, at most %d", name.c_str(), shape.size(),
                      kMaxStDims);
  }
  std::optional<uint64_t> bytes = st_dtype_size(dtype);
  for (int64_t d : shape) {
    if (d < 0) return make_error("safetensors: tensor '%s': negative dimension", name.c_str());
    if (bytes) bytes = checked_mul(*bytes, static_cast<uint64_t>(d));
  }
  if (!bytes || *bytes != data.size()) {
    return make_error("safetensors: tensor '%s': %zu bytes of data for shape %s of %s", name.c_str(),
                      data.size(), shape_str(shape).c_str(), st_dtype_name(dtype));
  }
  tensors_.push_back(Tensor{name, dtype, shape, std::move(data)});
  return {};
}

Status SafetensorsWriter::add_f32(const std::string& name, StDType dtype, const std::vector<int64_t>& shape,
                                  std::span<const float> values) {
  if (!st_dtype_is_float(dtype))
    return make_error("safetensors: tensor '%s': %s is not a float type", name.c_str(), st_dtype_name(dtype));
  std::vector<uint8_t> data(values.size() * st_dtype_size(dtype));
  for (size_t i = 0; i < values.size(); ++i) {
    if (dtype == StDType::F32) {
      std::memcpy(data.data() + 4 * i, &values[i], 4);
    } else {
      const uint16_t h = dtype == StDType::F16 ? fp32_to_fp16(values[i]) : fp32_to_bf16(values[i]);
      std::memcpy(data.data() + 2 * i, &h, 2);
    }
  }
  return add(name, dtype, shape, std::move(data));
}

void SafetensorsWriter::set_metadata(const std::string& key, const std::string& value) {
  for (auto& [k, v] : metadata_) {
    if (k == key) {
      v = value;
      return;
    }
  }
  metadata_.emplace_back(key, value);
}

std::vector<uint8_t> SafetensorsWriter::to_bytes() const {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata_.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata_) meta[k] = v;
    header["__metadata__"] = std::move(meta);
  }
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    header[t.name] = {{"dtype", st_dtype_name(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.data.size()}}};
    offset += t.data.size();
  }
  std::string text = header.dump();
  // Spaces pad the header so the data starts 8-byte aligned, as the reference writer does.
  text.resize((text.size() + 8 + 7) / 8 * 8 - 8, ' ');
  std::vector<uint8_t> out(8);
  const uint64_t n = text.size();
  std::memcpy(out.data(), &n, 8);
  out.insert(out.end(), text.begin(), text.end());
  for (const Tensor& t : tensors_) out.insert(out.end(), t.data.begin(), t.data.end());
  return out;
}

Status SafetensorsWriter::write(const std::string& path) const {
  const std::vector<uint8_t> bytes = to_bytes();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return make_error("safetensors: %s: cannot create: %s", path.c_str(), std::strerror(errno));
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  if (std::fclose(f) != 0 || !ok) return make_error("safetensors: %s: write failed", path.c_str());
  return {};
}

}  // namespace minnow::convert

// The typed view of GGUF metadata: value type names, array element access and the File getters
// whose errors name the key and the expected vs. found type.
#include <cmath>
#include <cstring>
#include <limits>

#include "gguf/gguf.h"

namespace minnow::gguf {

const char* value_type_name(ValueType t) {
  switch (t) {
    case ValueType::UINT8:
      return "uint8";
    case ValueType::INT8:
      return "int8";
    case ValueType::UINT16:
      return "uint16";
    case ValueType::INT16:
      return "int16";
    case ValueType::UINT32:
      return "uint32";
    case ValueType::INT32:
      return "int32";
    case ValueType::FLOAT32:
      return "float32";
    case ValueType::BOOL:
      return "bool";
    case ValueType::STRING:
      return "string";
    case ValueType::ARRAY:
      return "array";
    case ValueType::UINT64:
      return "uint64";
    case ValueType::INT64:
      return "int64";
    case ValueType::FLOAT64:
      return "float64";
  }
  return "unknown";
}

uint64_t value_type_size(ValueType t) {
  switch (t) {
    case ValueType::UINT8:
    case ValueType::INT8:
    case ValueType::BOOL:
      return 1;
    case ValueType::UINT16:
    case ValueType::INT16:
      return 2;
    case ValueType::UINT32:
    case ValueType::INT32:
    case ValueType::FLOAT32:
      return 4;
    case ValueType::UINT64:
    case ValueType::INT64:
    case ValueType::FLOAT64:
      return 8;
    case ValueType::STRING:
    case ValueType::ARRAY:
      return 0;
  }
  return 0;
}

bool Value::is_integer() const {
  switch (type) {
    case ValueType::UINT8:
    case ValueType::INT8:
    case ValueType::UINT16:
    case ValueType::INT16:
    case ValueType::UINT32:
    case ValueType::INT32:
    case ValueType::UINT64:
    case ValueType::INT64:
      return true;
    default:
      return false;
  }
}

namespace {

// Element i of a packed little-endian array; the file gives no alignment, hence memcpy.
template <class T>
T load(const uint8_t* data, uint64_t i) {
  T x;
  std::memcpy(&x, data + i * sizeof(T), sizeof(T));
  return x;
}

// A float as int64, truncated toward zero and saturated (NaN reads 0): a plain cast of an
// out-of-range float is undefined behaviour, and the float came from the file.
int64_t saturate(double x) {
  if (std::isnan(x)) return 0;
  if (x >= 9223372036854775808.0) return std::numeric_limits<int64_t>::max();
  if (x < -9223372036854775808.0) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(x);
}

}  // namespace

int64_t ArrayValue::int_at(uint64_t i) const {
  if (i >= count || data == nullptr) return 0;
  switch (elem_type) {
    case ValueType::UINT8:
      return load<uint8_t>(data, i);
    case ValueType::INT8:
      return load<int8_t>(data, i);
    case ValueType::UINT16:
      return load<uint16_t>(data, i);
    case ValueType::INT16:
      return load<int16_t>(data, i);
    case ValueType::UINT32:
      return load<uint32_t>(data, i);
    case ValueType::INT32:
      return load<int32_t>(data, i);
    case ValueType::UINT64:
      return static_cast<int64_t>(load<uint64_t>(data, i));  // wraps past INT64_MAX
    case ValueType::INT64:
      return load<int64_t>(data, i);
    case ValueType::FLOAT32:
      return saturate(load<float>(data, i));
    case ValueType::FLOAT64:
      return saturate(load<double>(data, i));
    case ValueType::BOOL:
      return load<uint8_t>(data, i) != 0;
    case ValueType::STRING:
    case ValueType::ARRAY:
      return 0;
  }
  return 0;
}

double ArrayValue::float_at(uint64_t i) const {
  if (i >= count || data == nullptr) return 0;
  switch (elem_type) {
    case ValueType::FLOAT32:
      return load<float>(data, i);
    case ValueType::FLOAT64:
      return load<double>(data, i);
    case ValueType::UINT64:
      return static_cast<double>(load<uint64_t>(data, i));
    default:
      return static_cast<double>(int_at(i));
  }
}

namespace {

// "string", "array of int32": what a value is, for messages.
std::string describe(const Value& v) {
  if (v.type == ValueType::ARRAY && v.arr)
    return std::string("array of ") + value_type_name(v.arr->elem_type);
  return value_type_name(v.type);
}

Error wrong_type(std::string_view key, const char* expected, const Value& v) {
  return make_error("gguf: key '%.*s': expected %s, found %s", static_cast<int>(key.size()), key.data(),
                    expected, describe(v).c_str());
}

Error missing(std::string_view key) {
  return make_error("gguf: missing key '%.*s'", static_cast<int>(key.size()), key.data());
}

bool is_unsigned(ValueType t) {
  return t == ValueType::UINT8 || t == ValueType::UINT16 || t == ValueType::UINT32 || t == ValueType::UINT64;
}

Result<int64_t> as_int(std::string_view key, const Value& v) {
  if (!v.is_integer()) return wrong_type(key, "an integer", v);
  if (!is_unsigned(v.type)) return v.i;
  if (v.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return make_error("gguf: key '%.*s': value %llu does not fit int64", static_cast<int>(key.size()),
                      key.data(), static_cast<unsigned long long>(v.u));
  }
  return static_cast<int64_t>(v.u);
}

Result<double> as_float(std::string_view key, const Value& v) {
  if (v.is_float()) return v.f;
  if (!v.is_integer()) return wrong_type(key, "a float", v);
  return is_unsigned(v.type) ? static_cast<double>(v.u) : static_cast<double>(v.i);
}

Result<bool> as_bool(std::string_view key, const Value& v) {
  if (v.type != ValueType::BOOL) return wrong_type(key, "a bool", v);
  return v.u != 0;
}

Result<std::string_view> as_string(std::string_view key, const Value& v) {
  if (v.type != ValueType::STRING) return wrong_type(key, "a string", v);
  return v.str;
}

}  // namespace

const Value* File::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

Result<int64_t> File::get_int(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return missing(key);
  return as_int(key, *v);
}

Result<uint64_t> File::get_uint(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return missing(key);
  if (!v->is_integer()) return wrong_type(key, "an unsigned integer", *v);
  if (is_unsigned(v->type)) return v->u;
  if (v->i < 0) {
    return make_error("gguf: key '%.*s': expected an unsigned integer, found %lld",
                      static_cast<int>(key.size()), key.data(), static_cast<long long>(v->i));
  }
  return static_cast<uint64_t>(v->i);
}

Result<double> File::get_float(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return missing(key);
  return as_float(key, *v);
}

Result<bool> File::get_bool(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return missing(key);
  return as_bool(key, *v);
}

Result<std::string_view> File::get_string(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return missing(key);
  return as_string(key, *v);
}

Result<const ArrayValue*> File::get_array(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return missing(key);
  if (v->type != ValueType::ARRAY || !v->arr) return wrong_type(key, "an array", *v);
  return v->arr.get();
}

Result<int64_t> File::get_int_or(std::string_view key, int64_t def) const {
  const Value* v = find(key);
  return v ? as_int(key, *v) : Result<int64_t>(def);
}

Result<double> File::get_float_or(std::string_view key, double def) const {
  const Value* v = find(key);
  return v ? as_float(key, *v) : Result<double>(def);
}

Result<bool> File::get_bool_or(std::string_view key, bool def) const {
  const Value* v = find(key);
  return v ? as_bool(key, *v) : Result<bool>(def);
}

Result<std::string_view> File::get_string_or(std::string_view key, std::string_view def) const {
  const Value* v = find(key);
  return v ? as_string(key, *v) : Result<std::string_view>(def);
}

}  // namespace minnow::gguf

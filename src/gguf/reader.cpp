// GGUF parser: header, metadata key/values, tensor infos and the data section bounds. Every
// count, length and shape is checked against the bytes left before anything is allocated, so
// a corrupt or hostile file costs at most a small multiple of its own size and never crashes.
// The typed metadata view (getters, arrays) is in value.cpp.
#include <bit>
#include <cstring>
#include <limits>

#include "base/checked_math.h"
#include "gguf/gguf.h"

namespace minnow::gguf {

// Numbers are read with memcpy straight from the little-endian file.
static_assert(std::endian::native == std::endian::little, "the GGUF reader assumes a little-endian host");

namespace {

constexpr uint8_t kMagic[4] = {'G', 'G', 'U', 'F'};

// The fewest bytes one metadata entry can take: key length (8), value type (4), a 1-byte value.
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;
// The fewest bytes one tensor info can take: name length, n_dims, one ne, type, offset.
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;

bool is_known_type(uint32_t t) {
  return t <= static_cast<uint32_t>(ValueType::FLOAT64);
}

// A bounds-checked read position in the file bytes. Reads fail (returning false, position
// unchanged) instead of running past the end.
class Cursor {
 public:
  explicit Cursor(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  size_t pos() const { return pos_; }
  uint64_t remaining() const { return bytes_.size() - pos_; }
  const uint8_t* here() const { return bytes_.data() + pos_; }

  template <class T>
  bool read(T* out) {
    if (remaining() < sizeof(T)) return false;
    std::memcpy(out, here(), sizeof(T));
    pos_ += sizeof(T);
    return true;
  }

  bool skip(uint64_t n) {
    if (n > remaining()) return false;
    pos_ += static_cast<size_t>(n);
    return true;
  }

 private:
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
};

class Parser {
 public:
  Parser(std::span<const uint8_t> bytes, uint32_t* version, uint64_t* alignment, uint64_t* data_offset,
         std::vector<std::pair<std::string, Value>>* kv, std::vector<TensorInfo>* tensors,
         std::unordered_map<std::string_view, size_t>* kv_index,
         std::unordered_map<std::string_view, size_t>* tensor_index)
      : bytes_(bytes),
        c_(bytes),
        version_(version),
        alignment_(alignment),
        data_offset_(data_offset),
        kv_(kv),
        tensors_(tensors),
        kv_index_(kv_index),
        tensor_index_(tensor_index) {}

  Status run() {
    uint64_t n_tensors = 0, n_kv = 0;
    MINNOW_CHECK_OK(parse_header(&n_tensors, &n_kv));
    MINNOW_CHECK_OK(parse_metadata(n_kv));
    MINNOW_CHECK_OK(parse_alignment());
    MINNOW_CHECK_OK(parse_tensor_infos(n_tensors));
    return place_tensors();
  }

 private:
  static Error truncated(const std::string& where) {
    return make_error("gguf: truncated in %s", where.c_str());
  }

  // A string as a view into the file; `where` names the field for the error.
  Status read_string(std::string_view* out, const std::string& where) {
    uint64_t n = 0;
    if (!c_.read(&n)) return truncated(where + " (string length)");
    if (n > c_.remaining()) {
      return make_error("gguf: %s: string length %llu exceeds the %llu bytes left", where.c_str(),
                        static_cast<unsigned long long>(n), static_cast<unsigned long long>(c_.remaining()));
    }
    *out = std::string_view(reinterpret_cast<const char*>(c_.here()), static_cast<size_t>(n));
    c_.skip(n);
    return {};
  }

  Status parse_header(uint64_t* n_tensors, uint64_t* n_kv) {
    uint8_t magic[4];
    if (!c_.read(&magic)) {
      // A short prefix of "GGUF" is a truncated file; anything else is not GGUF at all.
      if (!bytes_.empty() && std::memcmp(bytes_.data(), kMagic, bytes_.size()) != 0) {
        return make_error("gguf: not a GGUF file (bad magic)");
      }
      return truncated("header (magic)");
    }
    if (std::memcmp(magic, kMagic, 4) != 0) return make_error("gguf: not a GGUF file (bad magic)");
    uint32_t version = 0;
    if (!c_.read(&version)) return truncated("header (version)");
    if (version != 2 && version != 3) {
      // A big-endian file shows its version byte-swapped; say so rather than just "unsupported".
      if ((version & 0xffff) == 0 && version != 0) {
        return make_error("gguf: unsupported version %u (a big-endian file? only little-endian is supported)",
                          version);
      }
      return make_error("gguf: unsupported version %u (only 2 and 3 are supported)", version);
    }
    *version_ = version;
    if (!c_.read(n_tensors)) return truncated("header (n_tensors)");
    if (!c_.read(n_kv)) return truncated("header (n_kv)");
    // Each entry takes a minimum number of bytes, so the counts are bounded by the file size
    // before anything is reserved for them.
    if (*n_kv > c_.remaining() / kMinKvBytes) {
      return make_error("gguf: n_kv %llu is impossible in the %llu bytes left",
                        static_cast<unsigned long long>(*n_kv),
                        static_cast<unsigned long long>(c_.remaining()));
    }
    if (*n_tensors > c_.remaining() / kMinTensorInfoBytes) {
      return make_error("gguf: n_tensors %llu is impossible in the %llu bytes left",
                        static_cast<unsigned long long>(*n_tensors),
                        static_cast<unsigned long long>(c_.remaining()));
    }
    return {};
  }

  Status parse_metadata(uint64_t n_kv) {
    kv_->reserve(static_cast<size_t>(n_kv));
    kv_index_->reserve(static_cast<size_t>(n_kv));
    for (uint64_t k = 0; k < n_kv; ++k) {
      std::string_view key;
      MINNOW_CHECK_OK(
          read_string(&key, strfmt("metadata kv %llu (key)", static_cast<unsigned long long>(k))));
      uint32_t type = 0;
      if (!c_.read(&type)) return truncated(key_where(key, "type"));
      if (!is_known_type(type)) {
        return make_error("gguf: key '%s': unknown value type %u", printable(key).c_str(), type);
      }
      Value v;
      MINNOW_CHECK_OK(read_value(static_cast<ValueType>(type), key, &v));
      if (!kv_index_->emplace(key, kv_->size()).second) {
        return make_error("gguf: duplicate key '%s'", printable(key).c_str());
      }
      kv_->emplace_back(std::string(key), std::move(v));
    }
    return {};
  }

  Status read_value(ValueType t, std::string_view key, Value* v) {
    v->type = t;
    bool ok = true;
    switch (t) {
      case ValueType::UINT8:
        ok = read_as<uint8_t>(&v->u);
        break;
      case ValueType::UINT16:
        ok = read_as<uint16_t>(&v->u);
        break;
      case ValueType::UINT32:
        ok = read_as<uint32_t>(&v->u);
        break;
      case ValueType::UINT64:
        ok = c_.read(&v->u);
        break;
      case ValueType::INT8:
        ok = read_as<int8_t>(&v->i);
        break;
      case ValueType::INT16:
        ok = read_as<int16_t>(&v->i);
        break;
      case ValueType::INT32:
        ok = read_as<int32_t>(&v->i);
        break;
      case ValueType::INT64:
        ok = c_.read(&v->i);
        break;
      case ValueType::FLOAT32:
        ok = read_as<float>(&v->f);
        break;
      case ValueType::FLOAT64:
        ok = c_.read(&v->f);
        break;
      case ValueType::BOOL: {
        // Any nonzero byte is true; copying the raw byte into a bool would be undefined.
        uint8_t b = 0;
        ok = c_.read(&b);
        v->u = b != 0;
        break;
      }
      case ValueType::STRING:
        return read_string(&v->str, key_where(key, "value"));
      case ValueType::ARRAY:
        return read_array(key, v);
    }
    if (!ok) return truncated(key_where(key, "value"));
    return {};
  }

  template <class T, class U>
  bool read_as(U* out) {
    T x{};
    if (!c_.read(&x)) return false;
    *out = static_cast<U>(x);
    return true;
  }

  Status read_array(std::string_view key, Value* v) {
    uint32_t et = 0;
    if (!c_.read(&et)) return truncated(key_where(key, "array type"));
    if (et == static_cast<uint32_t>(ValueType::ARRAY)) {
      return make_error("gguf: key '%s': arrays of arrays are not supported", printable(key).c_str());
    }
    if (!is_known_type(et)) {
      return make_error("gguf: key '%s': unknown array element type %u", printable(key).c_str(), et);
    }
    uint64_t count = 0;
    if (!c_.read(&count)) return truncated(key_where(key, "array count"));
    auto arr = std::make_shared<ArrayValue>();
    arr->elem_type = static_cast<ValueType>(et);
    arr->count = count;
    if (arr->elem_type == ValueType::STRING) {
      // Every string takes at least its 8-byte length, which bounds the index we reserve.
      if (count > c_.remaining() / 8) {
        return make_error("gguf: key '%s': array of %llu strings exceeds the %llu bytes left",
                          printable(key).c_str(), static_cast<unsigned long long>(count),
                          static_cast<unsigned long long>(c_.remaining()));
      }
      arr->strings.reserve(static_cast<size_t>(count));
      for (uint64_t j = 0; j < count; ++j) {
        std::string_view s;
        uint64_t n = 0;
        // Inline read_string: building a context string per element would dominate big vocabs.
        if (!c_.read(&n)) {
          return truncated(strfmt("metadata '%s' (array element %llu)", printable(key).c_str(),
                                  static_cast<unsigned long long>(j)));
        }
        if (n > c_.remaining()) {
          return make_error(
              "gguf: key '%s': array element %llu: string length %llu exceeds the %llu bytes left",
              printable(key).c_str(), static_cast<unsigned long long>(j), static_cast<unsigned long long>(n),
              static_cast<unsigned long long>(c_.remaining()));
        }
        s = std::string_view(reinterpret_cast<const char*>(c_.here()), static_cast<size_t>(n));
        c_.skip(n);
        arr->strings.push_back(s);
      }
    } else {
      uint64_t elem = value_type_size(arr->elem_type);
      auto bytes = checked_mul(count, elem);
      if (!bytes || *bytes > c_.remaining()) {
        return make_error("gguf: key '%s': array of %llu %s exceeds the %llu bytes left",
                          printable(key).c_str(), static_cast<unsigned long long>(count),
                          value_type_name(arr->elem_type), static_cast<unsigned long long>(c_.remaining()));
      }
      arr->data = c_.here();
      c_.skip(*bytes);
    }
    v->arr = std::move(arr);
    return {};
  }

  Status parse_alignment() {
    auto it = kv_index_->find("general.alignment");
    if (it == kv_index_->end()) return {};
    const Value& v = (*kv_)[it->second].second;
    if (v.type != ValueType::UINT32) {
      return make_error("gguf: key 'general.alignment': expected uint32, found %s", value_type_name(v.type));
    }
    if (v.u == 0 || (v.u & (v.u - 1)) != 0) {
      return make_error("gguf: general.alignment %llu is not a nonzero power of two",
                        static_cast<unsigned long long>(v.u));
    }
    *alignment_ = v.u;
    return {};
  }

  Status parse_tensor_infos(uint64_t n_tensors) {
    if (n_tensors > c_.remaining() / kMinTensorInfoBytes) {
      return make_error("gguf: n_tensors %llu is impossible in the %llu bytes left",
                        static_cast<unsigned long long>(n_tensors),
                        static_cast<unsigned long long>(c_.remaining()));
    }
    tensors_->reserve(static_cast<size_t>(n_tensors));
    tensor_index_->reserve(static_cast<size_t>(n_tensors));
    for (uint64_t k = 0; k < n_tensors; ++k) {
      std::string_view name;
      MINNOW_CHECK_OK(
          read_string(&name, strfmt("tensor info %llu (name)", static_cast<unsigned long long>(k))));
      TensorInfo t;
      t.name = std::string(name);
      MINNOW_CHECK_OK(parse_tensor_info(k, &t));
      if (!tensor_index_->emplace(name, tensors_->size()).second) {
        return make_error("gguf: duplicate tensor name '%s'", printable(name).c_str());
      }
      tensors_->push_back(std::move(t));
    }
    return {};
  }

  // Everything of one tensor info after its name.
  Status parse_tensor_info(uint64_t k, TensorInfo* t) {
    const std::string name = printable(t->name);
    auto where = [&](const char* field) {
      return strfmt("tensor info %llu '%s' (%s)", static_cast<unsigned long long>(k), name.c_str(), field);
    };
    uint32_t n_dims = 0;
    if (!c_.read(&n_dims)) return truncated(where("n_dims"));
    if (n_dims == 0 || n_dims > static_cast<uint32_t>(kMaxDims)) {
      return make_error("gguf: tensor '%s': %u dims, %s", name.c_str(), n_dims,
                        n_dims == 0 ? "at least 1" : "at most 4");
    }
    t->n_dims = static_cast<int>(n_dims);
    // The product of the dims, with zeros counted as ones, must fit int64: then no partial
    // product a caller forms (rows = ne[1]*ne[2]*ne[3], n_elements()) can overflow, even when
    // another dim is zero.
    uint64_t bound = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t ne = 0;
      if (!c_.read(&ne)) return truncated(where("ne"));
      if (ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return make_error("gguf: tensor '%s': ne[%u] = %lld is negative", name.c_str(), d,
                          static_cast<long long>(static_cast<int64_t>(ne)));
      }
      auto prod = checked_mul(bound, ne == 0 ? 1 : ne);
      if (!prod || *prod > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return make_error("gguf: tensor '%s': element count overflows int64", name.c_str());
      }
      bound = *prod;
      t->ne[d] = static_cast<int64_t>(ne);
    }
    uint32_t type = 0;
    if (!c_.read(&type)) return truncated(where("type"));
    const DTypeInfo* info = dtype_info(type);
    if (!info) return make_error("gguf: tensor '%s': unknown type id %u", name.c_str(), type);
    t->type = static_cast<DType>(type);
    if (t->ne[0] % info->block_size != 0) {
      return make_error("gguf: tensor '%s': row of %lld elements is not a multiple of the %s block size %lld",
                        name.c_str(), static_cast<long long>(t->ne[0]), info->name,
                        static_cast<long long>(info->block_size));
    }
    // Elements fit int64, but bytes need not: an f64 tensor of 2^62 elements is 2^65 bytes.
    auto row = checked_mul(static_cast<uint64_t>(t->ne[0] / info->block_size), info->block_bytes);
    auto total =
        row ? checked_mul(*row, static_cast<uint64_t>(t->ne[1] * t->ne[2] * t->ne[3])) : std::nullopt;
    if (!total) return make_error("gguf: tensor '%s': byte size overflows", name.c_str());
    t->n_bytes = *total;
    if (!c_.read(&t->offset)) return truncated(where("offset"));
    return {};
  }

  // Finds the data section and checks each tensor lies inside the file.
  Status place_tensors() {
    auto data = checked_align_up(c_.pos(), *alignment_);
    if (!data) return make_error("gguf: data section offset overflows");
    *data_offset_ = *data;
    for (TensorInfo& t : *tensors_) {
      if (t.offset % *alignment_ != 0) {
        return make_error("gguf: tensor '%s': offset %llu is not a multiple of the alignment %llu",
                          printable(t.name).c_str(), static_cast<unsigned long long>(t.offset),
                          static_cast<unsigned long long>(*alignment_));
      }
      auto begin = checked_add(*data, t.offset);
      auto end = begin ? checked_add(*begin, t.n_bytes) : std::nullopt;
      if (!end || *end > bytes_.size()) {
        return make_error(
            "gguf: tensor '%s': %llu bytes at data offset %llu run past the end of the file (%zu bytes)",
            printable(t.name).c_str(), static_cast<unsigned long long>(t.n_bytes),
            static_cast<unsigned long long>(t.offset), bytes_.size());
      }
      t.data = bytes_.data() + *begin;
    }
    return {};
  }

  // Names from the file go into messages; cap them and escape control bytes so a hostile
  // name cannot flood or garble a log.
  static std::string printable(std::string_view s) {
    constexpr size_t kMax = 96;
    std::string out;
    for (size_t i = 0; i < s.size() && i < kMax; ++i) {
      unsigned char ch = static_cast<unsigned char>(s[i]);
      if (ch < 0x20 || ch == 0x7f) {
        out += strfmt("\\x%02x", ch);
      } else {
        out += static_cast<char>(ch);
      }
    }
    if (s.size() > kMax) out += "...";
    return out;
  }

  static std::string key_where(std::string_view key, const char* field) {
    return strfmt("metadata '%s' (%s)", printable(key).c_str(), field);
  }

  std::span<const uint8_t> bytes_;
  Cursor c_;
  uint32_t* version_;
  uint64_t* alignment_;
  uint64_t* data_offset_;
  std::vector<std::pair<std::string, Value>>* kv_;
  std::vector<TensorInfo>* tensors_;
  std::unordered_map<std::string_view, size_t>* kv_index_;
  std::unordered_map<std::string_view, size_t>* tensor_index_;
};

}  // namespace

Result<File> File::parse_impl(File f) {
  Parser p(f.bytes_, &f.version_, &f.alignment_, &f.data_offset_, &f.kv_, &f.tensors_, &f.kv_index_,
           &f.tensor_index_);
  MINNOW_CHECK_OK(p.run());
  return f;
}

Result<File> File::parse(std::span<const uint8_t> bytes) {
  File f;
  f.bytes_ = bytes;
  return parse_impl(std::move(f));
}

Result<File> File::open(const std::string& path) {
  auto m = MappedFile::open(path);
  if (!m.ok()) return Error{"gguf: " + m.error().message};  // already names the path
  File f;
  f.map_ = std::move(m).value();
  f.bytes_ = std::span<const uint8_t>(f.map_->data(), f.map_->size());
  auto r = parse_impl(std::move(f));
  if (r.ok()) return r;
  // "gguf: X" -> "gguf: /path: X", so the message says which file.
  std::string msg = r.error().message;
  constexpr std::string_view kPrefix = "gguf: ";
  if (msg.compare(0, kPrefix.size(), kPrefix) == 0) msg.erase(0, kPrefix.size());
  return Error{"gguf: " + path + ": " + msg};
}

const TensorInfo* File::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace minnow::gguf

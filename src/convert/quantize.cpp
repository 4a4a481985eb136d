// The public quantize (include/minnow/quantize.h): plans each tensor's type with llama.cpp's
// llama-quantize rules (llama_model_quantize_impl's "which tensors" filter and
// llama_tensor_get_type's mixes and fallbacks, for the types listed), then streams the file
// through the GGUF writer, converting a chunk of rows at a time on a thread pool.
#include "minnow/quantize.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "base/thread_pool.h"
#include "gguf/gguf.h"
#include "tensor/quants.h"

namespace minnow {
namespace {

// Output bytes converted before they go to the writer: few writes, small beside any model.
constexpr size_t kChunkBytes = size_t{4} << 20;
// Elements per thread-pool task: large enough that handing out a task costs nothing beside it.
constexpr int64_t kTaskElements = 16384;

struct TypeSpec {
  QuantType type;
  const char* name;
  DType base;          // the type of most matrices
  uint32_t file_type;  // llama.cpp's LLAMA_FTYPE
};

constexpr TypeSpec kTypes[] = {
    {QuantType::kQ4_0, "Q4_0", DType::Q4_0, 2},      {QuantType::kQ4_1, "Q4_1", DType::Q4_1, 3},
    {QuantType::kQ5_0, "Q5_0", DType::Q5_0, 8},      {QuantType::kQ5_1, "Q5_1", DType::Q5_1, 9},
    {QuantType::kQ8_0, "Q8_0", DType::Q8_0, 7},      {QuantType::kQ4_K_S, "Q4_K_S", DType::Q4_K, 14},
    {QuantType::kQ4_K_M, "Q4_K_M", DType::Q4_K, 15}, {QuantType::kQ5_K_S, "Q5_K_S", DType::Q5_K, 16},
    {QuantType::kQ5_K_M, "Q5_K_M", DType::Q5_K, 17}, {QuantType::kQ6_K, "Q6_K", DType::Q6_K, 18},
    {QuantType::kF16, "F16", DType::F16, 1},         {QuantType::kBF16, "BF16", DType::BF16, 32},
    {QuantType::kF32, "F32", DType::F32, 0},
};

const TypeSpec& spec_of(QuantType type) {
  for (const TypeSpec& s : kTypes) {
    if (s.type == type) return s;
  }
  return kTypes[0];  // every enumerator is listed above
}

int64_t block_of(DType t) {
  return dtype_info(t).block_size;
}
bool is_block_type(DType t) {
  return block_of(t) > 1;
}

// Dimensions as ggml_n_dims counts them: trailing dimensions of 1 do not count, so a [n, 1]
// tensor is a vector.
int effective_dims(const gguf::TensorInfo& t) {
  int d = t.n_dims;
  while (d > 1 && t.ne[d - 1] == 1) --d;
  return d;
}

bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

// llama-quantize's filter: weight matrices only. Norms, MoE routers, position and token-type
// embeddings, Mamba's conv and T5's relative position bias are small and sensitive; they stay.
bool is_quantizable(const gguf::TensorInfo& t) {
  const std::string_view name = t.name;
  return name.ends_with("weight") && effective_dims(t) >= 2 && t.n_elements() > 0 &&
         !contains(name, "_norm.weight") && !contains(name, "ffn_gate_inp.weight") &&
         name != "position_embd.weight" && name != "token_types.weight" &&
         !contains(name, "ssm_conv1d.weight") && !contains(name, "attn_rel_b.weight");
}

// N of a "blk.N." name; -1 for tensors outside the blocks.
int64_t layer_of(std::string_view name) {
  if (!name.starts_with("blk.")) return -1;
  int64_t n = 0;
  size_t i = 4;
  for (; i < name.size() && i < 14 && std::isdigit(static_cast<unsigned char>(name[i])); ++i)
    n = 10 * n + (name[i] - '0');
  return i > 4 && i < name.size() && name[i] == '.' ? n : -1;
}

// Layers given more bits by the _M mixes: the first and last eighth, and every third one
// between (llama.cpp's use_more_bits; the ends of the network are the most sensitive).
bool use_more_bits(int64_t i, int64_t n_layer) {
  return i >= 0 && (i < n_layer / 8 || i >= 7 * n_layer / 8 || (i - n_layer / 8) % 3 == 2);
}

// The type llama_tensor_get_type gives a weight matrix under a block-quantized file type,
// before the fallback for its row length. Its rules for types minnow does not write (Q2_K,
// Q3_K, IQ*), for MoE models and for 70B's attn_v are left out.
DType mix_type(QuantType q, DType base, const gguf::TensorInfo& t, bool has_output, int64_t n_layer) {
  const std::string_view name = t.name;
  const bool k_m = q == QuantType::kQ4_K_M || q == QuantType::kQ5_K_M;
  const int64_t layer = layer_of(name);
  // The output projection (or the embedding that stands in for it) decides every logit.
  if (name == "output.weight" || (!has_output && name == "token_embd.weight")) {
    if (t.ne[0] % block_of(base) != 0) return DType::Q8_0;
    return base == DType::Q8_0 ? DType::Q8_0 : DType::Q6_K;
  }
  if (contains(name, "attn_v.weight")) {
    if (k_m && use_more_bits(layer, n_layer)) return DType::Q6_K;
    if (q == QuantType::kQ4_K_S && layer >= 0 && layer < 4) return DType::Q5_K;
  } else if (contains(name, "ffn_down")) {
    if (k_m && use_more_bits(layer, n_layer)) return DType::Q6_K;
    if (q == QuantType::kQ4_K_S && layer >= 0 && layer < n_layer / 8) return DType::Q5_K;
  } else if (contains(name, "attn_qkv.weight")) {
    if (q == QuantType::kQ4_K_M) return DType::Q5_K;
    if (q == QuantType::kQ5_K_M) return DType::Q6_K;
  }
  return base;
}

// A type whose blocks fit rows of n: the k-quants step down to the 32-block type of about the
// same size (llama.cpp's choice), anything else that does not fit becomes F16.
DType fitting_type(DType planned, int64_t n) {
  if (n % block_of(planned) == 0) return planned;
  DType t = DType::F16;
  if (planned == DType::Q4_K) t = DType::Q5_0;
  if (planned == DType::Q5_K) t = DType::Q5_1;
  if (planned == DType::Q6_K) t = DType::Q8_0;
  return n % block_of(t) == 0 ? t : DType::F16;
}

struct Plan {
  const gguf::TensorInfo* info;
  DType to;
  QuantizedTensor report;
};

Result<std::vector<Plan>> plan_tensors(const gguf::File& in, QuantType q) {
  const TypeSpec& spec = spec_of(q);
  bool has_output = false;
  int64_t n_layer = 0;  // from the names (blk.N.), as llama.cpp counts the attn_v tensors
  for (const gguf::TensorInfo& t : in.tensors()) {
    has_output |= t.name == "output.weight";
    n_layer = std::max(n_layer, layer_of(t.name) + 1);
  }
  std::vector<Plan> plans;
  for (const gguf::TensorInfo& t : in.tensors()) {
    Plan p{&t, t.type, {}};
    if (is_quantizable(t)) {
      const DType planned =
          is_block_type(spec.base) ? mix_type(q, spec.base, t, has_output, n_layer) : spec.base;
      p.to = fitting_type(planned, t.ne[0]);
      if (p.to != planned) p.report.fallback_from = dtype_name(planned);
    }
    if (p.to != t.type && !dtype_info(t.type).supported) {
      return make_error("tensor '%s' is %s, which minnow cannot dequantize to convert", t.name.c_str(),
                        dtype_name(t.type));
    }
    p.report.name = t.name;
    p.report.shape.assign(t.ne, t.ne + t.n_dims);
    p.report.from = dtype_name(t.type);
    p.report.to = dtype_name(p.to);
    p.report.bytes_in = t.n_bytes;
    p.report.bytes_out = p.to == t.type
                             ? t.n_bytes
                             : *row_bytes(p.to, t.ne[0]) * static_cast<uint64_t>(t.n_elements() / t.ne[0]);
    p.report.requantized = p.to != t.type && is_block_type(t.type) && is_block_type(p.to);
    plans.push_back(std::move(p));
  }
  return plans;
}

bool all_finite(const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) return false;
  }
  return true;
}

// Converts the rows of t into type `to`, a chunk at a time, handing each chunk to the sink.
Status convert_rows(const gguf::TensorInfo& t, DType to, ThreadPool& pool,
                    const gguf::Writer::TensorSink& sink) {
  const int64_t n = t.ne[0];
  const int64_t n_rows = t.n_elements() / n;
  const size_t in_rb = *row_bytes(t.type, n), out_rb = *row_bytes(to, n);
  const int64_t chunk_rows = std::max<int64_t>(1, static_cast<int64_t>(kChunkBytes / out_rb));
  // [chunk_rows][out_rb] converted rows awaiting the sink
  std::vector<uint8_t> out(static_cast<size_t>(std::min(chunk_rows, n_rows)) * out_rb);
  for (int64_t r0 = 0; r0 < n_rows; r0 += chunk_rows) {
    const int64_t nr = std::min(chunk_rows, n_rows - r0);
    std::atomic<int64_t> bad_row{n_rows};  // the first row holding NaN or infinity
    pool.parallel_for(nr, std::max<int64_t>(1, kTaskElements / n), [&](int64_t begin, int64_t end) {
      std::vector<float> row(static_cast<size_t>(n));  // [n] f32
      for (int64_t r = begin; r < end; ++r) {
        dequantize_row(t.type, t.data + static_cast<size_t>(r0 + r) * in_rb, row.data(), n);
        if (!all_finite(row.data(), n)) {
          int64_t seen = bad_row.load();
          while (r0 + r < seen && !bad_row.compare_exchange_weak(seen, r0 + r)) {
          }
          continue;
        }
        quantize_row(to, row.data(), out.data() + static_cast<size_t>(r) * out_rb, n);
      }
    });
    if (bad_row.load() < n_rows) {
      return make_error("tensor '%s': row %lld holds NaN or infinity", t.name.c_str(),
                        static_cast<long long>(bad_row.load()));
    }
    MINNOW_CHECK_OK(sink(std::span<const uint8_t>(out.data(), static_cast<size_t>(nr) * out_rb)));
  }
  return {};
}

}  // namespace

const char* const kQuantTypeNames =
    "Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M, Q6_K, F16, BF16, F32";

std::optional<QuantType> parse_quant_type(std::string_view name) {
  for (const TypeSpec& s : kTypes) {
    const std::string_view want = s.name;
    if (want.size() == name.size() && std::equal(want.begin(), want.end(), name.begin(), [](char a, char b) {
          return a == std::toupper(static_cast<unsigned char>(b));
        })) {
      return s.type;
    }
  }
  return std::nullopt;
}

const char* quant_type_name(QuantType type) {
  return spec_of(type).name;
}
uint32_t quant_file_type(QuantType type) {
  return spec_of(type).file_type;
}

Result<QuantizeSummary> quantize_gguf(const std::string& in_path, const std::string& out_path, QuantType type,
                                      const QuantizeOptions& options) {
  auto in = gguf::File::open(in_path);
  if (!in) return in.error().with_context("quantize: " + in_path);
  // A shard holds only some tensors; its rules (attn_v layer counts, output.weight) need all.
  auto split = in->get_int_or("split.count", 1);
  if (!split) return split.error().with_context("quantize: " + in_path);
  if (*split > 1) {
    return make_error("quantize: %s is one shard of a split model; merge the shards first", in_path.c_str());
  }
  auto plans = plan_tensors(*in, type);
  if (!plans) return plans.error().with_context("quantize: " + in_path);

  gguf::Writer w;
  for (const auto& [key, value] : in->metadata()) {
    if (key == "general.alignment" || key.starts_with("split.")) continue;  // the writer's own business
    w.set_value(key, value);
  }
  w.set_alignment(in->alignment());
  w.set_u32("general.file_type", quant_file_type(type));
  // The block layouts written are those of GGML's quantization version 2 (its current one).
  w.set_u32("general.quantization_version", 2);

  ThreadPool pool(options.n_threads);
  QuantizeSummary s;
  s.file_size_in = in->file_size();
  for (const Plan& p : *plans) {
    const std::vector<int64_t> ne(p.info->ne, p.info->ne + p.info->n_dims);
    auto emit = [&p, &pool, &options](const gguf::Writer::TensorSink& sink) -> Status {
      if (p.to == p.info->type) {
        MINNOW_CHECK_OK(sink(std::span<const uint8_t>(p.info->data, p.info->n_bytes)));
      } else {
        Status st = convert_rows(*p.info, p.to, pool, sink);
        if (!st) return st.error().with_context("quantize");
      }
      if (options.on_tensor) options.on_tensor(p.report);
      return {};
    };
    Status st = w.add_tensor_source(p.info->name, p.to, ne, emit);
    if (!st) return st.error().with_context("quantize");
    s.tensors.push_back(p.report);
    s.bytes_in += p.report.bytes_in;
    s.bytes_out += p.report.bytes_out;
    s.n_converted += p.to != p.info->type;
    s.n_requantized += p.report.requantized;
    s.n_fallback += !p.report.fallback_from.empty();
  }
  if (Status st = w.write(out_path); !st) return st.error().with_context("quantize");
  std::error_code ec;
  s.file_size_out = std::filesystem::file_size(out_path, ec);
  return s;
}

}  // namespace minnow

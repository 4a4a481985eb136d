// The public conversion (include/minnow/convert.h): reads the folder's config, tokenizer and
// shards, plans the model (hf_model.cpp), then streams each tensor into the GGUF writer one
// chunk of rows at a time, so a model never has to fit in memory.
#include "minnow/convert.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <set>

#include "base/mmap.h"
#include "convert/hf_model.h"
#include "convert/safetensors.h"
#include "gguf/gguf.h"
#include "tensor/fp16.h"
#include "tokenizer/hf_import.h"
#include "tokenizer/hf_json.h"
#include "tokenizer/tokenizer.h"

namespace minnow {
namespace {

namespace fs = std::filesystem;
using tok::Json;

// JSON files past this are not configs or tokenizers (the largest real tokenizer.json is tens of MB).
constexpr size_t kMaxJsonBytes = size_t{1} << 30;
// Bytes handed to the writer at a time: large enough for few writes, small beside any model.
constexpr size_t kChunkBytes = size_t{4} << 20;

Result<std::string> read_text(const fs::path& path) {
  auto file = MappedFile::open(path.string());
  if (!file.ok()) return file.error().with_context("convert");
  if (file->size() > kMaxJsonBytes) {
    return make_error("convert: %s: %zu bytes, too large for a JSON file", path.c_str(), file->size());
  }
  return std::string(reinterpret_cast<const char*>(file->data()), file->size());
}

Result<Json> read_json(const fs::path& path) {
  auto text = read_text(path);
  if (!text) return text.error();
  const std::string what = "convert: " + path.string();
  auto j = tok::parse_json(*text, what.c_str());
  if (!j) return j.error();
  if (!j->is_object()) return make_error("%s: not a JSON object", what.c_str());
  return j;
}

// The shard files: those model.safetensors.index.json maps to, else model.safetensors, else every
// *.safetensors in the folder. With an index, each listed tensor must be in the file it names.
Result<convert::TensorIndex> open_shards(const fs::path& dir) {
  convert::TensorIndex index;
  const fs::path index_path = dir / "model.safetensors.index.json";
  std::error_code ec;
  if (fs::exists(index_path, ec)) {
    auto j = read_json(index_path);
    if (!j) return j.error();
    const Json* map = tok::member(*j, "weight_map");
    if (!map || !map->is_object()) {
      return make_error("convert: %s: no weight_map object", index_path.c_str());
    }
    std::set<std::string> files;
    for (const auto& [name, file] : map->items()) {
      // A file name, not a path: the index must not reach outside the folder.
      if (!file.is_string() || file.get<std::string>().empty() ||
          file.get<std::string>().find('/') != std::string::npos || file.get<std::string>() == "..") {
        return make_error("convert: %s: tensor '%s' maps to %s, not a file name in the folder",
                          index_path.c_str(), tok::clip(name).c_str(), tok::clip(file.dump()).c_str());
      }
      files.insert(file.get<std::string>());
    }
    for (const std::string& f : files) {
      auto st = convert::SafetensorsFile::open((dir / f).string());
      if (!st) return st.error();
      MINNOW_CHECK_OK(index.add_file(std::move(st).value()));
    }
    for (const auto& [name, file] : map->items()) {
      const std::string& where = index.file_of(name);
      if (where.empty() || fs::path(where).filename() != file.get<std::string>()) {
        return make_error("convert: %s lists tensor '%s' in %s, which does not hold it", index_path.c_str(),
                          tok::clip(name).c_str(), file.get<std::string>().c_str());
      }
    }
    return index;
  }
  std::vector<fs::path> files;
  if (fs::exists(dir / "model.safetensors", ec)) {
    files.push_back(dir / "model.safetensors");
  } else {
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      if (e.path().extension() == ".safetensors") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
  }
  if (ec) return make_error("convert: %s: %s", dir.c_str(), ec.message().c_str());
  if (files.empty()) return make_error("convert: %s: no *.safetensors weights", dir.c_str());
  for (const fs::path& f : files) {
    auto st = convert::SafetensorsFile::open(f.string());
    if (!st) return st.error();
    MINNOW_CHECK_OK(index.add_file(std::move(st).value()));
  }
  return index;
}

// A special id from config.json or generation_config.json (an int, or a list whose first is used).
std::optional<int64_t> config_id(const Json& cfg, const char* key) {
  const Json* v = tok::member(cfg, key);
  if (v && v->is_array()) v = v->empty() ? nullptr : &(*v)[0];
  return v ? tok::as_int(*v) : std::nullopt;
}

// The tokenizer as GGUF metadata, padded to n_vocab rows with unused tokens as llama.cpp does
// when the embedding has spare rows.
Status fill_vocab(VocabSpec& spec, int64_t n_vocab, const Json& config, const fs::path& dir) {
  const int64_t n_tokens = static_cast<int64_t>(spec.tokens.size());
  if (n_tokens > n_vocab) {
    return make_error("convert: the tokenizer has %lld tokens, the embedding only %lld rows",
                      static_cast<long long>(n_tokens), static_cast<long long>(n_vocab));
  }
  if (!spec.token_types) spec.token_types = std::vector<int32_t>(spec.tokens.size(), 1);
  for (int64_t id = n_tokens; id < n_vocab; ++id) {
    spec.tokens.push_back("[PAD" + std::to_string(id) + "]");
    spec.token_types->push_back(static_cast<int32_t>(TokenType::kUnused));
    if (spec.scores) spec.scores->push_back(0.0f);
  }
  std::optional<Json> generation;
  std::error_code ec;
  if (fs::exists(dir / "generation_config.json", ec)) {
    auto g = read_json(dir / "generation_config.json");
    if (!g) return g.error();
    generation = std::move(g).value();
  }
  for (auto [slot, key] :
       {std::pair{&spec.bos_id, "bos_token_id"}, std::pair{&spec.eos_id, "eos_token_id"}}) {
    if (*slot && **slot >= 0) continue;  // -1: the tokenizer files name none
    std::optional<int64_t> id = config_id(config, key);
    if (!id && generation) id = config_id(*generation, key);
    if (id && *id >= 0 && *id < n_vocab) *slot = id;
  }
  return {};
}

// Elements of one planned tensor, row by row in GGUF order, converted to `type`.
Status emit_tensor(const convert::PlannedTensor& p, DType type, const gguf::Writer::TensorSink& sink) {
  const int64_t n_in = p.ne[0], n_rows = p.n_rows();
  const int64_t head_dim = p.rope_heads > 0 ? n_rows / p.rope_heads : 0;
  std::vector<float> row(static_cast<size_t>(n_in));  // [n_in] f32
  std::vector<uint8_t> chunk;                         // converted rows awaiting the sink
  const size_t out_bytes = type == DType::F32 ? 4 : 2;
  chunk.reserve(std::max(kChunkBytes, row.size() * out_bytes));
  for (int64_t r = 0; r < n_rows; ++r) {
    if (p.src) {
      const int64_t src_row = head_dim > 0 ? convert::rope_permuted_row(r, head_dim) : r;
      Status st = convert::read_f32(*p.src, src_row * n_in, row);
      if (!st.ok()) return st.error().with_context("convert");
    } else {
      std::copy(p.values.begin() + r * n_in, p.values.begin() + (r + 1) * n_in, row.begin());
    }
    if (p.add != 0.0f) {
      for (float& v : row) v += p.add;
    }
    const size_t at = chunk.size();
    chunk.resize(at + row.size() * out_bytes);
    uint8_t* out = chunk.data() + at;
    if (type == DType::F32) {
      std::memcpy(out, row.data(), row.size() * 4);
    } else {
      for (size_t i = 0; i < row.size(); ++i) {
        const uint16_t h = type == DType::F16 ? fp32_to_fp16(row[i]) : fp32_to_bf16(row[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
    }
    if (chunk.size() >= kChunkBytes) {
      MINNOW_CHECK_OK(sink(chunk));
      chunk.clear();
    }
  }
  return chunk.empty() ? Status() : sink(chunk);
}

}  // namespace

std::optional<ConvertType> parse_convert_type(std::string_view name) {
  std::string s;
  for (char c : name) s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s == "f32") return ConvertType::kF32;
  if (s == "f16") return ConvertType::kF16;
  if (s == "bf16") return ConvertType::kBF16;
  return std::nullopt;
}

const char* convert_type_name(ConvertType type) {
  switch (type) {
    case ConvertType::kF32:
      return "f32";
    case ConvertType::kF16:
      return "f16";
    case ConvertType::kBF16:
      return "bf16";
  }
  return "?";
}

Result<ConvertSummary> convert_hf_to_gguf(const std::string& dir_name, const std::string& out_path,
                                          const ConvertOptions& options) {
  const fs::path dir(dir_name);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return make_error("convert: %s is not a directory", dir_name.c_str());

  auto config = read_json(dir / "config.json");
  if (!config) return config.error();
  const Json* archs = tok::member(*config, "architectures");
  const std::string* hf_arch = archs && archs->is_array() && !archs->empty() && (*archs)[0].is_string()
                                   ? &(*archs)[0].get_ref<const std::string&>()
                                   : nullptr;
  if (!hf_arch) return make_error("convert: %s/config.json: no architectures list", dir_name.c_str());
  auto arch = convert::gguf_arch_for(*hf_arch);
  if (!arch) return arch.error();
  // Multimodal configs keep the language model's fields in text_config.
  Json merged = *config;
  if (const Json* text = tok::member(*config, "text_config"); text && text->is_object()) {
    for (const auto& [k, v] : text->items()) merged[k] = v;
  }

  // The tokenizer first: Gemma 3's plan needs its size.
  auto tokenizer_json = read_text(dir / "tokenizer.json");
  if (!tokenizer_json) return tokenizer_json.error();
  std::string tokenizer_config;
  if (fs::exists(dir / "tokenizer_config.json", ec)) {
    auto t = read_text(dir / "tokenizer_config.json");
    if (!t) return t.error();
    tokenizer_config = std::move(t).value();
  }
  // Special tokens by name from tokenizer_config.json; config.json's ids when there is none.
  // (Without vocab_size: the embedding decides the padding, and Gemma 3 trims to the tokenizer.)
  Json ids = merged;
  ids.erase("vocab_size");
  auto spec =
      tok::import_hf_tokenizer(*tokenizer_json, tokenizer_config.empty() ? ids.dump() : tokenizer_config);
  if (!spec) return spec.error().with_context("convert: " + (dir / "tokenizer.json").string());
  auto tmpl = tok::hf_chat_template(tokenizer_config);
  if (!tmpl) return tmpl.error().with_context("convert: " + (dir / "tokenizer_config.json").string());
  if (!*tmpl && fs::exists(dir / "chat_template.jinja", ec)) {  // where newer transformers save it
    auto t = read_text(dir / "chat_template.jinja");
    if (!t) return t.error();
    *tmpl = std::move(t).value();
  }

  auto index = open_shards(dir);
  if (!index) return index.error();

  std::string name = options.name;
  if (name.empty()) {
    fs::path p = fs::absolute(dir, ec).lexically_normal();
    if (p.filename().empty()) p = p.parent_path();
    name = p.filename().string();
  }
  const DType type = options.type == ConvertType::kF32    ? DType::F32
                     : options.type == ConvertType::kBF16 ? DType::BF16
                                                          : DType::F16;
  gguf::Writer w;
  w.set_string("general.architecture", *arch);
  w.set_string("general.name", name);
  // llama.cpp's LLAMA_FTYPE: ALL_F32 0, MOSTLY_F16 1, MOSTLY_BF16 32.
  w.set_u32("general.file_type", type == DType::F32 ? 0 : type == DType::F16 ? 1 : 32);
  w.set_u32("general.quantization_version", 2);
  auto plan = convert::plan_model(merged, *hf_arch, *index, static_cast<int64_t>(spec->tokens.size()), w);
  if (!plan) return plan.error();

  MINNOW_CHECK_OK(fill_vocab(*spec, plan->n_vocab, merged, dir));
  // Refuse what would not load back.
  auto loads = Tokenizer::from_spec(*spec);
  if (!loads) return loads.error().with_context("convert: " + (dir / "tokenizer.json").string());
  tok::write_vocab_metadata(*spec, w);
  if (*tmpl) w.set_string("tokenizer.chat_template", **tmpl);

  ConvertSummary s;
  s.hf_architecture = *hf_arch;
  s.architecture = *arch;
  s.n_vocab = plan->n_vocab;
  s.chat_template = tmpl->has_value();
  for (const convert::PlannedTensor& p : plan->tensors) {
    const DType t = p.matrix ? type : DType::F32;
    MINNOW_CHECK_OK(w.add_tensor_source(
        p.name, t, p.ne, [&p, t](const gguf::Writer::TensorSink& sink) { return emit_tensor(p, t, sink); }));
    s.n_params += static_cast<uint64_t>(p.ne[0] * p.n_rows());
    ++s.n_tensors;
  }
  MINNOW_CHECK_OK(w.write(out_path));
  s.file_size = fs::file_size(out_path, ec);
  return s;
}

}  // namespace minnow

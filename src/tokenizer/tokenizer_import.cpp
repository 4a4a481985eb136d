// The public face of the Hugging Face import (include/minnow/tokenizer_import.h): file reading,
// the chat template and general.name around hf_import, and the GGUF write.
#include "minnow/tokenizer_import.h"

#include <filesystem>
#include <string_view>

#include "base/mmap.h"
#include "gguf/gguf.h"
#include "tokenizer/hf_import.h"
#include "tokenizer/tokenizer.h"

namespace minnow {
namespace {

// JSON files past this are not tokenizers (the largest real tokenizer.json is tens of MB).
constexpr size_t kMaxJsonBytes = size_t{1} << 30;

Result<std::string> read_text(const std::string& path) {
  auto file = MappedFile::open(path);
  if (!file.ok()) return file.error();
  if (file->size() > kMaxJsonBytes)
    return make_error("%s: %zu bytes, too large for a tokenizer file", path.c_str(), file->size());
  return std::string(reinterpret_cast<const char*>(file->data()), file->size());
}

}  // namespace

Result<TokenizerImportSummary> import_hf_tokenizer_to_gguf(const std::string& tokenizer_json_path,
                                                           const std::string& out_gguf,
                                                           const TokenizerImportOptions& options) {
  auto tj = read_text(tokenizer_json_path);
  if (!tj.ok()) return tj.error();
  std::string cfg;
  if (!options.config_path.empty()) {
    auto c = read_text(options.config_path);
    if (!c.ok()) return c.error();
    cfg = std::move(c).value();
  }
  auto spec = tok::import_hf_tokenizer(*tj, cfg, tok::HfImportOptions{.pre = options.pre});
  if (!spec.ok()) return spec.error().with_context(tokenizer_json_path);
  // Refuse what would not load back (an unknown pre name given explicitly, say).
  auto loads = Tokenizer::from_spec(*spec);
  if (!loads.ok()) return loads.error().with_context(tokenizer_json_path);
  auto tmpl = tok::hf_chat_template(cfg);
  if (!tmpl.ok()) return tmpl.error().with_context(options.config_path);

  std::string name = options.name;
  if (name.empty()) name = std::filesystem::path(tokenizer_json_path).parent_path().filename().string();
  if (name.empty()) name = "tokenizer";
  gguf::Writer w;
  w.set_string("general.name", name);
  tok::write_vocab_metadata(*spec, w);
  if (*tmpl) w.set_string("tokenizer.chat_template", **tmpl);
  MINNOW_CHECK_OK(w.write(out_gguf));

  TokenizerImportSummary s;
  s.model = spec->model;
  s.pre = spec->pre;
  s.n_tokens = static_cast<int64_t>(spec->tokens.size());
  s.n_merges = spec->merges ? static_cast<int64_t>(spec->merges->size()) : 0;
  s.bos_id = spec->bos_id.value_or(-1);
  s.eos_id = spec->eos_id.value_or(-1);
  s.chat_template = tmpl->has_value();
  return s;
}

}  // namespace minnow

// Pullable names (hf.co/ORG/REPO:QUANT and the short-name table) and the choice of a GGUF
// file from a Hugging Face repository listing.
#include "store/hf_repo.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <set>

namespace minnow {
namespace {

// Short names, as Ollama's library names them, each to a single-file GGUF on huggingface.co
// (checked against the repositories' file lists). Instruct models: what `run` chats with.
// Quants: Q8_0 where the model is small enough that 4-bit quantization hurts it visibly
// (SmolLM2 135M/360M), else Q4_K_M, Ollama's default.
struct ShortName {
  const char* family;
  const char* tag;
  const char* repo;
  const char* quant;
  bool is_default;  // what the family name alone ("smollm2", i.e. ":latest") means, as in Ollama
};
constexpr ShortName kShortNames[] = {
    {"smollm2", "135m", "bartowski/SmolLM2-135M-Instruct-GGUF", "Q8_0", false},
    {"smollm2", "360m", "bartowski/SmolLM2-360M-Instruct-GGUF", "Q8_0", false},
    {"smollm2", "1.7b", "bartowski/SmolLM2-1.7B-Instruct-GGUF", "Q4_K_M", true},
    {"qwen2.5", "0.5b", "bartowski/Qwen2.5-0.5B-Instruct-GGUF", "Q4_K_M", false},
    {"qwen2.5", "1.5b", "bartowski/Qwen2.5-1.5B-Instruct-GGUF", "Q4_K_M", false},
    {"qwen2.5", "3b", "bartowski/Qwen2.5-3B-Instruct-GGUF", "Q4_K_M", false},
    {"qwen2.5", "7b", "bartowski/Qwen2.5-7B-Instruct-GGUF", "Q4_K_M", true},
    {"llama3.2", "1b", "bartowski/Llama-3.2-1B-Instruct-GGUF", "Q4_K_M", false},
    {"llama3.2", "3b", "bartowski/Llama-3.2-3B-Instruct-GGUF", "Q4_K_M", true},
    {"gemma3", "1b", "unsloth/gemma-3-1b-it-GGUF", "Q4_K_M", false},
    {"gemma3", "4b", "ggml-org/gemma-3-4b-it-GGUF", "Q4_K_M", true},
    {"gemma2", "2b", "bartowski/gemma-2-2b-it-GGUF", "Q4_K_M", true},
    {"phi4-mini", "3.8b", "unsloth/Phi-4-mini-instruct-GGUF", "Q4_K_M", true},
    {"phi3.5", "3.8b", "bartowski/Phi-3.5-mini-instruct-GGUF", "Q4_K_M", true},
    {"mistral", "7b", "bartowski/Mistral-7B-Instruct-v0.3-GGUF", "Q4_K_M", true},
    {"tinyllama", "1.1b", "TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF", "Q4_K_M", true},
};

constexpr std::string_view kHubPrefixes[] = {"hf.co/", "huggingface.co/"};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && lower(a) == lower(b);
}

std::string families() {
  std::string out;
  std::string_view last;
  for (const ShortName& s : kShortNames) {
    if (s.family == last) continue;  // the table is grouped by family
    out += (out.empty() ? "" : ", ") + std::string(s.family);
    last = s.family;
  }
  return out;
}

}  // namespace

Result<PullSource> resolve_pull_name(std::string_view name) {
  auto n = ModelName::parse(name);
  if (!n) return n.error();
  for (std::string_view prefix : kHubPrefixes) {
    if (!lower(n->name).starts_with(prefix)) continue;
    const std::string repo = n->name.substr(prefix.size());
    if (std::count(repo.begin(), repo.end(), '/') != 1) {
      return make_error("'%s': a Hugging Face name is %sORG/REPO[:QUANT]", std::string(name).c_str(),
                        std::string(prefix).c_str());
    }
    return PullSource{repo, n->tag == "latest" ? "" : n->tag};
  }
  // A short name; "<tag>-<quant>" (Ollama's "0.5b-instruct-q8_0" shape) picks another quant.
  std::string tag = lower(n->tag), quant;
  if (const size_t dash = tag.find('-'); dash != std::string::npos) {
    quant = n->tag.substr(tag.rfind('-') + 1);
    tag = tag.substr(0, dash);
  }
  std::string tags;
  for (const ShortName& s : kShortNames) {
    if (n->name != s.family) continue;
    if (tag == s.tag || (tag == "latest" && s.is_default)) {
      return PullSource{s.repo, quant.empty() ? s.quant : quant};
    }
    tags += (tags.empty() ? "" : ", ") + std::string(s.tag);
  }
  if (!tags.empty()) {
    return make_error("'%s': %s comes in %s (pull %s:%s, for example)", std::string(name).c_str(), n->name.c_str(),
                      tags.c_str(), n->name.c_str(), tags.substr(0, tags.find(',')).c_str());
  }
  return make_error("'%s' is not a name minnow can pull: use hf.co/ORG/REPO[:QUANT] for a GGUF repository on "
                    "Hugging Face, or a short name (%s)",
                    std::string(name).c_str(), families().c_str());
}

bool is_pullable_name(std::string_view name) {
  return resolve_pull_name(name).ok();
}

namespace hf {
namespace {

// Name tokens: "Llama-3.2-1B-Instruct-Q4_K_M.gguf" -> Llama, 3, 2, 1B, Instruct, Q4_K_M.
std::vector<std::string> tokens(std::string_view path) {
  std::string_view base = path.substr(path.rfind('/') == std::string_view::npos ? 0 : path.rfind('/') + 1);
  if (base.size() >= 5 && iequal(base.substr(base.size() - 5), ".gguf")) base.remove_suffix(5);
  std::vector<std::string> out;
  size_t b = 0;
  while (b <= base.size()) {
    const size_t e = std::min(base.find_first_of("-.", b), base.size());
    if (e > b) out.emplace_back(base.substr(b, e - b));
    b = e + 1;
  }
  return out;
}

bool is_gguf(const RepoFile& f) {
  const size_t slash = f.path.rfind('/');
  const std::string base = lower(f.path.substr(slash == std::string::npos ? 0 : slash + 1));
  return base.ends_with(".gguf") && !base.starts_with("mmproj");
}

// "-00001-of-00003" before ".gguf": one part of a split model.
bool is_split(std::string_view path) {
  const std::vector<std::string> t = tokens(path);
  for (size_t i = 1; i + 1 < t.size(); ++i) {
    auto digits = [](const std::string& s) {
      return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    };
    if (lower(t[i]) == "of" && digits(t[i - 1]) && digits(t[i + 1])) return true;
  }
  return false;
}

// The quant's own tokens in a row among the name's ("UD-Q4_K_XL": UD, Q4_K_XL).
bool has_quant(std::string_view path, std::string_view quant) {
  const std::vector<std::string> t = tokens(path), q = tokens(quant);
  for (size_t i = 0; !q.empty() && i + q.size() <= t.size(); ++i) {
    if (std::equal(q.begin(), q.end(), t.begin() + static_cast<std::ptrdiff_t>(i), iequal)) return true;
  }
  return false;
}

std::string available(const std::vector<RepoFile>& ggufs) {
  std::set<std::string> quants;
  for (const RepoFile& f : ggufs) {
    const std::string q = quant_of(f.path);
    quants.insert(q.empty() ? f.path : q);
  }
  std::string out;
  for (const std::string& q : quants) out += (out.empty() ? "" : ", ") + q;
  return out;
}

}  // namespace

std::string quant_of(std::string_view path) {
  const std::vector<std::string> t = tokens(path);
  for (size_t i = t.size(); i-- > 0;) {
    const std::string l = lower(t[i]);
    const bool q = (l.size() >= 2 && l[0] == 'q' && std::isdigit(static_cast<unsigned char>(l[1]))) ||
                   (l.size() >= 3 && l.starts_with("iq") && std::isdigit(static_cast<unsigned char>(l[2])));
    if (!q && l != "f16" && l != "f32" && l != "bf16" && l != "fp16" && l != "fp32") continue;
    // Unsloth's "dynamic" quants are named UD-Q4_K_XL: the prefix is part of the name.
    return i > 0 && iequal(t[i - 1], "ud") ? t[i - 1] + "-" + t[i] : t[i];
  }
  return "";
}

Result<std::vector<RepoFile>> parse_tree(std::string_view json_text) {
  const nlohmann::json j = nlohmann::json::parse(json_text, nullptr, false);
  if (j.is_discarded() || !j.is_array()) return make_error("the file listing is not a JSON array");
  std::vector<RepoFile> files;
  for (const auto& e : j) {
    if (!e.is_object() || e.value("type", "") != "file" || !e.contains("path") || !e["path"].is_string()) continue;
    RepoFile f;
    f.path = e["path"].get<std::string>();
    if (e.contains("size") && e["size"].is_number_unsigned()) f.size = e["size"].get<uint64_t>();
    if (e.contains("lfs") && e["lfs"].is_object()) {
      const auto& lfs = e["lfs"];
      if (lfs.contains("oid") && lfs["oid"].is_string()) f.sha256 = lfs["oid"].get<std::string>();
      if (lfs.contains("size") && lfs["size"].is_number_unsigned()) f.size = lfs["size"].get<uint64_t>();
    }
    files.push_back(std::move(f));
  }
  return files;
}

Result<RepoFile> choose_gguf(const std::vector<RepoFile>& files, const PullSource& source) {
  std::vector<RepoFile> ggufs;
  std::copy_if(files.begin(), files.end(), std::back_inserter(ggufs), is_gguf);
  const char* repo = source.repo.c_str();
  if (ggufs.empty()) return make_error("%s has no GGUF files (minnow pulls GGUF models)", repo);
  const std::string quant = source.quant.empty() ? "Q4_K_M" : source.quant;
  std::vector<RepoFile> matches;
  std::copy_if(ggufs.begin(), ggufs.end(), std::back_inserter(matches),
               [&](const RepoFile& f) { return has_quant(f.path, quant); });
  if (matches.empty()) {
    if (source.quant.empty() && ggufs.size() == 1) return ggufs[0];
    if (source.quant.empty()) {
      return make_error("%s has no Q4_K_M GGUF and several others; name one, as in hf.co/%s:%s (it has %s)", repo, repo,
                        quant_of(ggufs[0].path).c_str(), available(ggufs).c_str());
    }
    return make_error("%s has no %s GGUF; it has %s", repo, source.quant.c_str(), available(ggufs).c_str());
  }
  for (const RepoFile& f : matches) {
    if (is_split(f.path)) {
      return make_error("%s: the %s model is split into several files (%s, ...); minnow pulls single-file GGUFs: "
                        "merge the parts with llama-gguf-split --merge and `minnow create` from the result, or pull "
                        "another quant (it has %s)",
                        repo, quant.c_str(), f.path.c_str(), available(ggufs).c_str());
    }
  }
  // The same quant twice (a copy in a folder): the shortest path, so the choice is stable.
  return *std::min_element(matches.begin(), matches.end(), [](const RepoFile& a, const RepoFile& b) {
    return a.path.size() != b.path.size() ? a.path.size() < b.path.size() : a.path < b.path;
  });
}

}  // namespace hf
}  // namespace minnow

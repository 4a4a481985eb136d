// The model store on disk (layout in include/minnow/store.h). Every write goes to a temporary
// file first and is renamed into place, so a crash never leaves a half manifest or blob.
#include "minnow/store.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <system_error>

namespace minnow {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'; }

std::string now_iso8601() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Status write_atomically(const fs::path& path, const std::string& bytes) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) return make_error("store: cannot create %s: %s", path.parent_path().c_str(), ec.message().c_str());
  const fs::path tmp = path.parent_path() / (".tmp-" + path.filename().string() + "-" + std::to_string(getpid()));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      fs::remove(tmp, ec);
      return make_error("store: cannot write %s (disk full?)", tmp.c_str());
    }
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return make_error("store: cannot write %s: %s", path.c_str(), ec.message().c_str());
  }
  return Status();
}

bool valid_digest(const std::string& d) {
  return d.starts_with("sha256:") && d.size() == 71 &&
         std::all_of(d.begin() + 7, d.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string blob_name(const std::string& digest) {  // "sha256:ab.." -> "sha256-ab.."
  std::string s = digest;
  std::replace(s.begin(), s.end(), ':', '-');
  return s;
}

}  // namespace

Result<ModelName> ModelName::parse(std::string_view text) {
  if (text.empty()) return make_error("model name: empty");
  if (text.size() > 350) return make_error("model name: longer than 350 characters");
  ModelName n;
  const size_t slash = text.rfind('/');
  const size_t colon = text.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    n.name = std::string(text.substr(0, colon));
    n.tag = std::string(text.substr(colon + 1));
    if (n.tag.empty()) return make_error("model name '%.*s': empty tag after ':'", static_cast<int>(text.size()), text.data());
  } else {
    n.name = std::string(text);
    n.tag = "latest";
  }
  const std::string shown(text);
  for (char c : n.tag) {
    if (!name_char(c)) return make_error("model name '%s': the tag may hold only letters, digits, '.', '_' and '-'", shown.c_str());
  }
  if (n.tag[0] == '.' || n.tag[0] == '-') return make_error("model name '%s': the tag must begin with a letter or digit", shown.c_str());
  size_t b = 0;
  for (;;) {
    const size_t e = std::min(n.name.find('/', b), n.name.size());
    const std::string_view part = std::string_view(n.name).substr(b, e - b);
    if (part.empty() || part == "." || part == "..") {
      return make_error("model name '%s': each '/'-separated part must be a non-empty name", shown.c_str());
    }
    for (char c : part) {
      if (!name_char(c)) {
        return make_error("model name '%s': names hold only letters, digits, '.', '_', '-' and '/'", shown.c_str());
      }
    }
    if (e == n.name.size()) break;
    b = e + 1;
  }
  return n;
}

Result<std::string> sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("cannot open %s", path.c_str());
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) return make_error("sha256: init failed");
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) return make_error("cannot read %s", path.c_str());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

Result<Store> Store::open(const std::string& root) {
  std::string r = root;
  if (r.empty()) {
    if (const char* env = std::getenv("MINNOW_MODELS"); env && *env) {
      r = env;
    } else if (const char* home = std::getenv("HOME"); home && *home) {
      r = std::string(home) + "/.minnow/models";
    } else {
      return make_error("store: neither MINNOW_MODELS nor HOME is set");
    }
  }
  std::error_code ec;
  fs::create_directories(fs::path(r) / "blobs", ec);
  if (!ec) fs::create_directories(fs::path(r) / "manifests", ec);
  if (ec) return make_error("store: cannot create %s: %s", r.c_str(), ec.message().c_str());
  Store s;
  s.root_ = r;
  return s;
}

std::string Store::temp_path(std::string_view hint) const {
  static std::mt19937_64 rng(std::random_device{}());
  return (fs::path(root_) / "blobs" / (".partial-" + std::string(hint) + "-" + std::to_string(getpid()) + "-" + std::to_string(rng() % 1000000)))
      .string();
}

Result<StoredModel> Store::find(std::string_view name) const {
  auto n = ModelName::parse(name);
  if (!n) return n.error();
  const fs::path path = fs::path(root_) / "manifests" / n->name / n->tag;
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("model '%s' not found", n->full().c_str());
  const Json j = Json::parse(in, nullptr, false);
  StoredModel m;
  m.name = n->full();
  if (j.is_discarded() || !j.is_object() || !j.contains("model") || !j["model"].is_object() ||
      !j["model"].value("digest", Json()).is_string()) {
    return make_error("model '%s': manifest %s is damaged (remove it with `minnow rm`)", m.name.c_str(), path.c_str());
  }
  m.digest = j["model"]["digest"].get<std::string>();
  if (!valid_digest(m.digest)) {
    return make_error("model '%s': manifest %s has a bad digest", m.name.c_str(), path.c_str());
  }
  m.model_path = (fs::path(root_) / "blobs" / blob_name(m.digest)).string();
  m.size = j["model"].value("size", uint64_t{0});
  m.modified = j.value("modified", "");
  m.system = j.value("system", "");
  m.chat_template = j.value("template", "");
  if (j.contains("parameters") && j["parameters"].is_array()) {
    for (const auto& p : j["parameters"]) {
      if (p.is_array() && p.size() == 2 && p[0].is_string() && p[1].is_string()) m.parameters.emplace_back(p[0], p[1]);
    }
  }
  std::error_code ec;
  if (!fs::exists(m.model_path, ec)) {
    return make_error("model '%s': its weights (%s) are missing from the store; pull or create it again",
                      m.name.c_str(), m.digest.c_str());
  }
  return m;
}

std::vector<StoredModel> Store::list() const {
  std::vector<StoredModel> out;
  const fs::path base = fs::path(root_) / "manifests";
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(base, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file() || it->path().filename().string().starts_with(".")) continue;
    const fs::path rel = fs::relative(it->path(), base);
    auto m = find(rel.parent_path().generic_string() + ":" + rel.filename().string());
    if (m) out.push_back(std::move(*m));
  }
  std::sort(out.begin(), out.end(), [](const StoredModel& a, const StoredModel& b) { return a.name < b.name; });
  return out;
}

Result<StoredModel> Store::add(std::string_view name, const std::string& gguf_path, const StoredModel& defaults,
                               bool move) {
  auto n = ModelName::parse(name);
  if (!n) return n.error();
  auto hex = sha256_file(gguf_path);
  if (!hex) return hex.error();
  const std::string digest = "sha256:" + *hex;
  const fs::path blob = fs::path(root_) / "blobs" / blob_name(digest);
  std::error_code ec;
  const uint64_t size = fs::file_size(gguf_path, ec);
  if (ec) return make_error("store: %s: %s", gguf_path.c_str(), ec.message().c_str());
  if (fs::exists(blob, ec)) {
    if (move) fs::remove(gguf_path, ec);
  } else if (move) {
    fs::rename(gguf_path, blob, ec);
    if (ec) return make_error("store: cannot move %s into the store: %s", gguf_path.c_str(), ec.message().c_str());
  } else {
    const std::string tmp = temp_path("copy");
    fs::copy_file(gguf_path, tmp, ec);
    if (!ec) fs::rename(tmp, blob, ec);
    if (ec) {
      fs::remove(tmp, ec);
      return make_error("store: cannot copy %s into the store (disk full?)", gguf_path.c_str());
    }
  }
  StoredModel named = defaults;
  named.digest = digest;
  named.size = size;
  return name_blob(n->full(), named);
}

Result<StoredModel> Store::name_blob(std::string_view name, const StoredModel& m) {
  auto n = ModelName::parse(name);
  if (!n) return n.error();
  std::error_code ec;
  if (!valid_digest(m.digest) || !fs::exists(fs::path(root_) / "blobs" / blob_name(m.digest), ec)) {
    return make_error("store: no blob %s to name '%s'", m.digest.c_str(), n->full().c_str());
  }
  Json j;
  j["schema"] = 1;
  j["model"] = {{"digest", m.digest}, {"size", m.size}};
  j["modified"] = now_iso8601();
  if (!m.system.empty()) j["system"] = m.system;
  if (!m.chat_template.empty()) j["template"] = m.chat_template;
  if (!m.parameters.empty()) {
    j["parameters"] = Json::array();
    for (const auto& [k, v] : m.parameters) j["parameters"].push_back({k, v});
  }
  MINNOW_CHECK_OK(write_atomically(fs::path(root_) / "manifests" / n->name / n->tag, j.dump(2)));
  return find(n->full());
}

Status Store::copy(std::string_view from, std::string_view to) {
  auto src = find(from);
  if (!src) return src.error();
  auto dst = ModelName::parse(to);
  if (!dst) return dst.error();
  std::ifstream in(fs::path(root_) / "manifests" / ModelName::parse(from)->name / ModelName::parse(from)->tag,
                   std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return write_atomically(fs::path(root_) / "manifests" / dst->name / dst->tag, bytes);
}

Status Store::remove(std::string_view name) {
  auto m = find(name);
  auto n = ModelName::parse(name);
  if (!n) return n.error();
  const fs::path base = fs::path(root_) / "manifests";
  fs::path path = base / n->name / n->tag;
  std::error_code ec;
  if (!fs::exists(path, ec)) return make_error("model '%s' not found", n->full().c_str());
  fs::remove(path, ec);
  if (ec) return make_error("store: cannot remove %s: %s", path.c_str(), ec.message().c_str());
  for (fs::path dir = path.parent_path(); dir != base && fs::is_empty(dir, ec); dir = dir.parent_path()) {
    fs::remove(dir, ec);
  }
  if (m) {  // drop the blob unless another name still uses it
    for (const StoredModel& other : list()) {
      if (other.digest == m->digest) return Status();
    }
    fs::remove(m->model_path, ec);
  }
  return Status();
}

}  // namespace minnow

// pull_model (minnow/pull.h): Hugging Face's HTTP layout (the tree API lists a repository's
// files with their SHA-256, /resolve/ serves one, usually by a redirect to a CDN), resumable
// downloads into {store}/partial/, verification, then Store::add.
#include "minnow/pull.h"

#include <fcntl.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/url.h"
#include "store/hf_repo.h"

namespace minnow {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using ull = unsigned long long;

constexpr int kMaxRedirects = 10;
constexpr size_t kMaxListingBytes = 64 << 20;  // a repository listing is kilobytes; more is not one
constexpr size_t kErrorBodyBytes = 2048;       // of an error answer's body, for its message
constexpr int kConnectTimeoutS = 30;
// Often enough for a smooth progress bar, rarely enough that a streamed /api/pull stays small.
constexpr auto kProgressEvery = std::chrono::milliseconds(100);

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// Where a redirect's Location (absolute, scheme-relative, absolute-path or relative) points.
std::string resolve_location(const std::string& from, const std::string& location) {
  if (location.starts_with("http://") || location.starts_with("https://")) return location;
  const Url u = *split_url(from);  // `from` was split before it was asked
  if (location.starts_with("//")) return u.origin.substr(0, u.origin.find("://") + 1) + location;
  if (location.starts_with("/")) return u.origin + location;
  const std::string dir = u.path.substr(0, u.path.rfind('/', u.path.find('?')) + 1);
  return u.origin + dir + location;
}

// Percent-encodes what a URL path may not hold as is (repository paths are nearly always safe).
std::string escape_path(std::string_view p) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : p) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string transport_message(httplib::Error e, int read_timeout_s) {
  switch (e) {
    case httplib::Error::Connection: return "cannot connect";
    case httplib::Error::Read: return strfmt("the connection was lost, or stalled for %d s", read_timeout_s);
    case httplib::Error::Write: return "the connection was lost while sending the request";
    case httplib::Error::SSLConnection: return "the TLS connection failed";
    case httplib::Error::SSLServerVerification: return "the server's TLS certificate did not verify";
    default: return httplib::to_string(e);
  }
}

// An HTTP answer: its status, and its body (a listing's whole body; the start of an error's).
struct Answer {
  int status = 0;
  std::string url;  // the URL that answered, after redirects
  std::string body;
};

using OnHead = std::function<bool(const httplib::Response&)>;
using OnBody = std::function<bool(const char* data, size_t n)>;

// GETs with redirects followed. The token goes to the endpoint's own origin only, never to the
// CDN it redirects to (which signs its URLs itself). For a 2xx answer, on_head sees the headers
// and on_body the bytes (without them the body is kept in the Answer); either returning false
// cancels. An error is a failure below HTTP (no connection, lost or stalled, cancelled).
class Http {
 public:
  Http(const PullOptions& o, std::string token_origin, std::string token)
      : read_timeout_s_(o.read_timeout_s), token_origin_(std::move(token_origin)), token_(std::move(token)) {}

  Result<Answer> get(const std::string& url, const httplib::Headers& extra, const OnHead& on_head,
                     const OnBody& on_body) const {
    std::string current = url;
    for (int hop = 0; hop <= kMaxRedirects; ++hop) {
      auto u = split_url(current);
      if (!u) return u.error();
      httplib::Client cli(u->origin);
      if (!cli.is_valid()) return make_error("GET %s: cannot use this URL", current.c_str());
      cli.set_connection_timeout(kConnectTimeoutS, 0);
      cli.set_read_timeout(read_timeout_s_, 0);
      cli.set_write_timeout(read_timeout_s_, 0);
      cli.set_follow_location(false);
      httplib::Headers h = extra;
      h.emplace("User-Agent", "minnow");
      if (!token_.empty() && u->origin == token_origin_) h.emplace("Authorization", "Bearer " + token_);
      Answer a;
      a.url = current;
      std::string location;
      bool too_big = false;
      auto res = cli.Get(
          u->path, h,
          [&](const httplib::Response& r) {
            a.status = r.status;
            if (r.status >= 300 && r.status < 400 && r.has_header("Location")) {
              location = r.get_header_value("Location");
              return true;
            }
            return a.status / 100 != 2 || !on_head || on_head(r);
          },
          [&](const char* data, size_t n) {
            if (!location.empty()) return true;  // a redirect's own body
            if (a.status / 100 == 2 && on_body) return on_body(data, n);
            const size_t cap = a.status / 100 == 2 ? kMaxListingBytes : kErrorBodyBytes;
            if (a.body.size() + n > cap) too_big = a.status / 100 == 2;
            a.body.append(data, std::min(n, cap - std::min(cap, a.body.size())));
            return !too_big;
          });
      if (too_big) return make_error("GET %s: the answer is larger than %zu bytes", current.c_str(), kMaxListingBytes);
      if (!res) {
        if (res.error() == httplib::Error::Canceled) return make_error("cancelled");
        return make_error("GET %s: %s", current.c_str(), transport_message(res.error(), read_timeout_s_).c_str());
      }
      if (location.empty()) return a;
      current = resolve_location(current, location);
    }
    return make_error("GET %s: more than %d redirects", url.c_str(), kMaxRedirects);
  }

 private:
  int read_timeout_s_;
  std::string token_origin_;
  std::string token_;
};

// An HTTP status that is not success, as a message about `what` (a repository or a file).
Error http_error(const Answer& a, const std::string& what, const std::string& endpoint) {
  std::string detail;
  const nlohmann::json j = nlohmann::json::parse(a.body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_string()) detail = " (" + j["error"].get<std::string>() + ")";
  switch (a.status) {
    case 401:
      return make_error("%s: not found on %s, or private or gated%s; for a gated or private repository set HF_TOKEN to "
                        "a token with access to it",
                        what.c_str(), endpoint.c_str(), detail.c_str());
    case 403:
      return make_error("%s: access denied by %s%s; the repository is gated: accept its terms on its page and set "
                        "HF_TOKEN to a token of that account",
                        what.c_str(), endpoint.c_str(), detail.c_str());
    case 404: return make_error("%s: not found on %s%s", what.c_str(), endpoint.c_str(), detail.c_str());
    case 429: return make_error("%s: %s is rate limiting (HTTP 429); try again later", what.c_str(), endpoint.c_str());
    default: {
      std::string body = a.body.substr(0, 200);
      std::replace(body.begin(), body.end(), '\n', ' ');
      return make_error("%s: HTTP %d from %s%s", what.c_str(), a.status, a.url.c_str(),
                        body.empty() ? "" : (": " + body).c_str());
    }
  }
}

// The caller's progress callback, called at each step and at most every kProgressEvery while
// bytes arrive; remembers a cancel.
class Reporter {
 public:
  explicit Reporter(const std::function<bool(const PullProgress&)>& cb) : cb_(cb) {}
  bool step(const PullProgress& p) {
    last_ = Clock::now();
    if (cb_ && !cancelled_ && !cb_(p)) cancelled_ = true;
    return !cancelled_;
  }
  bool bytes(const PullProgress& p) { return Clock::now() - last_ < kProgressEvery ? !cancelled_ : step(p); }
  bool cancelled() const { return cancelled_; }

 private:
  const std::function<bool(const PullProgress&)>& cb_;
  Clock::time_point last_{};
  bool cancelled_ = false;
};

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) { reset(); }
  void reset() { EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr); }
  void update(const void* data, size_t n) { EVP_DigestUpdate(ctx_.get(), data, n); }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_.get(), md, &len);
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
      out += digits[md[i] >> 4];
      out += digits[md[i] & 15];
    }
    return out;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// One pull of a file at a time, across threads and processes: two pulls appending to one
// partial file would corrupt it. The lock file is removed once the blob is in the store.
class DownloadLock {
 public:
  explicit DownloadLock(std::string path) : path_(std::move(path)) {}
  DownloadLock(const DownloadLock&) = delete;
  DownloadLock& operator=(const DownloadLock&) = delete;
  // Waits for a pull of the same file elsewhere to end, saying so.
  Status take(Reporter& report, const PullProgress& p) {
    fd_.fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_.fd < 0) return make_error("cannot create %s: %s", path_.c_str(), std::strerror(errno));
    if (::flock(fd_.fd, LOCK_EX | LOCK_NB) == 0) return Status();
    if (!report.step({"waiting for another pull of " + p.digest.substr(7, 12), p.digest, p.total, 0})) {
      return make_error("cancelled");
    }
    while (::flock(fd_.fd, LOCK_EX) != 0) {
      if (errno != EINTR) return make_error("cannot lock %s: %s", path_.c_str(), std::strerror(errno));
    }
    return Status();
  }
  // The pull is done: a pull waiting on this lock finds the blob in the store.
  void remove() { ::unlink(path_.c_str()); }

 private:
  std::string path_;
  Fd fd_;
};

// errno of a failed write, 0 when every byte was written.
int write_all(int fd, const char* data, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
  return 0;
}

Error write_error(const std::string& path, int err, uint64_t have, uint64_t total) {
  if (err == ENOSPC || err == EFBIG || err == EDQUOT) {
    return make_error("disk full writing %s (%s): the %llu of %llu bytes downloaded stay there; pull again to resume "
                      "once there is room",
                      path.c_str(), std::strerror(err), static_cast<ull>(have), static_cast<ull>(total));
  }
  return make_error("cannot write %s: %s", path.c_str(), std::strerror(err));
}

// The first `n` bytes of an earlier pull's partial file into the hash.
Status hash_prefix(int fd, uint64_t n, Sha256& hash) {
  std::vector<char> buf(1 << 20);
  for (uint64_t off = 0; off < n;) {
    const ssize_t r = ::pread(fd, buf.data(), std::min<uint64_t>(buf.size(), n - off), static_cast<off_t>(off));
    if (r <= 0) {
      if (r < 0 && errno == EINTR) continue;
      return make_error("cannot read the partial download: %s", r < 0 ? std::strerror(errno) : "it is shorter than it was");
    }
    hash.update(buf.data(), static_cast<size_t>(r));
    off += static_cast<uint64_t>(r);
  }
  return Status();
}

// Downloads `url` into `partial` until it holds file.size bytes with SHA-256 file.sha256,
// resuming what an earlier pull left there (Range: bytes=N-; a 200 instead of 206 starts over).
// A mismatch removes the partial file; anything else keeps it for the next pull.
Status fetch_file(const Http& http, const std::string& url, const std::string& partial, const hf::RepoFile& file,
                  Reporter& report, PullProgress p) {
  Fd f;
  f.fd = ::open(partial.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (f.fd < 0) return make_error("cannot open %s: %s", partial.c_str(), std::strerror(errno));
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) return make_error("cannot stat %s: %s", partial.c_str(), std::strerror(errno));
  uint64_t have = static_cast<uint64_t>(st.st_size);
  Sha256 hash;
  if (have > file.size) {
    if (::ftruncate(f.fd, 0) != 0) return write_error(partial, errno, 0, file.size);
    have = 0;
  }
  MINNOW_CHECK_OK(hash_prefix(f.fd, have, hash));
  p.completed = have;
  if (!report.step(p)) return make_error("cancelled");
  if (have < file.size) {
    httplib::Headers h = {{"Accept-Encoding", "identity"}};
    if (have > 0) h.emplace("Range", strfmt("bytes=%llu-", static_cast<ull>(have)));
    int write_errno = 0;
    std::string bad_range;
    auto on_head = [&](const httplib::Response& r) {
      if (r.status == 206) {
        const std::string range = r.get_header_value("Content-Range");
        ull start = 0;
        if (std::sscanf(range.c_str(), "bytes %llu-", &start) == 1 && start == have) return true;
        bad_range = range;
        return false;
      }
      if (have > 0) {  // the whole file after all: this server does not resume, so start over
        if (::ftruncate(f.fd, 0) != 0) {
          write_errno = errno;
          return false;
        }
        have = 0;
        hash.reset();
      }
      return true;
    };
    auto on_body = [&](const char* data, size_t n) {
      if ((write_errno = write_all(f.fd, data, n)) != 0) return false;
      hash.update(data, n);
      have += n;
      p.completed = have;
      return report.bytes(p);
    };
    auto answer = http.get(url, h, on_head, on_body);
    if (write_errno != 0) return write_error(partial, write_errno, have, file.size);
    if (!bad_range.empty()) {
      return make_error("%s: asked for bytes %llu- the server answered with Content-Range '%s'", file.path.c_str(),
                        static_cast<ull>(have), bad_range.c_str());
    }
    if (report.cancelled()) {
      return make_error("cancelled; the %llu of %llu bytes downloaded stay for the next pull", static_cast<ull>(have),
                        static_cast<ull>(file.size));
    }
    if (!answer) {
      return make_error("%s: the download stopped at %llu of %llu bytes: %s; pull again to resume", file.path.c_str(),
                        static_cast<ull>(have), static_cast<ull>(file.size), answer.error().message.c_str());
    }
    if (answer->status == 416) {  // the server's file is shorter than what we have: not this one
      ::ftruncate(f.fd, 0);
      return make_error("%s: the server refused to resume at byte %llu; the partial download was removed, pull again",
                        file.path.c_str(), static_cast<ull>(have));
    }
    if (answer->status / 100 != 2) return http_error(*answer, file.path, url);
  }
  if (have < file.size) {
    return make_error("%s: the server ended the download at %llu of %llu bytes; pull again to resume", file.path.c_str(),
                      static_cast<ull>(have), static_cast<ull>(file.size));
  }
  if (have > file.size) {
    ::unlink(partial.c_str());
    return make_error("%s: the server sent %llu bytes where the listing says %llu; the download was removed",
                      file.path.c_str(), static_cast<ull>(have), static_cast<ull>(file.size));
  }
  // Delayed allocation can report a full disk only now.
  if (::fdatasync(f.fd) != 0) return write_error(partial, errno, have, file.size);
  p.completed = have;
  report.step(p);
  if (!report.step({"verifying sha256 digest", "", 0, 0})) return make_error("cancelled");
  const std::string got = hash.hex();
  if (got != file.sha256) {
    ::unlink(partial.c_str());
    return make_error("%s: sha256 mismatch: the listing says %s, the download is %s; the download was removed, pull "
                      "again",
                      file.path.c_str(), file.sha256.c_str(), got.c_str());
  }
  return Status();
}

bool is_sha256_hex(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f'); });
}

}  // namespace

std::string pull_endpoint(const PullOptions& o) {
  std::string e = !o.endpoint.empty() ? o.endpoint : !env("MINNOW_HF_ENDPOINT").empty() ? env("MINNOW_HF_ENDPOINT")
                                                   : !env("HF_ENDPOINT").empty()         ? env("HF_ENDPOINT")
                                                                                         : "https://huggingface.co";
  while (e.ends_with("/")) e.pop_back();
  return e;
}

Result<StoredModel> pull_model(Store& store, std::string_view name, const PullOptions& o) {
  auto parsed = ModelName::parse(name);
  if (!parsed) return parsed.error();
  auto source = resolve_pull_name(name);
  if (!source) return source.error();
  const std::string endpoint = pull_endpoint(o);
  auto base = split_url(endpoint);
  if (!base) return base.error().with_context("the Hugging Face endpoint");
  const std::string full = parsed->full();
  auto cancelled = [&] { return make_error("pull of %s cancelled", full.c_str()); };
  Reporter report(o.progress);
  if (!report.step({"pulling manifest", "", 0, 0})) return cancelled();

  const Http http(o, base->origin, o.token.empty() ? env("HF_TOKEN") : o.token);
  const std::string repo = escape_path(source->repo);
  auto listing = http.get(endpoint + "/api/models/" + repo + "/tree/main?recursive=true", {{"Accept", "application/json"}},
                          nullptr, nullptr);
  if (!listing) return report.cancelled() ? cancelled() : listing.error().with_context(source->repo);
  if (listing->status != 200) return http_error(*listing, source->repo, endpoint);
  auto files = hf::parse_tree(listing->body);
  if (!files) return files.error().with_context(source->repo + ": " + listing->url);
  auto file = hf::choose_gguf(*files, *source);
  if (!file) return file.error();
  if (!is_sha256_hex(file->sha256) || file->size == 0) {
    return make_error("%s: %s has no SHA-256 and size in the listing (not an LFS file), so a download could not be "
                      "checked",
                      source->repo.c_str(), file->path.c_str());
  }

  const std::string digest = "sha256:" + file->sha256;
  PullProgress p{"pulling " + file->sha256.substr(0, 12), digest, file->size, 0};
  const fs::path dir = fs::path(store.root()) / "partial";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return make_error("cannot create %s: %s", dir.c_str(), ec.message().c_str());
  DownloadLock lock((dir / ("sha256-" + file->sha256 + ".lock")).string());
  if (Status st = lock.take(report, p); !st.ok()) return report.cancelled() ? cancelled() : st.error();

  Result<StoredModel> stored = Error{""};
  // The blob may be in the store already: another name has it, or a pull we waited for got it.
  if (fs::exists(fs::path(store.root()) / "blobs" / ("sha256-" + file->sha256), ec)) {
    p.completed = p.total;
    if (!report.step(p) || !report.step({"writing manifest", "", 0, 0})) return cancelled();
    StoredModel m;
    m.digest = digest;
    m.size = file->size;
    stored = store.name_blob(full, m);
  } else {
    const std::string partial = (dir / ("sha256-" + file->sha256 + ".partial")).string();
    const std::string url = endpoint + "/" + repo + "/resolve/main/" + escape_path(file->path);
    if (Status st = fetch_file(http, url, partial, *file, report, p); !st.ok()) {
      return report.cancelled() ? st.error().with_context("pull of " + full) : st.error().with_context(source->repo);
    }
    if (!report.step({"writing manifest", "", 0, 0})) return cancelled();
    stored = store.add(full, partial, StoredModel{}, /*move=*/true);
  }
  if (!stored) return stored.error();
  lock.remove();
  report.step({"success", "", 0, 0});
  return stored;
}

}  // namespace minnow

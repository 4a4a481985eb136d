// Splitting an http(s) URL into the origin cpp-httplib's client connects to and the path it
// requests (pulls, upstream LLM endpoints). Not a general URL parser: no userinfo, no IPv6 checks.
#pragma once

#include <string>

#include "base/error.h"

namespace minnow {

// "https://host[:port]/prefix" -> origin "https://host[:port]" and path "/prefix" ("/" when none).
struct Url {
  std::string origin;
  std::string path;
};

inline Result<Url> split_url(const std::string& url) {
  const size_t scheme = url.find("://");
  const std::string s = scheme == std::string::npos ? "" : url.substr(0, scheme);
  if (s != "http" && s != "https") return make_error("'%s' is not an http:// or https:// URL", url.c_str());
  const size_t slash = url.find('/', scheme + 3);
  Url u{url.substr(0, slash), slash == std::string::npos ? "/" : url.substr(slash)};
  if (u.origin.size() == scheme + 3) return make_error("'%s' has no host", url.c_str());
  return u;
}

}  // namespace minnow

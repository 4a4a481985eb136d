#include "base/error.h"

#include <cstdarg>
#include <cstdio>

namespace minnow {
namespace {
std::string vformat(const char* fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = std::vsnprintf(nullptr, 0, fmt, ap2);
  va_end(ap2);
  if (n <= 0) return std::string();
  std::string out(static_cast<size_t>(n) + 1, '\0');
  std::vsnprintf(out.data(), out.size(), fmt, ap);
  out.resize(static_cast<size_t>(n));
  return out;
}
}  // namespace

std::string strfmt(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::string s = vformat(fmt, ap);
  va_end(ap);
  return s;
}

Error make_error(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  Error e{vformat(fmt, ap)};
  va_end(ap);
  return e;
}

}  // namespace minnow

// Error and Result<T>: every untrusted path returns one of these instead of throwing or aborting.
// Messages carry context ("gguf: tensor 'x': 9 dims, at most 4"); callers prefix their own.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace minnow {

struct Error {
  std::string message;
  // Returns a copy with "context: " in front, for callers adding where it happened.
  Error with_context(const std::string& context) const { return Error{context + ": " + message}; }
};

// printf-style formatting into std::string (g++ 12 has no <format>).
std::string strfmt(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// Shorthand: return make_error("gguf: bad magic %08x", m);
Error make_error(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { assert(!ok_); return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace minnow

// Propagates an error from an expression returning Result<...>/Status.
#define MINNOW_CHECK_OK(expr)                          \
  do {                                                 \
    auto minnow_status_ = (expr);                      \
    if (!minnow_status_.ok()) return minnow_status_.error(); \
  } while (0)

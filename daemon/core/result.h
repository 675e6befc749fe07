#pragma once
// Expected-style results for operations that can fail at run time (I/O, parsing
// untrusted input). Exceptions are kept for configuration and programmer errors.
#include <string>
#include <utility>
#include <variant>

namespace replywatch {

struct Error {
  std::string reason;   // short machine-readable reason, e.g. "io", "parse_error"
  std::string message;  // one plain sentence for humans and logs
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  // By value: a reference into a temporary Result would dangle (e.g. in a range-for).
  T value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return std::get<0>(v_); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

inline Error makeError(std::string reason, std::string message) {
  return Error{std::move(reason), std::move(message)};
}

}  // namespace replywatch

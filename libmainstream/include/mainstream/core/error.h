// Errors as values with a human sentence, thrown as exceptions.
//
// Two kinds matter to the tools: bad input (a file, flag or field the user can
// fix; exit code 2) and runtime failures (exit code 1). MS_CHECK builds the
// message with fmt and never disappears in release builds.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace mainstream {

enum class ErrorKind { kInput, kRuntime };

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string message)
      : std::runtime_error(std::move(message)), kind_(kind) {}
  ErrorKind kind() const { return kind_; }
  bool is_input() const { return kind_ == ErrorKind::kInput; }

 private:
  ErrorKind kind_;
};

// Bad input: a file, flag or field that the user can fix.
class InputError : public Error {
 public:
  explicit InputError(std::string message) : Error(ErrorKind::kInput, std::move(message)) {}
};

// Something went wrong while doing valid work (I/O failure, numerical fault).
class RuntimeError : public Error {
 public:
  explicit RuntimeError(std::string message) : Error(ErrorKind::kRuntime, std::move(message)) {}
};

template <typename... Args>
[[noreturn]] void ThrowInput(fmt::format_string<Args...> f, Args&&... args) {
  throw InputError(fmt::format(f, std::forward<Args>(args)...));
}

template <typename... Args>
[[noreturn]] void ThrowRuntime(fmt::format_string<Args...> f, Args&&... args) {
  throw RuntimeError(fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace mainstream

// MS_CHECK(cond, "fmt", args...) throws InputError when cond is false.
#define MS_CHECK(cond, ...)                                   \
  do {                                                        \
    if (!(cond)) ::mainstream::ThrowInput(__VA_ARGS__);       \
  } while (0)

// MS_CHECK_RT(cond, "fmt", args...) throws RuntimeError when cond is false.
#define MS_CHECK_RT(cond, ...)                                \
  do {                                                        \
    if (!(cond)) ::mainstream::ThrowRuntime(__VA_ARGS__);     \
  } while (0)

// Errors as values with a human sentence, thrown as exceptions.
//
// Three kinds matter to the tools: bad input (a file, flag or field the user
// can fix; exit code 2), runtime failures (exit code 1) and internal errors (a
// broken invariant: a bug in mainstream, not the user's input; exit code 3).
// MS_CHECK (input), MS_CHECK_RT (runtime) and MS_ASSERT (internal) build the
// message with fmt and never disappear in release builds.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace mainstream {

enum class ErrorKind { kInput, kRuntime, kInternal };

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

// A budget no schedule fits: bad input to the tools (exit 2), but an expected
// outcome to code that searches many budgets (msschedule simulate scores it as
// infeasible and lets every other error through).
class InfeasibleError : public InputError {
 public:
  explicit InfeasibleError(std::string message) : InputError(std::move(message)) {}
};

// A broken internal invariant: a bug, never the user's input.
class InternalError : public Error {
 public:
  explicit InternalError(std::string message) : Error(ErrorKind::kInternal, std::move(message)) {}
};

template <typename... Args>
[[noreturn]] void ThrowInput(fmt::format_string<Args...> f, Args&&... args) {
  throw InputError(fmt::format(f, std::forward<Args>(args)...));
}

template <typename... Args>
[[noreturn]] void ThrowRuntime(fmt::format_string<Args...> f, Args&&... args) {
  throw RuntimeError(fmt::format(f, std::forward<Args>(args)...));
}

template <typename... Args>
[[noreturn]] void ThrowInfeasible(fmt::format_string<Args...> f, Args&&... args) {
  throw InfeasibleError(fmt::format(f, std::forward<Args>(args)...));
}

template <typename... Args>
[[noreturn]] void ThrowInternal(const char* file, int line, fmt::format_string<Args...> f,
                                Args&&... args) {
  throw InternalError(
      fmt::format("{} ({}:{})", fmt::format(f, std::forward<Args>(args)...), file, line));
}

}  // namespace mainstream

// MS_CHECK(cond, "fmt", args...) throws InputError when cond is false.
#define MS_CHECK(cond, ...)                             \
  do {                                                  \
    if (!(cond)) ::mainstream::ThrowInput(__VA_ARGS__); \
  } while (0)

// MS_CHECK_RT(cond, "fmt", args...) throws RuntimeError when cond is false.
#define MS_CHECK_RT(cond, ...)                            \
  do {                                                    \
    if (!(cond)) ::mainstream::ThrowRuntime(__VA_ARGS__); \
  } while (0)

// MS_ASSERT(cond, "fmt", args...) throws InternalError (with the source
// location) when cond is false: for invariants of the code, never for input.
#define MS_ASSERT(cond, ...)                                                   \
  do {                                                                         \
    if (!(cond)) ::mainstream::ThrowInternal(__FILE__, __LINE__, __VA_ARGS__); \
  } while (0)

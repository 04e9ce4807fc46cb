// Helpers shared by the libFuzzer targets (fuzz/fuzz_*.cpp; docs/fuzzing.md).
//
// Every target feeds its input to a reader of an outside file and accepts
// exactly the documented outcome of bad input, mainstream::InputError (which
// includes InfeasibleError). Anything else leaving the reader (a
// std::exception from nlohmann or the standard library, InternalError,
// RuntimeError, a crash, a sanitizer report, a leak, a hang) is a finding;
// so is a file that a reader accepted but that does not survive being
// written and read again (Finding()).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "mainstream/core/error.h"
#include "mainstream/core/log.h"

namespace mainstream::fuzz {

// Multi-file inputs (a schedule with its base and packages, say) are the
// files one after another, separated by this line.
inline constexpr std::string_view kPartSeparator = "\n----\n";

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return size == 0 ? std::string_view()
                   : std::string_view(reinterpret_cast<const char*>(data), size);
}

// The parts of `text` between separator lines, at most `max_parts` (the last
// part keeps any further separators).
inline std::vector<std::string_view> SplitParts(std::string_view text, size_t max_parts) {
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max_parts) {
    const size_t at = text.find(kPartSeparator);
    if (at == std::string_view::npos) break;
    parts.push_back(text.substr(0, at));
    text.remove_prefix(at + kPartSeparator.size());
  }
  parts.push_back(text);
  return parts;
}

// A directory of this process under the temporary directory ($TMPDIR;
// scripts/fuzz.sh points it at /dev/shm), removed at normal exit.
class Scratch {
 public:
  static const std::filesystem::path& Dir() {
    static Scratch scratch;
    return scratch.dir_;
  }
  // An empty directory `name` inside Dir(): what an earlier input left there
  // is removed, so that every input runs alike.
  static std::filesystem::path Fresh(const std::string& name) {
    const std::filesystem::path d = Dir() / name;
    std::filesystem::remove_all(d);
    std::filesystem::create_directories(d);
    return d;
  }

 private:
  Scratch()
      : dir_(std::filesystem::temp_directory_path() /
             ("mainstream-fuzz-" + std::to_string(static_cast<long>(::getpid())))) {
    std::filesystem::create_directories(dir_);
  }
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::filesystem::path dir_;
};

inline void WriteFile(const std::filesystem::path& file, std::string_view text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!out) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", file.c_str());
    std::abort();
  }
}

// Runs `read`; false when it threw InputError (bad input, as documented).
// With MAINSTREAM_FUZZ_VERBOSE=1 in the environment the error is printed (to
// see why a seed is rejected).
template <typename F>
bool Accepts(F&& read) {
  static const bool verbose = std::getenv("MAINSTREAM_FUZZ_VERBOSE") != nullptr;
  try {
    read();
    return true;
  } catch (const InputError& e) {
    if (verbose) std::fprintf(stderr, "InputError: %s\n", e.what());
    return false;
  }
}

// Something a reader must never do (e.g. reject a file it wrote from what it
// read): reported like a crash.
[[noreturn]] inline void Finding(const std::string& what) {
  std::fprintf(stderr, "fuzz finding: %s\n", what.c_str());
  std::abort();
}

// Readers log warnings for odd but valid input: not at every execution.
inline int Quiet() {
  SetLogLevel(LogLevel::kQuiet);
  return 0;
}

}  // namespace mainstream::fuzz

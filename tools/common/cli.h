// CLI11 glue shared by the tools: common flags and the entry wrapper that maps
// errors to exit codes (0 ok, 1 runtime failure, 2 bad usage or input).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <string>

namespace mainstream::cli {

struct CommonFlags {
  int threads = 0;  // 0: all hardware threads
  uint64_t seed = 1;
  std::string log_level = "info";
  // Resolved thread count (after Apply()).
  int ResolvedThreads() const;
};

// Adds --threads, --seed, --log-level to `app` (and its subcommands if
// `fallthrough`), plus --version.
void AddCommonFlags(CLI::App& app, CommonFlags& flags);
// Applies --log-level; validates --threads.
void ApplyCommonFlags(const CommonFlags& flags);

// Runs `body` and maps exceptions to exit codes with a one-line message on
// stderr: "<tool>: error: <file>: <field>: <problem>".
int RunMain(const char* tool, const std::function<int()>& body);

// Parses argv with CLI11 inside RunMain's conventions: --help exits 0,
// a usage error prints the message and a hint and exits 2.
// Returns -1 when parsing succeeded and the tool should continue.
int Parse(CLI::App& app, int argc, char** argv);

std::string Version();

}  // namespace mainstream::cli

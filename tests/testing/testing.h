// Small fakes and helpers shared by the tests: temporary directories,
// running the built tools, synthetic packages and profiles.
#pragma once

#include <gtest/gtest.h>

#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "mainstream/core/error.h"
#include "mainstream/package/mpackage.h"
#include "mainstream/profile/profile.h"
#include "mainstream/schedule/problem.h"

namespace mainstream::testing {

// A fresh directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// The message of the InputError that f() throws; a test failure (and "")
// when it throws something else or nothing.
template <typename F>
std::string InputErrorOf(F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected InputError, got: " << e.what();
    return {};
  }
  ADD_FAILURE() << "expected InputError, nothing was thrown";
  return {};
}

// Expects f() to throw InputError whose message contains every fragment.
template <typename F>
void ExpectInputError(F&& f, const std::vector<std::string>& fragments) {
  const std::string message = InputErrorOf(std::forward<F>(f));
  for (const auto& fragment : fragments)
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
}

void WriteText(const std::filesystem::path& file, const std::string& text);
std::string ReadText(const std::filesystem::path& file);
// Reads `file` every 50 ms for up to `seconds` until it holds every text
// (a log that a process started in the background writes); false on time-out.
bool WaitForText(const std::filesystem::path& file, const std::vector<std::string>& texts,
                 double seconds);

struct ToolResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs `<build>/tools/<tool>/<tool> args` through the shell (args are
// already quoted as needed) and captures stdout, stderr and the exit code.
ToolResult RunTool(const std::string& tool, const std::string& args);
// Runs a bash script and captures its stdout, stderr and exit code.
ToolResult RunShell(const std::string& script);

// A synthetic base: `stages` stages with latencies 1..stages ms (shuffled by seed).
Profile SyntheticProfile(int stages, uint64_t seed, double decode_ms = 0.5);

// A synthetic app on that base: accuracy rising with specialization.
MPackage SyntheticPackage(const std::string& app, const Profile& profile, uint64_t seed,
                          double stream_fps = 10);

// A microclassifier candidate at `layer` (crop [1, 4) x [0, 3), 8 channels,
// cost_ms beside a 2 ms whole base), accuracy the mean of TPR and 1 - FPR.
Candidate MicroCandidate(int layer, double tpr, double fpr, double cost_ms = 0.01);

// A random scheduling problem for search tests; budget_fraction places the
// budget between the cheapest schedule (0) and no sharing at full rate (1).
ScheduleProblem RandomProblem(uint64_t seed, int apps, int stages, int candidates, int rates,
                              double budget_fraction, std::vector<int> x_options = {1});

}  // namespace mainstream::testing

// A clean stop on SIGINT / SIGTERM for long jobs (msrun's frame loop,
// mstrain's training): the handler only records the signal; the job polls
// it at safe points, finishes what it must to leave its outputs complete or
// untouched, and ends with exit code 128 + signal.
//   InstallStopHandlers();
//   ... if (StopRequested()) throw Interrupted(StopRequested(), "stopped after ...");
#pragma once

#include <atomic>
#include <string>

#include "mainstream/core/error.h"

namespace mainstream {

// Installs SIGINT and SIGTERM handlers that store the signal number in
// *StopSignal(); a second signal of either kind terminates the process as
// usual. They replace an inherited SIG_IGN too: a job started in the
// background by a script (where SIGINT is ignored) still stops on it.
// Idempotent.
void InstallStopHandlers();
const std::atomic<int>* StopSignal();
// The signal received since InstallStopHandlers (0: none).
int StopRequested();

// Thrown by a job that stopped at a signal; tools exit with 128 + signal().
class Interrupted : public RuntimeError {
 public:
  Interrupted(int signal, const std::string& what) : RuntimeError(what), signal_(signal) {}
  int signal() const { return signal_; }

 private:
  int signal_;
};

}  // namespace mainstream

#include "mainstream/core/stop.h"

#include <csignal>

namespace mainstream {
namespace {

std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free,
              "the stop flag must be usable from a signal handler");

extern "C" void OnStopSignal(int sig) { g_stop_signal.store(sig); }

}  // namespace

void InstallStopHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;  // a second signal terminates as usual
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

const std::atomic<int>* StopSignal() { return &g_stop_signal; }

int StopRequested() { return g_stop_signal.load(); }

}  // namespace mainstream

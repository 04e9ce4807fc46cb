#include "cli.h"

#include <cstdio>
#include <new>
#include <thread>

#include "mainstream/core/error.h"
#include "mainstream/core/log.h"
#include "mainstream/core/rss.h"
#include "mainstream/core/stop.h"

namespace mainstream::cli {

std::string Version() { return MAINSTREAM_VERSION; }

int CommonFlags::ResolvedThreads() const {
  if (threads > 0) return threads;
  unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

void AddCommonFlags(CLI::App& app, CommonFlags& flags) {
  app.add_option("--threads", flags.threads, "Worker threads (0 = all cores)")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  app.add_option("--seed", flags.seed, "Random seed (same seed, same inputs: same outputs)")
      ->capture_default_str();
  app.add_option("--log-level", flags.log_level,
                 "Logging on stderr: debug, info, warn, error, quiet")
      ->check(CLI::IsMember({"debug", "info", "warn", "warning", "error", "quiet"}))
      ->capture_default_str();
  app.set_version_flag("--version", Version());
  app.fallthrough();  // subcommands accept the common flags too
}

void ApplyCommonFlags(const CommonFlags& flags) {
  SetLogLevel(ParseLogLevel(flags.log_level));
  // Before any tensor exists: training, profiling and running allocate
  // alike, so a profile and the runs it predicts see the same allocator.
  KeepFreedMemoryInTheHeap();
}

int Parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
    return -1;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: error: %s\nRun '%s --help' for usage.\n", app.get_name().c_str(),
                 e.what(), app.get_name().c_str());
    return 2;
  }
}

int RunMain(const char* tool, const std::function<int()>& body) {
  try {
    return body();
  } catch (const InputError& e) {
    std::fprintf(stderr, "%s: error: %s\n", tool, e.what());
    return 2;
  } catch (const Interrupted& e) {
    std::fprintf(stderr, "%s: stopped: %s\n", tool, e.what());
    return 128 + e.signal();
  } catch (const InternalError& e) {
    std::fprintf(
        stderr,
        "%s: internal error (a bug in mainstream, not in your input; please report it): %s\n", tool,
        e.what());
    return 3;
  } catch (const Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", tool, e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "%s: error: out of memory\n", tool);
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", tool, e.what());
    return 1;
  }
}

}  // namespace mainstream::cli

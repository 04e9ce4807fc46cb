#include "mainstream/model/machine.h"

#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <sys/utsname.h>
#include <torch/version.h>

#include <fstream>
#include <mutex>
#include <opencv2/core/version.hpp>
#include <set>
#include <thread>

#include "mainstream/core/error.h"
#include "mainstream/core/log.h"

namespace mainstream {
namespace {

std::once_flag g_interop_once;

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

// "MKL-DNN v2.6.3" in at::show_config(); empty if absent.
std::string OneDnnVersion() {
  std::string cfg = at::show_config();
  auto pos = cfg.find("MKL-DNN v");
  if (pos == std::string::npos) pos = cfg.find("oneDNN v");
  if (pos == std::string::npos) return "";
  pos = cfg.find('v', pos) + 1;
  auto end = cfg.find_first_of(" \n(", pos);
  return cfg.substr(pos, end - pos);
}

}  // namespace

int SetTorchThreads(int threads) {
  MS_CHECK(threads >= 1, "--threads: LibTorch needs at least 1 thread, got {}", threads);
  at::set_num_threads(threads);
  std::call_once(g_interop_once, [threads] {
    try {
      at::set_num_interop_threads(threads);
    } catch (const std::exception& e) {
      // Already fixed by earlier parallel work in this process: keep it.
      LogDebug("inter-op threads stay at {}: {}", at::get_num_interop_threads(), e.what());
    }
  });
  return at::get_num_threads();
}

int GetTorchThreads() { return at::get_num_threads(); }
int GetTorchInteropThreads() { return at::get_num_interop_threads(); }

Json DescribeMachine() {
  Json m = Json::object();
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line, model;
  std::set<std::string> cores;  // "physical id:core id"
  std::string phys;
  while (std::getline(cpuinfo, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = Trim(line.substr(0, colon)), value = Trim(line.substr(colon + 1));
    if (key == "model name" && model.empty()) model = value;
    if (key == "physical id") phys = value;
    if (key == "core id") cores.insert(phys + ":" + value);
  }
  m["cpu_model"] = model.empty() ? "unknown" : model;
  m["logical_cpus"] = std::thread::hardware_concurrency();
  if (!cores.empty()) m["physical_cores"] = cores.size();
  struct utsname u {};
  if (::uname(&u) == 0) m["os"] = fmt::format("{} {} {}", u.sysname, u.release, u.machine);
  m["libtorch"] = TORCH_VERSION;
  m["onednn"] = OneDnnVersion();
  m["mkldnn_enabled"] = at::hasMKLDNN();
  m["opencv"] = CV_VERSION;
#if defined(__clang__)
  m["compiler"] = fmt::format("clang {}", __clang_version__);
#elif defined(__GNUC__)
  m["compiler"] = fmt::format("gcc {}", __VERSION__);
#endif
  std::ifstream loadavg("/proc/loadavg");
  double l1 = 0, l5 = 0, l15 = 0;
  if (loadavg >> l1 >> l5 >> l15) m["load_average"] = {l1, l5, l15};
  m["torch_threads"] = at::get_num_threads();
  m["torch_interop_threads"] = at::get_num_interop_threads();
  std::string par = at::get_parallel_info();
  auto pos = par.find("ATen parallel backend: ");
  if (pos != std::string::npos) {
    pos += 23;
    m["parallel_backend"] = Trim(par.substr(pos, par.find('\n', pos) - pos));
  }
  return m;
}

}  // namespace mainstream

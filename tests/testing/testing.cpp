#include "testing/testing.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "mainstream/core/random.h"

namespace fs = std::filesystem;

namespace mainstream::testing {

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "mstest.XXXXXX").string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  char* made = ::mkdtemp(buf.data());
  if (made == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = made;
}

TempDir::~TempDir() {
  if (std::getenv("MS_KEEP_TMP") != nullptr) return;  // debugging: keep the files
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void WriteText(const fs::path& file, const std::string& text) {
  if (!file.parent_path().empty()) fs::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::binary);
  out << text;
}

std::string ReadText(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool WaitForText(const fs::path& file, const std::vector<std::string>& texts, double seconds) {
  for (int i = 0; i < seconds * 20; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const std::string text = ReadText(file);
    if (std::all_of(texts.begin(), texts.end(),
                    [&](const std::string& t) { return text.find(t) != std::string::npos; }))
      return true;
  }
  return false;
}

namespace {

// Runs a shell command line with stdout and stderr captured.
ToolResult RunCaptured(const std::string& command) {
  TempDir tmp;
  const std::string cmd =
      command + " > " + (tmp / "out").string() + " 2> " + (tmp / "err").string();
  const int status = std::system(cmd.c_str());
  ToolResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadText(tmp / "out");
  r.err = ReadText(tmp / "err");
  return r;
}

}  // namespace

ToolResult RunTool(const std::string& tool, const std::string& args) {
  const fs::path exe = fs::path(MS_TOOLS_DIR) / tool / tool;
  return RunCaptured(exe.string() + " " + args);
}

ToolResult RunShell(const std::string& script) {
  TempDir tmp;
  WriteText(tmp / "script.sh", script);
  return RunCaptured("bash " + (tmp / "script.sh").string());
}

Profile SyntheticProfile(int stages, uint64_t seed, double decode_ms) {
  Rng rng(seed);
  Profile p;
  p.base = BaseRef{"synthetic", "0123456789abcdef" + std::to_string(seed), stages};
  p.threads = 1;
  p.decode_ms = decode_ms;
  p.preprocess_ms = 0.5 * decode_ms;
  for (int k = 0; k < stages; ++k) {
    double t = 0.5 + 2.0 * rng.Uniform();
    p.stages.push_back(StageTiming{"s" + std::to_string(k), t, t * 1.1});
  }
  p.whole_model_p50_ms = p.TotalStageMs();
  return p;
}

Candidate MicroCandidate(int layer, double tpr, double fpr, double cost_ms) {
  Candidate c;
  c.kind = CandidateKind::kMicro;
  c.branchpoint = layer;
  c.tpr = tpr;
  c.fpr = fpr;
  c.accuracy = 0.5 * (tpr + 1 - fpr);
  c.weights = CandidateKey(CandidateKind::kMicro, layer) + ".pt";
  c.micro.x0 = 1;
  c.micro.y0 = 0;
  c.micro.x1 = 4;
  c.micro.y1 = 3;
  c.micro.channels = 8;
  c.micro.cost_ms = cost_ms;
  c.micro.reference_ms = 2.0;
  c.micro.param_bytes = 1234;
  return c;
}

MPackage SyntheticPackage(const std::string& app, const Profile& profile, uint64_t seed,
                          double stream_fps) {
  Rng rng(seed);
  MPackage p;
  p.app = app;
  p.base = profile.base;
  p.stream_fps = stream_fps;
  p.events.mean_length = rng.Uniform(3, 40);
  p.events.min_length = p.events.mean_length * rng.Uniform(0.3, 1.0);
  p.events.frequency = rng.Uniform(0.05, 0.4);
  p.events.correlation = rng.Uniform(0, 0.6);
  const int n = profile.base.num_stages;
  double base_acc = rng.Uniform(0.55, 0.75);
  for (int b = 0; b < n; ++b) {
    Candidate c;
    c.branchpoint = b;
    double spec = 1.0 - static_cast<double>(b) / n;  // fraction specialized
    c.tpr = std::min(0.99, base_acc + 0.3 * spec + 0.02 * rng.Uniform());
    c.fpr = std::max(0.01, 0.4 - 0.35 * spec + 0.02 * rng.Uniform());
    c.accuracy = 0.5 * (c.tpr + 1 - c.fpr);
    p.candidates.push_back(c);
  }
  return p;
}

ScheduleProblem RandomProblem(uint64_t seed, int apps, int stages, int candidates, int rates,
                              double budget_fraction, std::vector<int> x_options) {
  Profile prof = SyntheticProfile(stages, seed);
  ScheduleProblem problem;
  problem.costs = StageCosts(prof.StageLatencies(), prof.preprocess_ms, prof.decode_ms, rates);
  Rng rng(seed * 7 + 1);
  OptionSpace space;
  space.stream_fps = rates;
  space.fps_options = DefaultFpsOptions(rates);
  space.x_options = std::move(x_options);
  double max_cost = 0;
  for (int i = 0; i < apps; ++i) {
    MPackage p = SyntheticPackage("app" + std::to_string(i), prof,
                                  seed * 131 + static_cast<uint64_t>(i), rates);
    // keep a random subset of branchpoints as the candidates
    std::vector<Candidate> keep;
    std::vector<int> idx(p.candidates.size());
    for (size_t k = 0; k < idx.size(); ++k) idx[k] = static_cast<int>(k);
    for (size_t k = idx.size(); k > 1; --k) std::swap(idx[k - 1], idx[rng.Index(k)]);
    idx.resize(static_cast<size_t>(std::min<int>(candidates, static_cast<int>(idx.size()))));
    std::sort(idx.begin(), idx.end());
    for (int k : idx) keep.push_back(p.candidates[static_cast<size_t>(k)]);
    problem.apps.push_back(BuildAppChoices(p.app, keep, p.events, space));
    max_cost += prof.TotalStageMs() * rates;
  }
  // budget_fraction places the budget between the cheapest schedule (0) and
  // every app fully specialized at the stream rate (1).
  problem.budget = 1e18;
  double cheapest = CheapestSolution(problem).cost;
  double most = max_cost + (prof.preprocess_ms + prof.decode_ms) * rates;
  problem.budget = cheapest + budget_fraction * (most - cheapest);
  return problem;
}

}  // namespace mainstream::testing

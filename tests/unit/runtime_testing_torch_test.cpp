// The runtime tests' shared scenario (runtime_testing.h) and a check that it
// is what the other tests assume.
#include <gtest/gtest.h>
#include <torch/script.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "mainstream/labels/events.h"
#include "mainstream/model/base_model.h"
#include "mainstream/model/suffix.h"
#include "mainstream/package/mpackage.h"
#include "mainstream/profile/profile.h"
#include "mainstream/schedule/deployment_spec.h"
#include "mainstream/schedule/event_model.h"
#include "mainstream/schedule/memory_model.h"
#include "runtime_testing.h"
#include "testing/testing.h"

namespace fs = std::filesystem;

namespace mainstream::testing {

DefaultBaseOptions TinyBaseOptions() {
  DefaultBaseOptions o;
  o.name = "tiny";
  o.width = 64;
  o.height = 48;
  o.width_mult = 0.25;
  o.last_channel = 64;
  o.num_classes = 3;
  return o;
}

namespace {

FrameLabels ToFrameLabels(const std::vector<int>& labels) {
  FrameLabels out;
  for (int l : labels) out.push_back(static_cast<uint8_t>(l));
  return out;
}

}  // namespace

void WriteScenarioSchedule(const RuntimeScenario& s, const std::vector<AppSpec>& apps,
                           const fs::path& file) {
  ScheduleDoc d;
  d.budget = 1000;
  d.algorithm = "greedy";
  d.stream_fps = s.video.spec.fps;
  d.base = s.base.ref();
  d.profile = "synthetic";
  const int n = s.base.num_stages();
  d.costs = StageCosts(std::vector<double>(static_cast<size_t>(n), 1.0), 0.5);
  d.stage_names = s.base.stage_names();
  for (const AppSpec& spec : apps) {
    const fs::path dir = s.dir / "pk" / spec.name;
    MPackage p = ReadMPackage(dir);
    ScheduledApp a;
    a.app = spec.name;
    a.package = dir;
    for (size_t c = 0; c < p.candidates.size(); ++c) {
      if (p.candidates[c].branchpoint == spec.branchpoint) a.candidate = static_cast<int>(c);
    }
    const Candidate& c = p.candidates[static_cast<size_t>(a.candidate)];
    a.branchpoint = c.branchpoint;
    a.fps = spec.fps;
    a.x_vote = spec.x_vote;
    a.tpr = c.tpr;
    a.fpr = c.fpr;
    a.threshold = c.threshold;
    a.weights = c.weights;
    a.predicted = PredictCandidate(c, p.events, nullptr, d.stream_fps / spec.fps, spec.x_vote);
    a.own_cost = spec.fps * d.costs.Range(a.branchpoint, n);
    d.apps.push_back(a);
  }
  d.tree = BuildMergedTree(d.costs, d.Requests());
  d.total_cost = d.tree.total_cost();
  double f1 = 0;
  for (const auto& a : d.apps) f1 += a.predicted.f1;
  d.mean_f1 = f1 / static_cast<double>(d.apps.size());
  WriteSchedule(d, file);
}

RuntimeScenario MakeRuntimeScenario(const fs::path& dir, const std::vector<AppSpec>& apps,
                                    const SyntheticVideoSpec& video) {
  RuntimeScenario s;
  s.dir = dir;
  s.apps = apps;
  s.base_dir = dir / "base";
  s.base = CreateDefaultBase(s.base_dir, TinyBaseOptions());
  BaseModel base = BaseModel::Load(s.base_dir);
  const int n = base.num_stages();

  s.video = WriteSyntheticVideo(dir / "video.avi", video);
  s.labels = dir / "labels.csv";
  WriteLabelsCsv(s.video, s.labels);
  EventStats stats = EventStatsFromLabels(ToFrameLabels(s.video.labels), s.labels.string());
  stats.correlation = 0.3;

  for (size_t i = 0; i < apps.size(); ++i) {
    const AppSpec& spec = apps[i];
    const fs::path pk = dir / "pk" / spec.name;
    fs::create_directories(pk);
    SuffixOptions so;
    so.dropout = 0;
    so.seed = 100 + i;
    torch::jit::Module suffix = BuildSuffix(base, spec.branchpoint, so);
    {
      torch::NoGradGuard ng;
      for (const auto& p : suffix.named_parameters()) {
        if (p.name.size() >= 11 && p.name.compare(p.name.size() - 11, 11, "head.weight") == 0)
          p.value.mul_(60);
      }
    }
    const std::string weights = "bp" + std::to_string(spec.branchpoint) + ".pt";
    SaveModule(suffix, pk / weights);
    MPackage p;
    p.app = spec.name;
    p.base = base.ref();
    p.stream_fps = video.fps;
    p.events = stats;
    p.head = Json{{"kind", "suffix-v1"}, {"num_outputs", 2}, {"score", "softmax1"}};
    Candidate c;
    c.branchpoint = spec.branchpoint;
    c.accuracy = 0.9;
    c.tpr = 0.8;
    c.fpr = 0.1;
    c.threshold = spec.threshold;
    c.weights = weights;
    Candidate sim = c;  // a simulation-only candidate at another branchpoint
    sim.branchpoint = spec.branchpoint == n - 1 ? 0 : n - 1;
    sim.weights.clear();
    p.candidates = {c, sim};
    std::sort(p.candidates.begin(), p.candidates.end(),
              [](const Candidate& a, const Candidate& b) { return a.branchpoint < b.branchpoint; });
    WriteMPackageManifest(p, pk);
    s.packages.push_back(pk);
  }
  s.schedule = dir / "schedule.json";
  WriteScenarioSchedule(s, apps, s.schedule);
  return s;
}

fs::path PrepareScenarioForPlanning(const RuntimeScenario& s) {
  for (const fs::path& pk : s.packages) {
    MPackage p = ReadMPackage(pk);
    std::vector<Candidate> real;
    for (const Candidate& c : p.candidates)
      if (!c.weights.empty()) real.push_back(c);
    p.candidates = real;
    WriteMPackageManifest(p, pk);
  }
  Profile profile;
  profile.base = s.base.ref();
  for (const std::string& name : s.base.stage_names()) {
    StageTiming t;
    t.name = name;
    t.p50_ms = t.p95_ms = 1;
    profile.stages.push_back(t);
  }
  profile.decode_ms = 0.5;
  profile.preprocess_ms = 0.1;
  profile.input = "size:64x48";
  const fs::path file = s.dir / "profile.json";
  WriteProfile(profile, file);
  return file;
}

std::string DeploymentText(const fs::path& profile, const std::vector<fs::path>& packages,
                           const std::vector<double>& fps_options, double budget) {
  DeploymentSpec spec;
  spec.profile = profile;
  spec.budget = fmt::format("{}", budget);
  spec.fps_options = fps_options;
  spec.packages = packages;
  return spec.ToJson().dump();
}

std::vector<ScoredFrame> ReadScoredFrames(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);  // header: frame,time_s,score,positive
  std::vector<ScoredFrame> out;
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string frame, time, score, positive;
    std::getline(ss, frame, ',');
    std::getline(ss, time, ',');
    std::getline(ss, score, ',');
    std::getline(ss, positive, ',');
    out.push_back(ScoredFrame{std::stoll(frame), std::stod(score), std::stoi(positive)});
  }
  return out;
}

void MakeFirstCandidateMicro(const fs::path& manifest, const MicroCrop& crop, int channels) {
  Json j = ReadJsonFile(manifest);
  Json& c = j["candidates"][0];
  c["kind"] = "micro";
  c["micro"] = Json{{"crop", {crop.x0, crop.y0, crop.x1, crop.y1}},
                    {"channels", channels},
                    {"cost_ms", 0.01},
                    {"reference_ms", 1.0},
                    {"param_bytes", 100}};
  WriteJsonFileAtomic(manifest, j);
}

void ScheduleAppAsMicro(const fs::path& schedule, size_t app) {
  ScheduleDoc doc = ReadSchedule(schedule);
  doc.apps.at(app).kind = CandidateKind::kMicro;
  doc.apps[app].own_ms = 0.01;
  doc.apps[app].own_bytes = 100;
  doc.tree = BuildMergedTree(doc.costs, doc.Requests());
  doc.total_cost = doc.tree.total_cost();
  doc.predicted_memory = ScheduleMemory(doc.memory, doc.Requests());
  WriteSchedule(doc, schedule);
}

std::vector<TreeExecutor::FrameTask> EveryNodeTasks(const TreeExecutor& ex, const float* data,
                                                    int frames) {
  const size_t floats = ex.preprocess().floats_per_frame();
  std::vector<TreeExecutor::FrameTask> tasks(static_cast<size_t>(frames));
  for (size_t f = 0; f < tasks.size(); ++f) {
    tasks[f].input = data + f * floats;
    for (int k = 0; k < ex.num_nodes(); ++k) tasks[f].nodes.push_back(k);
  }
  return tasks;
}

std::vector<Json> ReadJsonLines(const fs::path& file) {
  std::ifstream in(file);
  std::vector<Json> out;
  std::string line;
  while (std::getline(in, line)) out.push_back(Json::parse(line));
  return out;
}

namespace {

TEST(RuntimeScenario, WritesALoadableDeployment) {
  TempDir tmp;
  RuntimeScenario s =
      MakeRuntimeScenario(tmp.path(), {{"a", 3, 5}, {"b", 7, 10}}, SyntheticVideoSpec{64, 48, 20});
  ScheduleDoc d = ReadSchedule(s.schedule);
  ASSERT_EQ(d.apps.size(), 2u);
  EXPECT_EQ(d.apps[1].branchpoint, 7);
  EXPECT_EQ(d.apps[1].weights, "bp7.pt");
  EXPECT_EQ(d.base.sha256, s.base.sha256);
  EXPECT_TRUE(fs::exists(s.packages[0] / "bp3.pt"));
  EXPECT_EQ(s.video.labels.size(), 20u);
}

}  // namespace
}  // namespace mainstream::testing

// Writes the valid seeds of fuzz/corpus/ with mainstream's own writers, so
// that they follow the formats as the tools write them (the invalid seeds and
// the regression inputs of findings are committed as they are):
//
//   build-fuzz/fuzz/fuzz_make_corpus fuzz/corpus
//
// Every seed is small (a few KB): a 6-stage base, packages with three
// candidates and a 60-frame trace, a two- or three-app schedule.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "mainstream/core/json_io.h"
#include "mainstream/core/sha256.h"
#include "mainstream/labels/events.h"
#include "mainstream/labels/label_file.h"
#include "mainstream/labels/score_trace.h"
#include "mainstream/model/base_info.h"
#include "mainstream/runtime/app_output.h"
#include "mainstream/schedule/node_plan.h"
#include "mainstream/schedule/schedule_doc.h"
#include "mainstream/train/candidate_store.h"
#include "mainstream/train/fmnist.h"

using namespace mainstream;
namespace fs = std::filesystem;

namespace {

const std::string kSep(fuzz::kPartSeparator);
const std::string kSha = std::string(64, 'a');

fs::path g_out;

void Put(const std::string& target, const std::string& name, const std::string& text) {
  fs::create_directories(g_out / target);
  fuzz::WriteFile(g_out / target / name, text);
  std::printf("%s/%s (%zu bytes)\n", target.c_str(), name.c_str(), text.size());
}

std::string ReadText(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Dump(const Json& j) { return j.dump(2) + "\n"; }

Profile MakeProfile(int stages) {
  Profile p;
  p.base = BaseRef{"fuzz-base", kSha, stages};
  p.machine = Json{{"cpu_model", "Fuzz CPU"}, {"cores", 2}};
  p.input = "size:32x24";
  p.decode_ms = 0.4;
  p.preprocess_ms = 0.2;
  for (int k = 0; k < stages; ++k) {
    StageTiming t;
    t.name = "s" + std::to_string(k);
    t.p50_ms = 0.5 + 0.25 * k;
    t.p95_ms = t.p50_ms * 1.2;
    p.stages.push_back(t);
  }
  p.whole_model_p50_ms = p.TotalStageMs();
  return p;
}

BaseInfo MakeBase(const Profile& profile) {
  BaseInfo b;
  b.name = profile.base.id;
  b.sha256 = profile.base.sha256;
  b.description = "a 6-stage toy base for the fuzz seeds";
  b.input.width = 32;
  b.input.height = 24;
  b.num_classes = 2;
  b.class_names = {"empty", "person"};
  int64_t channels = 8, h = 12, w = 16;
  for (size_t k = 0; k < profile.stages.size(); ++k) {
    StageInfo s;
    s.name = profile.stages[k].name;
    s.covers = {"features." + std::to_string(k)};
    if (k + 1 == profile.stages.size()) {
      s.output_shape = {b.num_classes};
    } else {
      s.output_shape = {channels, h, w};
      channels *= 2;
      h = std::max<int64_t>(1, h / 2);
      w = std::max<int64_t>(1, w / 2);
    }
    b.stages.push_back(s);
  }
  b.source = Json{{"tool", "fuzz_make_corpus"}};
  return b;
}

// 60 frames: rows 1-40 and 51-70 (a gap, as around a fold), two folds,
// events at 5-12, 25-27 and 55-64; scores rising with specialization.
ScoreTrace MakeTrace(const std::vector<int>& branchpoints) {
  ScoreTrace t;
  t.columns = BranchKeys(branchpoints);
  t.scores.resize(branchpoints.size());
  uint32_t state = 12345;
  for (int64_t f = 1; f <= 70; ++f) {
    if (f > 40 && f <= 50) continue;
    const bool event = (f >= 5 && f <= 12) || (f >= 25 && f <= 27) || (f >= 55 && f <= 64);
    t.frames.push_back(f);
    t.labels.push_back(event ? 1 : 0);
    t.folds.push_back(f <= 40 ? 0 : 1);
    for (size_t c = 0; c < branchpoints.size(); ++c) {
      state = state * 1103515245u + 12345u;
      const double noise = static_cast<double>((state >> 8) % 1000) / 1000.0;
      const double skill = 0.5 - 0.1 * static_cast<double>(c);
      t.scores[c].push_back(static_cast<float>(event ? 1 - skill * noise : skill * noise));
    }
  }
  return t;
}

MPackage MakePackage(const std::string& app, const Profile& profile, const std::string& trace_text,
                     const ScoreTrace& trace) {
  MPackage p;
  p.app = app;
  p.base = profile.base;
  p.stream_fps = 10;
  p.events.mean_length = 7;
  p.events.min_length = 3;
  p.events.lengths = {8, 3, 10};
  p.events.frequency = 0.35;
  p.events.correlation = 0.6;
  const double tpr[] = {0.92, 0.85, 0.7}, fpr[] = {0.05, 0.09, 0.2};
  for (size_t c = 0; c < trace.columns.size(); ++c) {
    Candidate k;
    k.branchpoint = std::stoi(trace.columns[c].substr(2));
    k.accuracy = 0.9 - 0.05 * static_cast<double>(c);
    k.tpr = tpr[c % 3];
    k.fpr = fpr[c % 3];
    k.threshold = 0.5;
    k.weights = "bp" + std::to_string(k.branchpoint) + ".pt";
    k.train_seconds = 12.5;
    k.extra = Json{{"epochs", 3}};
    p.candidates.push_back(k);
  }
  TraceRef ref;
  ref.file = kScoreTraceFile;
  ref.sha256 = Sha256Hex(trace_text);
  ref.rows = static_cast<int64_t>(trace.rows());
  ref.events = static_cast<int64_t>(trace.Events().size());
  ref.folds = trace.num_folds();
  p.trace = ref;
  p.estimation = Json{{"method", "out-of-fold"}, {"folds", 2}};
  p.head = Json{{"kind", "spatial"}, {"channels", 16}};
  p.log = Json::array({Json{{"branchpoint", 4}, {"pruned", "dominated"}}});
  return p;
}

// An msrun summary of `doc` on `profile` measured at the profile's costs
// times `factor` (docs/formats.md, "Run summary"; the fields calibration reads).
Json MakeSummary(const Profile& profile, const ScheduleDoc& doc, double factor, int64_t frames) {
  Json nodes = Json::array();
  for (const TreeNode& n : doc.tree.nodes) {
    const double expected = n.fps * static_cast<double>(frames) / doc.stream_fps;
    nodes.push_back(Json{{"id", n.id},
                         {"kind", n.kind == TreeNode::Kind::kStem ? "stem" : "branch"},
                         {"stages", {n.begin, n.end}},
                         {"fps", n.fps},
                         {"predicted_cost", n.cost()},
                         {"measured_cost", n.cost() * factor},
                         {"expected_executions", expected},
                         {"executions", static_cast<int64_t>(expected + 0.5)}});
  }
  const double seconds = static_cast<double>(frames) / doc.stream_fps;
  return Json{
      {"schema_version", 1},
      {"kind", "mainstream.run"},
      {"status", "completed"},
      {"error", nullptr},
      {"base", profile.base.ToJson()},
      {"machine", Json{{"description", Json{{"cpu_model", "Fuzz CPU"}}},
                       {"torch_threads", 1},
                       {"branch_workers", 1}}},
      {"frames", Json{{"decoded", frames},
                      {"preprocessed", static_cast<int64_t>(doc.tree.max_fps * seconds)},
                      {"video_seconds", seconds}}},
      {"nodes", nodes},
      {"cost", Json{{"measured", Json{{"decode", doc.tree.decode_cost * factor},
                                      {"preprocess", doc.tree.preprocess_cost * factor}}}}}};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR  (e.g. fuzz/corpus)\n", argv[0]);
    return 2;
  }
  fuzz::Quiet();
  g_out = argv[1];
  const fs::path work = fuzz::Scratch::Fresh("make_corpus");

  // Profile, base, traces and packages.
  const Profile profile = MakeProfile(6);
  const std::string profile_text = Dump(profile.ToJson());
  Put("profile", "valid-6-stages.json", profile_text);
  Profile calibrated = profile;
  for (auto& s : calibrated.stages) s.branch_p50_ms = s.p50_ms * 1.3;
  calibrated.calibration = Json{{"factors", Json{{"stem", 1.1}, {"branch", 1.3}}}};
  Put("profile", "valid-calibrated.json", Dump(calibrated.ToJson()));

  const BaseInfo base = MakeBase(profile);
  const std::string base_text = Dump(base.ToJson());
  Put("base_info", "valid-6-stages.json", base_text);
  BaseInfo bgr = base;
  bgr.input.color = "bgr";
  bgr.input.interpolation = "area";
  bgr.class_names.clear();
  Put("base_info", "valid-bgr-area.json", Dump(bgr.ToJson()));

  std::vector<std::string> manifests, traces;
  std::vector<fs::path> packages;
  const std::vector<std::vector<int>> bps = {{0, 3, 5}, {1, 4}, {0, 2, 5}};
  const char* apps[] = {"left2", "door", "diamond2"};
  for (size_t a = 0; a < 3; ++a) {
    const ScoreTrace trace = MakeTrace(bps[a]);
    const std::string trace_text = FormatScoreTrace(trace);
    MPackage pkg = MakePackage(apps[a], profile, trace_text, trace);
    const fs::path dir = work / ("pkg" + std::to_string(a));
    fs::create_directories(dir);
    fuzz::WriteFile(dir / kScoreTraceFile, trace_text);
    WriteMPackageManifest(pkg, dir);
    manifests.push_back(ReadText(dir / kMPackageManifest));
    traces.push_back(trace_text);
    packages.push_back(dir);
  }
  Put("mpackage", "valid-trace.json", manifests[0]);
  Put("score_trace", "valid-3-columns.csv", traces[0]);
  Put("score_trace", "valid-2-columns.csv", traces[1]);
  {
    // A version-1 manifest: simulation only (no weights), no trace.
    MPackage v1 = ReadMPackage(packages[1]);
    v1.trace.reset();
    for (auto& c : v1.candidates) c.weights.clear();
    Json j = v1.ToJson();
    j["schema_version"] = 1;
    j.erase("trace");
    Put("mpackage", "valid-v1-simulation.json", Dump(j));
  }

  // Schedules planned from them, as msschedule writes them.
  fuzz::WriteFile(work / "profile.json", profile_text);
  ScheduleConfig config;
  config.profile = work / "profile.json";
  config.budget_factor = 1.5;
  config.fps_options = {2, 5, 10};
  config.packages = {packages[0], packages[1]};
  const ScheduleDoc two = PlanSchedule(config);
  WriteSchedule(two, work / "schedule2.json");
  const std::string schedule2 = ReadText(work / "schedule2.json");
  Put("schedule", "valid-greedy-2-apps.json", schedule2);
  config.packages = packages;
  config.algorithm = "greedy";
  config.x_options = {1, 2, 3};
  const ScheduleDoc three = PlanSchedule(config);
  WriteSchedule(three, work / "schedule3.json");
  const std::string schedule3 = ReadText(work / "schedule3.json");
  Put("schedule", "valid-greedy-3-apps-x-vote.json", schedule3);

  // msschedule plan's node.json: the two schedules as two cameras under one
  // budget, then the schedules (written beside it as cam0/cam1.schedule.json).
  {
    NodePlan node;
    node.algorithm = "greedy";
    node.cameras.push_back(NodeCamera{"cam0", "gate.avi", "cam0.schedule.json", two.budget, two});
    node.cameras.push_back(NodeCamera{"cam1", "", "cam1.schedule.json", three.budget, three});
    node.budget = two.budget + three.budget;
    node.cheapest_cost = two.cheapest_cost + three.cheapest_cost;
    node.total_cost = two.total_cost + three.total_cost;
    node.apps = two.apps.size() + three.apps.size();
    node.mean_f1 = (two.mean_f1 * 2 + three.mean_f1 * 3) / 5;
    node.min_f1 = std::min(two.min_f1, three.min_f1);
    node.searches = 12;
    node.seconds = 0.002;
    Put("node_plan", "valid-2-cameras.txt",
        Dump(node.ToJson()) + kSep + schedule2 + kSep + schedule3);
    node.cameras.pop_back();
    node.budget = two.budget;
    node.cheapest_cost = two.cheapest_cost;
    node.total_cost = two.total_cost;
    node.apps = two.apps.size();
    node.mean_f1 = two.mean_f1;
    node.min_f1 = two.min_f1;
    node.exact = true;
    node.bound_mean_f1 = two.mean_f1;
    node.gap = 0;
    Put("node_plan", "valid-1-camera-exact.txt", Dump(node.ToJson()) + kSep + schedule2);
  }

  // msschedule's inputs together.
  Put("plan", "valid-2-packages.txt",
      profile_text + kSep + manifests[0] + kSep + traces[0] + kSep + manifests[1] + kSep +
          traces[1]);
  Put("plan", "valid-1-package.txt", profile_text + kSep + manifests[2] + kSep + traces[2]);

  // Labels.
  FrameLabels labels(30, 0);
  for (int f : {3, 4, 5, 6, 14, 15, 22, 23, 24, 25, 26}) labels[static_cast<size_t>(f - 1)] = 1;
  const std::string labels_text = FormatLabelFile(labels);
  Put("label_file", "valid-30-frames.csv", labels_text);
  std::string crlf = "\xEF\xBB\xBF";
  for (char ch : FormatLabelFile(FrameLabels{1, 1, 0, 0, 1})) {
    if (ch == '\n') crlf += '\r';
    crlf += ch;
  }
  Put("label_file", "valid-bom-crlf.csv", crlf);

  // What msrun reads before the first frame.
  Put("deployment", "valid-2-apps.txt",
      schedule2 + kSep + base_text + kSep + labels_text + kSep + manifests[0] + kSep +
          manifests[1]);
  Put("deployment", "valid-3-apps.txt",
      schedule3 + kSep + base_text + kSep + labels_text + kSep + manifests[0] + kSep +
          manifests[1] + kSep + manifests[2]);

  // msprofile --calibrate: the profile and msrun summaries.
  Put("run_summary", "valid-1-run.txt",
      profile_text + kSep + Dump(MakeSummary(profile, two, 1.2, 300)));
  Put("run_summary", "valid-2-runs.txt",
      profile_text + kSep + Dump(MakeSummary(profile, two, 1.1, 200)) + kSep +
          Dump(MakeSummary(profile, three, 1.4, 400)));

  // Events files.
  std::string events_text;
  for (int64_t i = 0; i < 3; ++i) {
    ReportedEvent e;
    e.app = "left2";
    e.index = i;
    e.event.start = 10 + 40 * i;
    e.event.end = e.event.start + 6 + i;
    e.event.samples = 3 + i;
    e.event.peak_score = 0.9 - 0.1 * static_cast<double>(i);
    e.event.peak_frame = e.event.start + 1;
    e.reported_frame = e.event.start + 2;
    e.fps = 7;
    e.cut = i == 2;
    events_text += e.ToJson().dump() + "\n";
  }
  Put("events", "valid-3-events.jsonl", events_text);
  {
    ReportedEvent e;
    e.app = "door";
    e.event.start = e.event.end = e.reported_frame = 1;
    e.event.samples = 1;
    e.fps = 10;
    Put("events", "valid-no-scores.jsonl", e.ToJson().dump() + "\n\n");
  }

  // MOT ground truth.
  std::string gt;
  for (int f = 1; f <= 12; ++f) {
    for (int id = 1; id <= 3; ++id) {
      gt += std::to_string(f) + "," + std::to_string(id) + "," + std::to_string(100 * id + 3 * f) +
            "," + std::to_string(80 + 5 * id) + ",40,90,1,1,0.8\n";
    }
  }
  const std::string seqinfo =
      "[Sequence]\nname=FUZZ-01\nimDir=img1\nframeRate=7\nseqLength=15\nimWidth=768\n"
      "imHeight=576\nimExt=.jpg\n";
  Put("mot", "valid-9-fields-seqinfo.txt", gt + kSep + seqinfo);
  Put("mot", "valid-mot15-10-fields.txt",
      "1,1,10.5,20.25,30,60,-1,-1,-1,-1\n1,2,400,300,35,70,1,-1,-1,-1\n2,1,12,21,30,60,1,-1,-1,-1\n"
      "\n3,-1,5,5,10,10,0,-1,-1,-1\n");
  Put("mot", "valid-6-fields.txt", "1,1,10,20,30,60\n2,1,11,21,30,60\n900,7,1,1,2,2\n");

  // Fashion-MNIST: two items, gzip'd as Debian ships them, and plain.
  FashionMnistSet set;
  set.pixels.resize(2 * kFashionMnistSide * kFashionMnistSide);
  for (size_t i = 0; i < set.pixels.size(); ++i) set.pixels[i] = static_cast<uint8_t>(i * 7 % 251);
  set.labels = {3, 9};
  WriteFashionMnist(work / "fmnist", "train", set);
  const std::string images_gz = ReadText(FashionMnistImagesFile(work / "fmnist", "train"));
  const std::string labels_gz = ReadText(FashionMnistLabelsFile(work / "fmnist", "train"));
  if (images_gz.find(kSep) != std::string::npos || labels_gz.find(kSep) != std::string::npos) {
    std::fprintf(stderr, "make_corpus: the gzip data holds the part separator\n");
    return 1;
  }
  Put("fmnist", "valid-2-items-gz.bin", images_gz + kSep + labels_gz);
  const std::vector<uint8_t> images =
      ReadGzipFile(FashionMnistImagesFile(work / "fmnist", "train"));
  const std::vector<uint8_t> label_bytes =
      ReadGzipFile(FashionMnistLabelsFile(work / "fmnist", "train"));
  Put("fmnist", "valid-2-items-plain.bin",
      std::string(images.begin(), images.end()) + kSep +
          std::string(label_bytes.begin(), label_bytes.end()));

  // mstrain's configuration and candidate records.
  TrainConfig tc;
  tc.base_dir = "bases/msnet-s";
  tc.video = "vtest.avi";
  tc.labels = "labels/left2.csv";
  tc.app = "left2";
  tc.output = "pk/left2";
  tc.fps = 7;
  tc.branchpoints = {0, 3, 5};
  tc.train_frames = "1-543";
  tc.folds = 4;
  tc.corr_strides = {1, 2, 4};
  tc.Validate();
  Put("train_config", "valid-video-folds.json", Dump(tc.ToJson()));
  TrainConfig images_tc;
  images_tc.base_dir = "bases/msnet-s";
  images_tc.images = "faces";
  images_tc.positive_class = "smiling";
  images_tc.app = "smile";
  images_tc.output = "pk/smile";
  images_tc.fps = 10;
  images_tc.event_length = 12;
  images_tc.event_frequency = 0.1;
  images_tc.head = "pool";
  images_tc.Validate();
  Put("train_config", "valid-images.json", Dump(images_tc.ToJson()));

  CandidateRecord rec;
  rec.candidate = ReadMPackage(packages[0]).candidates[1];
  rec.weights_sha256 = std::string(64, 'c');
  rec.base = profile.base;
  rec.config_hash = "0123456789abcdef";
  rec.validation.push_back(ValidationTrace{{10, 17}, {0, 0, 1, 1, 1, 0, 1, 0}});
  OutOfFoldScores oof;
  oof.frames = {1, 2, 3, 7, 8};
  oof.folds = {0, 0, 0, 1, 1};
  oof.scores = {0.1f, 0.25f, 0.9f, 0.5f, 0.0f};
  rec.oof = oof;
  Put("candidate_record", "valid-oof.json", Dump(rec.ToJson()));
  rec.oof.reset();
  Put("candidate_record", "valid-validation-block.json", Dump(rec.ToJson()));
  return 0;
}

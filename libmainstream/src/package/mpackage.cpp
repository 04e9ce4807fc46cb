#include "mainstream/package/mpackage.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

namespace fs = std::filesystem;

namespace mainstream {

Json BaseRef::ToJson() const {
  return Json{{"id", id}, {"sha256", sha256}, {"num_stages", num_stages}};
}

BaseRef BaseRef::FromJson(const JsonView& v) {
  BaseRef b;
  b.id = v.Field("id").AsNonEmptyString();
  b.sha256 = v.Field("sha256").AsNonEmptyString();
  b.num_stages = static_cast<int>(v.IntIn("num_stages", 1, 100000));
  return b;
}

Json EventStats::ToJson() const {
  Json j{{"mean_length_frames", mean_length},
         {"min_length_frames", min_length},
         {"frequency", frequency},
         {"correlation", correlation}};
  if (!lengths.empty()) j["lengths_frames"] = lengths;
  return j;
}

EventStats EventStats::FromJson(const JsonView& v) {
  EventStats e;
  auto positive = [](const JsonView& f) {
    double x = f.AsNumber();
    if (!(x > 0 && x <= kMaxEventLengthFrames))
      f.Fail("expected a number of frames in (0, {}], got {}", kMaxEventLengthFrames, x);
    return x;
  };
  e.mean_length = positive(v.Field("mean_length_frames"));
  e.min_length = positive(v.Field("min_length_frames"));
  if (e.min_length > e.mean_length * (1 + 1e-9)) {
    v.Field("min_length_frames")
        .Fail("min event length {} exceeds the mean {}", e.min_length, e.mean_length);
  }
  e.frequency = v.Field("frequency").AsNumber();
  if (!(e.frequency >= kMinEventFrequency && e.frequency <= 1)) {
    v.Field("frequency")
        .Fail("expected a fraction in [{}, 1], got {}", kMinEventFrequency, e.frequency);
  }
  e.correlation = v.Field("correlation").AsNumber();
  if (!(e.correlation >= 0 && e.correlation < 1)) {
    v.Field("correlation").Fail("expected a probability in [0, 1), got {}", e.correlation);
  }
  if (auto l = v.OptionalField("lengths_frames")) {
    for (const JsonView& x : l->Elements()) e.lengths.push_back(positive(x));
  }
  return e;
}

void EventStats::Validate(const std::string& what) const {
  MS_CHECK(mean_length > 0 && mean_length <= kMaxEventLengthFrames,
           "{}: mean event length must be in (0, {}] frames, got {}", what, kMaxEventLengthFrames,
           mean_length);
  MS_CHECK(min_length > 0 && min_length <= mean_length * (1 + 1e-9),
           "{}: min event length must be in (0, mean], got {}", what, min_length);
  MS_CHECK(frequency >= kMinEventFrequency && frequency <= 1,
           "{}: event frequency must be in [{}, 1], got {}", what, kMinEventFrequency, frequency);
  MS_CHECK(correlation >= 0 && correlation < 1, "{}: correlation must be in [0, 1), got {}", what,
           correlation);
  for (double l : lengths)
    MS_CHECK(l > 0 && l <= kMaxEventLengthFrames, "{}: event lengths must be in (0, {}], got {}",
             what, kMaxEventLengthFrames, l);
}

std::string FileInsidePackage(const JsonView& field) {
  const std::string name = field.AsNonEmptyString();
  const fs::path p(name);
  bool escapes = p.is_absolute() || p.has_root_name();
  for (const auto& part : p) escapes = escapes || part == "..";
  if (escapes) {
    field.Fail(
        "\"{}\" must be a relative path inside the package directory (no absolute path, no '..')",
        name);
  }
  return name;
}

Json TraceRef::ToJson() const {
  return Json{
      {"file", file}, {"sha256", sha256}, {"rows", rows}, {"events", events}, {"folds", folds}};
}

TraceRef TraceRef::FromJson(const JsonView& v) {
  TraceRef t;
  t.file = FileInsidePackage(v.Field("file"));
  t.sha256 = v.Field("sha256").AsNonEmptyString();
  t.rows = v.IntIn("rows", 1, int64_t{1} << 40);
  t.events = v.IntIn("events", 0, int64_t{1} << 40);
  t.folds = static_cast<int>(v.IntIn("folds", 1, 1000));
  return t;
}

Json MicroSpec::ToJson() const {
  return Json{{"crop", {x0, y0, x1, y1}},
              {"channels", channels},
              {"cost_ms", cost_ms},
              {"reference_ms", reference_ms},
              {"param_bytes", param_bytes}};
}

MicroSpec MicroSpec::FromJson(const JsonView& v) {
  MicroSpec m;
  JsonView crop = v.Field("crop");
  if (!crop.IsArray() || crop.Size() != 4)
    crop.Fail("expected [x0, y0, x1, y1] (feature-map cells)");
  std::vector<int> c;
  for (const JsonView& x : crop.Elements()) c.push_back(static_cast<int>(x.AsIntIn(0, 1 << 20)));
  m.x0 = c[0];
  m.y0 = c[1];
  m.x1 = c[2];
  m.y1 = c[3];
  if (m.x1 <= m.x0 || m.y1 <= m.y0) {
    crop.Fail("empty crop [{}, {}, {}, {}]: expected x0 < x1 and y0 < y1", m.x0, m.y0, m.x1, m.y1);
  }
  m.channels = static_cast<int>(v.IntIn("channels", 1, 1 << 16));
  m.cost_ms = v.NumberIn("cost_ms", 0, 1e6);
  m.reference_ms = v.NumberIn("reference_ms", 1e-9, 1e6);
  m.param_bytes = v.NumberIn("param_bytes", 0, 1e15);
  return m;
}

std::string CandidateKey(CandidateKind kind, int branchpoint) {
  return fmt::format("{}{}", kind == CandidateKind::kMicro ? "mc" : "bp", branchpoint);
}

std::vector<std::string> BranchKeys(const std::vector<int>& branchpoints) {
  std::vector<std::string> keys;
  for (int b : branchpoints) keys.push_back(CandidateKey(CandidateKind::kBranch, b));
  return keys;
}

bool CandidateOrder(const Candidate& a, const Candidate& b) {
  if (a.branchpoint != b.branchpoint) return a.branchpoint < b.branchpoint;
  return static_cast<int>(a.kind) < static_cast<int>(b.kind);
}

std::string Candidate::key() const { return CandidateKey(kind, branchpoint); }

bool NoCostlier(CandidateKind ak, int ab, double a_ms, CandidateKind bk, int bb, double b_ms) {
  if (ak == CandidateKind::kBranch) return bk == CandidateKind::kBranch && ab >= bb;
  if (bk == CandidateKind::kBranch) return true;
  return ab <= bb && a_ms <= b_ms;
}

bool NoCostlier(const Candidate& a, const Candidate& b) {
  return NoCostlier(a.kind, a.branchpoint, a.micro.cost_ms, b.kind, b.branchpoint, b.micro.cost_ms);
}

Json Candidate::ToJson() const {
  Json j{{"kind", CandidateKindName(kind)},
         {"branchpoint", branchpoint},
         {"accuracy", accuracy},
         {"tpr", tpr},
         {"fpr", fpr},
         {"threshold", threshold},
         {"train_seconds", train_seconds},
         {"no_skill", no_skill}};
  j["weights"] = weights.empty() ? Json(nullptr) : Json(weights);
  if (is_micro()) j["micro"] = micro.ToJson();
  if (!extra.empty()) j["extra"] = extra;
  return j;
}

const char* CandidateKindName(CandidateKind kind) {
  return kind == CandidateKind::kMicro ? "micro" : "branch";
}

CandidateKind ParseCandidateKind(const JsonView& parent) {
  const auto k = parent.OptionalField("kind");
  if (!k) return CandidateKind::kBranch;
  const std::string kind = k->AsString();
  if (kind == "micro") return CandidateKind::kMicro;
  if (kind != "branch") {
    k->Fail("unknown candidate kind \"{}\": expected \"branch\" or \"micro\"", kind);
  }
  return CandidateKind::kBranch;
}

Candidate Candidate::FromJson(const JsonView& v) {
  Candidate c;
  c.kind = ParseCandidateKind(v);
  c.branchpoint = static_cast<int>(v.IntIn("branchpoint", 0, 100000));
  if (c.is_micro()) {
    if (c.branchpoint < 1) {
      v.Field("branchpoint")
          .Fail("a microclassifier reads a feature map: branchpoint >= 1, got {}", c.branchpoint);
    }
    c.micro = MicroSpec::FromJson(v.Field("micro"));
  }
  c.accuracy = v.NumberIn("accuracy", 0, 1);
  c.tpr = v.NumberIn("tpr", 0, 1);
  c.fpr = v.NumberIn("fpr", 0, 1);
  if (auto t = v.OptionalField("threshold")) c.threshold = t->AsNumberIn(0, 1);
  if (auto w = v.OptionalField("weights")) c.weights = FileInsidePackage(*w);
  if (auto t = v.OptionalField("train_seconds")) c.train_seconds = t->AsNumberIn(0, 1e12);
  if (auto s = v.OptionalField("no_skill")) c.no_skill = s->AsBool();
  if (auto e = v.OptionalField("extra")) {
    if (!e->IsObject()) e->Fail("expected an object");
    c.extra = e->raw();
  }
  return c;
}

Json MPackage::ToJson() const {
  Json cands = Json::array();
  for (const auto& c : candidates) cands.push_back(c.ToJson());
  return Json{{"schema_version", kMPackageSchemaVersion},
              {"kind", "mainstream.mpackage"},
              {"app", app},
              {"base", base.ToJson()},
              {"stream_fps", stream_fps},
              {"events", events.ToJson()},
              {"head", head},
              {"estimation", estimation},
              {"trace", trace ? trace->ToJson() : Json(nullptr)},
              {"candidates", cands},
              {"log", log}};
}

MPackage MPackage::FromJson(const JsonView& v) {
  v.RequireKind("mainstream.mpackage", "M-Package manifest");
  v.RequireSchemaIn(1, kMPackageSchemaVersion, "M-Package manifest");
  MPackage p;
  p.app = v.Field("app").AsNonEmptyString();
  for (char ch : p.app) {
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.')) {
      v.Field("app").Fail("app name \"{}\" may only contain letters, digits, '_', '-' and '.'",
                          p.app);
    }
  }
  p.base = BaseRef::FromJson(v.Field("base"));
  p.stream_fps = v.NumberIn("stream_fps", kMinFps, kMaxFps);
  p.events = EventStats::FromJson(v.Field("events"));
  JsonView cands = v.Field("candidates");
  if (cands.Size() == 0) cands.Fail("no candidates: the package has nothing to schedule");
  std::set<std::string> seen;
  for (const JsonView& c : cands.Elements()) {
    Candidate cand = Candidate::FromJson(c);
    if (cand.branchpoint >= p.base.num_stages) {
      c.Field("branchpoint")
          .Fail("branchpoint {} must be below the base's num_stages {}", cand.branchpoint,
                p.base.num_stages);
    }
    if (!seen.insert(cand.key()).second) {
      c.Field("branchpoint")
          .Fail("duplicate {} candidate at branchpoint {}", CandidateKindName(cand.kind),
                cand.branchpoint);
    }
    p.candidates.push_back(std::move(cand));
  }
  std::sort(p.candidates.begin(), p.candidates.end(), CandidateOrder);
  if (auto h = v.OptionalField("head")) {
    if (!h->IsObject()) h->Fail("expected an object");
    p.head = h->raw();
  }
  if (auto t = v.OptionalField("trace")) p.trace = TraceRef::FromJson(*t);
  if (auto e = v.OptionalField("estimation")) {
    if (!e->IsObject()) e->Fail("expected an object");
    p.estimation = e->raw();
  }
  if (auto l = v.OptionalField("log")) {
    if (!l->IsArray()) l->Fail("expected an array");
    p.log = l->raw();
  }
  return p;
}

void MPackage::Validate(const std::string& origin) const {
  MS_CHECK(!app.empty(), "{}: app name is empty", origin);
  MS_CHECK(!candidates.empty(), "{}: no candidates", origin);
  MS_CHECK(stream_fps >= kMinFps && stream_fps <= kMaxFps, "{}: stream_fps must be in [{}, {}]",
           origin, kMinFps, kMaxFps);
  events.Validate(origin);
}

const Candidate* MPackage::FindBranchpoint(int branchpoint) const {
  for (const auto& c : candidates) {
    if (c.branchpoint == branchpoint && !c.is_micro()) return &c;
  }
  return nullptr;
}

const Candidate* MPackage::FindKey(const std::string& key) const {
  for (const auto& c : candidates) {
    if (c.key() == key) return &c;
  }
  return nullptr;
}

MPackage ReadMPackage(const fs::path& path) {
  fs::path file = fs::is_directory(path) ? path / kMPackageManifest : path;
  if (!fs::exists(file)) {
    ThrowInput("{}: no M-Package here (expected a directory with {} or the manifest itself)",
               path.string(), kMPackageManifest);
  }
  Json j = ReadJsonFile(file);
  MPackage p = MPackage::FromJson(JsonView(j, file.string()));
  p.dir = file.parent_path();
  if (p.dir.empty()) p.dir = ".";
  return p;
}

void WriteMPackageManifest(const MPackage& pkg, const fs::path& dir) {
  pkg.Validate(dir.string());
  WriteJsonFileAtomic(dir / kMPackageManifest, pkg.ToJson());
}

}  // namespace mainstream

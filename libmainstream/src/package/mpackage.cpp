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

Json Candidate::ToJson() const {
  Json j{{"branchpoint", branchpoint},
         {"accuracy", accuracy},
         {"tpr", tpr},
         {"fpr", fpr},
         {"threshold", threshold},
         {"train_seconds", train_seconds},
         {"no_skill", no_skill}};
  j["weights"] = weights.empty() ? Json(nullptr) : Json(weights);
  if (!extra.empty()) j["extra"] = extra;
  return j;
}

Candidate Candidate::FromJson(const JsonView& v) {
  Candidate c;
  c.branchpoint = static_cast<int>(v.IntIn("branchpoint", 0, 100000));
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
  std::set<int> seen;
  for (const JsonView& c : cands.Elements()) {
    Candidate cand = Candidate::FromJson(c);
    if (cand.branchpoint >= p.base.num_stages) {
      c.Field("branchpoint")
          .Fail("branchpoint {} must be below the base's num_stages {}", cand.branchpoint,
                p.base.num_stages);
    }
    if (!seen.insert(cand.branchpoint).second) {
      c.Field("branchpoint").Fail("duplicate branchpoint {}", cand.branchpoint);
    }
    p.candidates.push_back(std::move(cand));
  }
  std::sort(p.candidates.begin(), p.candidates.end(),
            [](const Candidate& a, const Candidate& b) { return a.branchpoint < b.branchpoint; });
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
    if (c.branchpoint == branchpoint) return &c;
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

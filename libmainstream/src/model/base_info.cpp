#include "mainstream/model/base_info.h"

#include <cctype>
#include <set>

#include "mainstream/core/error.h"
#include "mainstream/video/preprocess.h"

namespace fs = std::filesystem;

namespace mainstream {
namespace {

bool IsIdentifier(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

std::vector<double> ChannelValues(const JsonView& v, size_t channels, bool positive) {
  if (v.Size() != channels)
    v.Fail("expected {} values (one per channel), got {}", channels, v.Size());
  std::vector<double> out;
  for (const JsonView& e : v.Elements()) {
    // Preprocessing works in single precision: std in [1e-6, 1e6], mean in
    // [-1e6, 1e6] (a pixel value is at most 255).
    const double x = positive ? e.AsNumberIn(1e-6, 1e6) : e.AsNumberIn(-1e6, 1e6);
    out.push_back(x);
  }
  return out;
}

std::vector<int64_t> ShapeField(const JsonView& v) {
  std::vector<int64_t> shape;
  for (const JsonView& e : v.Elements()) shape.push_back(e.AsIntIn(1, int64_t{1} << 40));
  if (shape.empty()) v.Fail("expected a non-empty shape");
  return shape;
}

}  // namespace

std::string ShapeToString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

Json InputSpec::ToJson() const {
  return Json{{"width", width},       {"height", height},
              {"channels", channels}, {"layout", layout},
              {"color", color},       {"mean", mean},
              {"std", std},           {"interpolation", interpolation}};
}

InputSpec InputSpec::FromJson(const JsonView& v) {
  InputSpec s;
  s.width = static_cast<int>(v.IntIn("width", 1, 8192));
  s.height = static_cast<int>(v.IntIn("height", 1, 8192));
  s.channels = static_cast<int>(v.IntIn("channels", 1, 4));
  s.layout = v.String("layout");
  if (s.layout != "NCHW")
    v.Field("layout").Fail("unsupported layout \"{}\" (expected \"NCHW\")", s.layout);
  s.color = v.String("color");
  if (s.color != "rgb" && s.color != "bgr")
    v.Field("color").Fail("expected \"rgb\" or \"bgr\", got \"{}\"", s.color);
  if (s.channels != 3)
    v.Field("channels").Fail("only 3-channel (color) inputs are supported, got {}", s.channels);
  s.mean = ChannelValues(v.Field("mean"), static_cast<size_t>(s.channels), false);
  s.std = ChannelValues(v.Field("std"), static_cast<size_t>(s.channels), true);
  if (auto i = v.OptionalField("interpolation")) {
    s.interpolation = i->AsString();
    // The names the video module's preprocessing knows.
    ParseInterpolation(s.interpolation, i->origin() + ": " + i->path());
  }
  return s;
}

std::vector<std::string> BaseInfo::stage_names() const {
  std::vector<std::string> out;
  for (const auto& s : stages) out.push_back(s.name);
  return out;
}

int BaseInfo::FindStage(const std::string& stage_name) const {
  for (size_t i = 0; i < stages.size(); ++i) {
    if (stages[i].name == stage_name) return static_cast<int>(i);
  }
  return -1;
}

std::vector<int64_t> BaseInfo::ShapeAt(int branchpoint) const {
  MS_CHECK(branchpoint >= 0 && branchpoint <= num_stages(),
           "base '{}': branchpoint {} outside [0, {}]", name, branchpoint, num_stages());
  if (branchpoint == 0) return input.shape();
  return stages[static_cast<size_t>(branchpoint - 1)].output_shape;
}

Json BaseInfo::ToJson() const {
  Json st = Json::array();
  for (const auto& s : stages) {
    st.push_back(Json{{"name", s.name}, {"covers", s.covers}, {"output_shape", s.output_shape}});
  }
  return Json{{"schema_version", kBaseSchemaVersion},
              {"kind", "mainstream.base"},
              {"name", name},
              {"description", description},
              {"model_file", model_file},
              {"sha256", sha256},
              {"input", input.ToJson()},
              {"num_stages", num_stages()},
              {"stages", st},
              {"num_classes", num_classes},
              {"class_names", class_names},
              {"source", source}};
}

BaseInfo BaseInfo::FromJson(const JsonView& v) {
  v.RequireKind("mainstream.base", "base manifest");
  v.RequireSchema(kBaseSchemaVersion, "base manifest");
  BaseInfo b;
  b.name = v.Field("name").AsNonEmptyString();
  if (auto d = v.OptionalField("description")) b.description = d->AsString();
  if (auto m = v.OptionalField("model_file")) {
    b.model_file = m->AsNonEmptyString();
    if (fs::path(b.model_file).is_absolute() || b.model_file.find("..") != std::string::npos) {
      m->Fail("must be a file name inside the base directory, got \"{}\"", b.model_file);
    }
  }
  b.sha256 = v.Field("sha256").AsNonEmptyString();
  if (b.sha256.size() != 64) v.Field("sha256").Fail("expected 64 hex digits, got \"{}\"", b.sha256);
  b.input = InputSpec::FromJson(v.Field("input"));
  JsonView st = v.Field("stages");
  if (st.Size() == 0) st.Fail("a base needs at least one stage");
  std::set<std::string> seen;
  for (const JsonView& s : st.Elements()) {
    StageInfo info;
    info.name = s.Field("name").AsNonEmptyString();
    if (!IsIdentifier(info.name)) {
      s.Field("name").Fail("\"{}\" is not a valid TorchScript attribute name (letters, digits, _)",
                           info.name);
    }
    if (!seen.insert(info.name).second)
      s.Field("name").Fail("duplicate stage name \"{}\"", info.name);
    if (auto c = s.OptionalField("covers")) {
      for (const JsonView& e : c->Elements()) info.covers.push_back(e.AsString());
    }
    info.output_shape = ShapeField(s.Field("output_shape"));
    b.stages.push_back(std::move(info));
  }
  if (auto n = v.OptionalField("num_stages")) {
    if (n->AsInt() != b.num_stages()) {
      n->Fail("says {} but \"stages\" lists {}", n->AsInt(), b.num_stages());
    }
  }
  b.num_classes = static_cast<int>(v.IntIn("num_classes", 1, 1 << 24));
  const auto& last = b.stages.back().output_shape;
  if (last.size() != 1 || last[0] != b.num_classes) {
    st.At(st.Size() - 1)
        .Field("output_shape")
        .Fail("the last stage must output [num_classes] = [{}] per frame, got {}", b.num_classes,
              ShapeToString(last));
  }
  if (auto c = v.OptionalField("class_names")) {
    for (const JsonView& e : c->Elements()) b.class_names.push_back(e.AsString());
    if (!b.class_names.empty() && b.class_names.size() != static_cast<size_t>(b.num_classes)) {
      c->Fail("has {} names but num_classes is {}", b.class_names.size(), b.num_classes);
    }
  }
  if (auto s = v.OptionalField("source")) {
    if (!s->IsObject()) s->Fail("expected an object");
    b.source = s->raw();
  }
  return b;
}

BaseInfo ReadBaseInfo(const fs::path& dir) {
  fs::path file = dir / kBaseManifest;
  if (!fs::exists(dir)) ThrowInput("{}: no such base directory", dir.string());
  if (!fs::is_directory(dir)) {
    ThrowInput("{}: a base is a directory holding {} and {}, not a file", dir.string(),
               kBaseManifest, kBaseModelFile);
  }
  Json j = ReadJsonFile(file);
  return BaseInfo::FromJson(JsonView(j, file.string()));
}

void WriteBaseInfo(const BaseInfo& info, const fs::path& dir) {
  WriteJsonFileAtomic(dir / kBaseManifest, info.ToJson());
}

void CheckSameBase(const BaseRef& wanted, const std::string& wanted_origin, const BaseInfo& have,
                   const std::string& have_origin) {
  if (wanted.sha256 == have.sha256 && wanted.num_stages == have.num_stages()) return;
  ThrowInput(
      "{}: built for base '{}' (sha256 {}, {} stages) but {} is base '{}' (sha256 {}, {} stages)",
      wanted_origin, wanted.id, wanted.sha256.substr(0, 12), wanted.num_stages, have_origin,
      have.name, have.sha256.substr(0, 12), have.num_stages());
}

PreprocessConfig PreprocessConfigFor(const InputSpec& in) {
  MS_CHECK(in.channels == 3, "base.json: $.input.channels: frames have 3 channels, got {}",
           in.channels);
  MS_CHECK(in.mean.size() == 3 && in.std.size() == 3,
           "base.json: $.input.mean/std: need 3 values each");
  PreprocessConfig cfg;
  cfg.width = in.width;
  cfg.height = in.height;
  cfg.to_rgb = in.color != "bgr";
  for (size_t c = 0; c < 3; ++c) {
    cfg.mean[c] = static_cast<float>(in.mean[c]);
    cfg.stddev[c] = static_cast<float>(in.std[c]);
  }
  cfg.interpolation = ParseInterpolation(in.interpolation, "base.json: $.input.interpolation");
  cfg.Validate();
  return cfg;
}

PreprocessConfig PreprocessConfigFor(const BaseInfo& info) {
  return PreprocessConfigFor(info.input);
}

}  // namespace mainstream

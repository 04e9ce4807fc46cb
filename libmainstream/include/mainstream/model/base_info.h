// The base DNN directory and its manifest, base.json (no LibTorch here).
//
//   <dir>/model.pt    TorchScript module whose top-level children, in order,
//                     are the stages; forward() chains them. Branchpoint b
//                     (0 <= b < num_stages) is the input of stage b: stages
//                     [0, b) are the shared stem, [b, n) an app's own copy.
//   <dir>/base.json   what the module expects and produces (below).
//
// See docs/models.md ("base.json") for the format.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "mainstream/core/json_io.h"
#include "mainstream/package/mpackage.h"
#include "mainstream/video/preprocess.h"

namespace mainstream {

inline constexpr int kBaseSchemaVersion = 1;
inline constexpr const char* kBaseManifest = "base.json";
inline constexpr const char* kBaseModelFile = "model.pt";

// What a frame must become before stage 0: resized to width x height,
// channels in `color` order, x = (pixel / 255 - mean[c]) / std[c], NCHW float.
struct InputSpec {
  int width = 0;
  int height = 0;
  int channels = 3;
  std::string layout = "NCHW";  // the only layout supported
  std::string color = "rgb";    // "rgb" or "bgr"
  std::vector<double> mean{0.485, 0.456, 0.406};
  std::vector<double> std{0.229, 0.224, 0.225};
  // Resize filter, as the video module names it ("pyramid", "area", "linear",
  // "nearest"; video/preprocess.h): part of the base, training and inference
  // must resize alike.
  std::string interpolation = "pyramid";

  // Per-frame input shape {channels, height, width}.
  std::vector<int64_t> shape() const { return {channels, height, width}; }
  Json ToJson() const;
  static InputSpec FromJson(const JsonView& v);
};

struct StageInfo {
  std::string name;                   // attribute name of the child in model.pt
  std::vector<std::string> covers;    // layers it holds, e.g. {"features.7"} (informational)
  std::vector<int64_t> output_shape;  // per-frame output shape (no batch dim) at the input size
};

struct BaseInfo {
  std::string name;         // BaseRef::id, e.g. "msnet-s"
  std::string description;  // free text
  InputSpec input;
  std::vector<StageInfo> stages;
  int num_classes = 0;                      // outputs of the last stage
  std::vector<std::string> class_names;     // empty, or num_classes names
  std::string model_file = kBaseModelFile;  // relative to the directory
  std::string sha256;                       // of model_file
  Json source = Json::object();             // how it was made (tool, architecture, weights, seed)

  int num_stages() const { return static_cast<int>(stages.size()); }
  BaseRef ref() const { return BaseRef{name, sha256, num_stages()}; }
  std::vector<std::string> stage_names() const;
  // Index of the stage named `name`; -1 if none.
  int FindStage(const std::string& name) const;
  // Shape of the activation at branchpoint b (input of stage b), per frame.
  std::vector<int64_t> ShapeAt(int branchpoint) const;

  Json ToJson() const;
  static BaseInfo FromJson(const JsonView& v);
};

// Reads and checks <dir>/base.json (fields only: the module is checked by
// BaseModel::Load). Throws InputError naming the file and field.
BaseInfo ReadBaseInfo(const std::filesystem::path& dir);
// Writes <dir>/base.json atomically.
void WriteBaseInfo(const BaseInfo& info, const std::filesystem::path& dir);

// Throws InputError when `have` (read from have_origin) is not the base that
// `wanted` (read from wanted_origin, e.g. a package or profile) was built for.
void CheckSameBase(const BaseRef& wanted, const std::string& wanted_origin, const BaseInfo& have,
                   const std::string& have_origin);

// "[1, 32, 60, 80]"
std::string ShapeToString(const std::vector<int64_t>& shape);

// How frames are preprocessed for a base (its input size, colour order,
// mean/std and resize filter): the one conversion mstrain, msprofile and
// msrun share, so training and inference always agree. Throws InputError
// naming base.json's field.
PreprocessConfig PreprocessConfigFor(const InputSpec& input);
PreprocessConfig PreprocessConfigFor(const BaseInfo& info);

}  // namespace mainstream

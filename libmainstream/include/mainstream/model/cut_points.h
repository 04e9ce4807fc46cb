// Branchpoints of an arbitrary TorchScript model (Couper-style): the places
// where its computation can be cut into a chain of stages, and re-exporting it
// as a base directory.
//
// The model is frozen and inlined into one flat graph of ops (eval mode). A
// cut after op k is valid when exactly one value computed before it is still
// needed after it, and that value is a tensor: no parallel path (a residual
// connection, the branches of an inception block) crosses the cut. Ops whose
// inputs are all constants (shape lists, scalars, weights) never block a cut:
// they are recomputed on whichever side needs them. A cut after the last op
// is no cut at all and is not listed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "mainstream/core/json_io.h"
#include "mainstream/model/base_info.h"

namespace mainstream {

struct CutPoint {
  int op_index = 0;    // the cut follows this op (0-based over non-constant ops)
  std::string op;      // kind of that op, e.g. "aten::relu"
  std::string value;   // debug name of the tensor crossing the cut
  std::string source;  // where the op comes from (scope or source line), if known
  std::vector<int64_t>
      shape;  // per-frame shape of the crossing tensor (when an input size is known)
};

struct CutAnalysis {
  std::string model;  // file analyzed
  int num_ops = 0;    // non-constant ops in the frozen graph
  std::vector<CutPoint> cuts;
  std::vector<int64_t> output_shape;  // per-frame (when an input size is known)

  Json ToJson() const;
  std::string ToText() const;  // a table for humans
};

// Finds the cut points of `model_file` (forward(Tensor) -> Tensor). With an
// input size (width, height > 0) it also runs a dummy frame to report shapes.
// Throws InputError naming the file when it cannot be loaded or analyzed.
CutAnalysis FindCutPoints(const std::filesystem::path& model_file, int width = 0, int height = 0,
                          int channels = 3);

struct ChainExportOptions {
  std::string name;       // base name (default: the model file's stem)
  InputSpec input;        // width and height required
  std::vector<int> cuts;  // indices into CutAnalysis::cuts to cut at; empty: all of them
  int num_classes = 0;    // 0: from the output shape
};

// Re-exports `model_file` as a base directory cut at the chosen cut points:
// stage k holds the ops between cut k-1 and cut k, with the frozen weights as
// trainable parameters again. Checks that the chain's output equals the
// original model's on a dummy frame. Returns the manifest written.
BaseInfo ExportChain(const std::filesystem::path& model_file, const ChainExportOptions& options,
                     const std::filesystem::path& out_dir);

}  // namespace mainstream

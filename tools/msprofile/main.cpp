// msprofile: time every stage of a base DNN on this machine and write the
// profile the scheduler reads; or find the branchpoints of any TorchScript
// model and re-export it as a base. Logic lives in libmainstream (model/).
#include <cstdio>
#include <iostream>

#include "cli.h"
#include "mainstream/core/error.h"
#include "mainstream/core/parse.h"
#include "mainstream/model/cut_points.h"
#include "mainstream/model/machine.h"
#include "mainstream/model/profiler.h"
#include "mainstream/schedule/calibrate.h"

using namespace mainstream;

int main(int argc, char** argv) {
  CLI::App app{
      "msprofile: per-stage latency of a base DNN on this machine (profile.json), and branchpoints "
      "of "
      "any TorchScript model"};
  app.footer(
      "Examples:\n"
      "  msprofile --base bases/msnet-s -o profile.json --threads 2 --input vtest.avi\n"
      "  msprofile --base bases/mobilenet_v2 -o mnv2.json --threads 1 --batch 4 --size 1280x720\n"
      "  msprofile --list-branchpoints model.pt --size 224x224\n"
      "  msprofile --list-branchpoints model.pt --size 224x224 --export-chain bases/mymodel --cuts "
      "3,7,12\n"
      "  msprofile --calibrate runs/b2x-greedy runs/b5x-greedy --profile profile.json -o "
      "calibrated.json");
  cli::CommonFlags common;
  cli::AddCommonFlags(app, common);

  ProfileConfig cfg;
  std::string output, size, list_model, export_dir, cuts, name, mean, stddev, color = "rgb";
  bool json = false;
  auto* base =
      app.add_option("--base", cfg.base_dir, "Base directory (model.pt + base.json) to profile");
  app.add_option("-o,--output", output, "Profile JSON to write");
  app.add_option("--batch", cfg.batch, "Frames per call; latencies are reported per frame")
      ->capture_default_str();
  app.add_option("--warmup", cfg.warmup, "Untimed passes")->capture_default_str();
  app.add_option("--repeats", cfg.repeats,
                 "Timed passes: each decodes and preprocesses a frame and runs the stages on it "
                 "(what the cost model charges), then on a fixed input, then alone, then the "
                 "whole model")
      ->capture_default_str();
  auto* input = app.add_option("--input", cfg.input_video,
                               "Video whose frames the passes decode (use the one you will run)");
  app.add_option("--size", size,
                 "WxH: the passes decode a synthetic video of this size (default 640x480); with "
                 "--list-branchpoints: the model's input size")
      ->excludes(input);
  app.add_option("--decode-frames", cfg.decode_frames,
                 "Frames timed decoding alone, for comparison (extra.decode.alone)")
      ->capture_default_str();
  bool no_cold = false;
  double cold_mb = cfg.cold_bytes / (1 << 20);
  app.add_flag("--no-cold", no_cold,
               "Skip the cold timings and the cache probe (the cost model is then cache-blind; "
               "docs/model.md, Caches)");
  app.add_option("--cold-repeats", cfg.cold_repeats, "Cold timing: rounds over a stage's copies")
      ->capture_default_str();
  app.add_option("--cold-copies", cfg.cold_copies, "Cold timing: copies of a stage at most")
      ->capture_default_str();
  app.add_option("--cold-mb", cold_mb,
                 "Cold timing: MiB streamed between two runs of a stage's copy (by the other "
                 "copies, and a read of a buffer when --cold-copies caps them)")
      ->capture_default_str();
  auto* list = app.add_option("--list-branchpoints", list_model,
                              "TorchScript model: list its valid single-tensor cut points (stdout)")
                   ->excludes(base);
  app.add_option("--export-chain", export_dir,
                 "With --list-branchpoints: write the model as a base directory")
      ->needs(list);
  app.add_option("--cuts", cuts, "Cut indices to export, e.g. 2,5,9 (default: all)");
  app.add_option("--name", name, "Name of the exported base (default: the model file's name)");
  app.add_option("--mean", mean,
                 "Per-channel mean of the exported base's input (default ImageNet)");
  app.add_option("--std", stddev,
                 "Per-channel std of the exported base's input (default ImageNet)");
  app.add_option("--color", color, "Channel order of the exported base's input")
      ->check(CLI::IsMember({"rgb", "bgr"}))
      ->capture_default_str();
  app.add_flag("--json", json, "Print the branchpoints as JSON");
  std::vector<std::string> calibrate_runs;
  std::string profile_in;
  auto* calibrate = app.add_option("--calibrate", calibrate_runs,
                                   "msrun --out directories (or summary.json files) measured on "
                                   "this machine: write --profile "
                                   "corrected by what they measured (docs/model.md, Calibration)")
                        ->excludes(base, list);
  app.add_option("--profile", profile_in,
                 "With --calibrate: the profile the runs were scheduled with")
      ->needs(calibrate);

  if (int code = cli::Parse(app, argc, argv); code >= 0) return code;
  return cli::RunMain("msprofile", [&]() -> int {
    cli::ApplyCommonFlags(common);
    if (!calibrate_runs.empty()) {
      MS_CHECK(!profile_in.empty() && !output.empty(),
               "--calibrate needs --profile FILE and -o FILE; see --help");
      std::vector<std::filesystem::path> paths(calibrate_runs.begin(), calibrate_runs.end());
      CalibrationResult r = Calibrate(ReadProfile(profile_in), FindRunSummaries(paths));
      WriteProfile(r.profile, output);
      std::fputs(r.ToText().c_str(), stderr);
      std::printf("%s\n", output.c_str());
      return 0;
    }
    const int threads = SetTorchThreads(common.ResolvedThreads());
    if (!list_model.empty()) {
      int width = 0, height = 0;
      if (!size.empty()) ParseSize(size, "--size", &width, &height);
      if (export_dir.empty()) {
        CutAnalysis a = FindCutPoints(list_model, width, height);
        std::cout << (json ? a.ToJson().dump(2) + "\n" : a.ToText());
        return 0;
      }
      MS_CHECK(width > 0, "--export-chain needs --size WxH: the input the chain is checked with");
      ChainExportOptions eo;
      eo.name = name;
      eo.input.width = width;
      eo.input.height = height;
      eo.input.color = color;
      if (!mean.empty()) eo.input.mean = ParseDoubleList(mean, "--mean");
      if (!stddev.empty()) eo.input.std = ParseDoubleList(stddev, "--std");
      MS_CHECK(eo.input.mean.size() == 3 && eo.input.std.size() == 3,
               "--mean and --std need 3 values each");
      if (!cuts.empty()) eo.cuts = ParseIntList(cuts, "--cuts");
      ExportChain(list_model, eo, export_dir);
      std::printf("%s\n", export_dir.c_str());
      return 0;
    }
    MS_CHECK(!cfg.base_dir.empty(),
             "--base DIR is required (or --list-branchpoints MODEL); see --help");
    MS_CHECK(!output.empty(), "-o/--output FILE is required; see --help");
    cfg.threads = threads;
    cfg.seed = common.seed;
    cfg.cold = !no_cold;
    cfg.cold_bytes = cold_mb * 1024 * 1024;
    if (!size.empty()) ParseSize(size, "--size", &cfg.width, &cfg.height);
    ProfileResult result = RunProfile(cfg);
    WriteProfile(result.profile, output);
    std::fputs(result.summary.c_str(), stderr);
    std::printf("%s\n", output.c_str());
    return 0;
  });
}

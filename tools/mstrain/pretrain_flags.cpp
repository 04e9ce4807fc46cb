// `mstrain pretrain`'s flags (the task decides the defaults of --epochs and --lr).
#include <fmt/format.h>

#include "flags.h"
#include "mainstream/core/parse.h"
#include "mainstream/model/profiler.h"

namespace mainstream::cli {

void AddPretrainFlags(CLI::App* cmd, PretrainFlags& f) {
  PretrainConfig& c = f.config;
  f.cmd = cmd;
  const PretrainConfig occ = PretrainDefaults(PretrainTask::kOccupancy);
  const PretrainConfig fm = PretrainDefaults(PretrainTask::kFashionMnist);
  cmd->add_option("--task", f.task,
                  "occupancy (person occupancy grid from --video and --mot) or fashion-mnist")
      ->capture_default_str();
  cmd->add_option("--video", c.video,
                  "Occupancy: video whose frames match the MOT frames (1-based). Fashion-MNIST: "
                  "optional, frames to "
                  "re-estimate the BatchNorm statistics on");
  cmd->add_option("--mot", c.mot, "Occupancy: MOT ground truth of the video (gt.txt)");
  cmd->add_option("-o,--output", c.output, "Base directory to write (model.pt + base.json)")
      ->required();
  cmd->add_option(
      "--init", c.init,
      "Start from this base's weights (same architecture; a head with other classes starts fresh)");
  cmd->add_option("--train-frames", c.train_frames,
                  "Frames of --video to use, e.g. 1-543 (default: first 70%)");
  cmd->add_option("--fps", c.fps, "Frame-rate override (recorded)");
  cmd->add_option("--grid", f.grid, "Occupancy grid COLSxROWS")->capture_default_str();
  cmd->add_option("--size", f.size, "Input WxH of the base")->capture_default_str();
  cmd->add_option("--width-mult", c.base.width_mult, "Channel multiplier (MobileNetV2 alpha)")
      ->capture_default_str();
  cmd->add_option("--last-channel", c.base.last_channel, "Channels of the last 1x1 conv")
      ->capture_default_str();
  cmd->add_option("--name", c.base.name, "Base name (base.json $.name)")->capture_default_str();
  cmd->add_option(
      "--epochs", c.epochs,
      fmt::format(
          "Epochs (0: no training, only the BatchNorm statistics; default {} for occupancy, {} "
          "for fashion-mnist)",
          occ.epochs, fm.epochs));
  cmd->add_option("--batch", c.batch, "Items per step")->capture_default_str();
  cmd->add_option("--lr", c.lr,
                  fmt::format("Adam learning rate, cosine decay (default {} for occupancy, {} for "
                              "fashion-mnist)",
                              occ.lr, fm.lr));
  cmd->add_option("--stride", c.stride, "Use every k-th frame of --video")->capture_default_str();
  cmd->add_flag("!--no-dense-heads", c.dense_heads,
                "Occupancy: only the base's pooled head (no auxiliary maps)");
  cmd->add_option("--fmnist", c.fmnist_dir,
                  "Fashion-MNIST: directory of the {train,t10k}-*-ubyte.gz files")
      ->capture_default_str();
  cmd->add_option("--images", c.images, "Fashion-MNIST: train on the first N training images")
      ->capture_default_str();
  cmd->add_option("--val-images", c.val_images,
                  "Fashion-MNIST: held-out accuracy on the first N t10k images")
      ->capture_default_str();
}

PretrainConfig PretrainFlags::Finish(int threads, uint64_t seed) const {
  PretrainConfig c = config;
  c.task = ParsePretrainTask(task, "--task");
  const PretrainConfig d = PretrainDefaults(c.task);
  if (!cmd || cmd->count("--epochs") == 0) c.epochs = d.epochs;
  if (!cmd || cmd->count("--lr") == 0) c.lr = d.lr;
  ParseSize(grid, "--grid", &c.grid_cols, &c.grid_rows);
  ParseSize(size, "--size", &c.base.width, &c.base.height);
  c.seed = c.base.seed = seed;
  c.threads = threads > 0 ? threads : 1;
  return c;
}

}  // namespace mainstream::cli

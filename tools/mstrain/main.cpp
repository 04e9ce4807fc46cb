// mstrain: turn one application's labeled data into an M-Package (one
// fine-tuned suffix per branchpoint of the base, Pareto-pruned), create and
// pretrain the default base, and derive per-frame labels from MOT boxes.
// Logic lives in libmainstream (train/).
#include <cstdio>
#include <iostream>

#include "cli.h"
#include "flags.h"
#include "mainstream/core/log.h"
#include "mainstream/core/parse.h"
#include "mainstream/core/stop.h"
#include "mainstream/model/machine.h"
#include "mainstream/model/profiler.h"
#include "mainstream/train/trainer.h"

using namespace mainstream;

int main(int argc, char** argv) {
  CLI::App app{
      "mstrain: fine-tune one application at every branchpoint of a base DNN and write its "
      "M-Package"};
  app.footer(
      "Examples:\n"
      "  mstrain labels --mot gt.txt --roi 300,300,500,450 --smooth-gap 2 --min-event 3 -o "
      "ped.csv\n"
      "  mstrain pretrain --video vtest.avi --mot gt.txt --fps 7 --train-frames 1-543 -o "
      "bases/msnet-s\n"
      "  mstrain pretrain --task fashion-mnist --video vtest.avi --train-frames 1-543 -o "
      "bases/fmnist\n"
      "  mstrain pretrain --task fashion-mnist --init bases/fmnist --epochs 0 --video vtest.avi "
      "--train-frames 200-795 "
      "-o bases/fold1\n"
      "  mstrain train --base bases/msnet-s --video vtest.avi --fps 7 --labels ped.csv --app ped "
      "-o pk/ped\n"
      "  mstrain plan --base bases/msnet-s --video vtest.avi --labels ped.csv --app ped -o pk/ped "
      "> jobs.txt\n"
      "  mstrain pack --config <work>/config.json\n"
      "See docs/training.md.");
  app.require_subcommand(1);
  cli::CommonFlags common;
  cli::AddCommonFlags(app, common);

  MotLabelOptions lo;
  std::string labels_out;
  auto* labels =
      app.add_subcommand("labels", "Per-frame labels (frame,label CSV) from MOT boxes and a rule");
  cli::AddLabelsFlags(labels, lo);
  labels->add_option("-o,--output", labels_out, "Label CSV to write")->required();

  cli::PretrainFlags pretrain_flags;
  auto* pretrain = app.add_subcommand(
      "pretrain",
      "Create the default base and pretrain it (person occupancy grid, or Fashion-MNIST canvases)");
  cli::AddPretrainFlags(pretrain, pretrain_flags);

  cli::TrainFlags tf, pf, kf;
  std::string only;
  auto* train =
      app.add_subcommand("train", "Fine-tune every branchpoint (resuming finished ones) and pack");
  cli::AddTrainFlags(train, tf, true);
  train->add_option(
      "--branchpoint", only,
      "Train only these candidates (3 or bp3: a branch; mc2: a microclassifier) into the "
      "work directory (no pack)");
  auto* plan = app.add_subcommand(
      "plan", "Print one 'mstrain train' command per candidate (Slurm, GNU parallel)");
  cli::AddTrainFlags(plan, pf, false);
  auto* pack = app.add_subcommand("pack", "Assemble the finished candidates into the M-Package");
  cli::AddTrainFlags(pack, kf, true);

  if (int code = cli::Parse(app, argc, argv); code >= 0) return code;
  return cli::RunMain("mstrain", [&]() -> int {
    cli::ApplyCommonFlags(common);
    const bool seed_given = app.count("--seed") > 0;
    if (labels->parsed()) {
      std::string summary;
      FrameLabels l = MakeMotLabels(lo, &summary);
      WriteLabelFile(labels_out, l);
      LogInfo("{}", summary);
      std::printf("%s\n", labels_out.c_str());
      return 0;
    }
    InstallStopHandlers();  // SIGINT/SIGTERM: stop at the next batch, finished candidates kept
    if (pretrain->parsed()) {
      const PretrainConfig pc = pretrain_flags.Finish(common.ResolvedThreads(), common.seed);
      PretrainReport r = Pretrain(pc);
      std::fprintf(stderr, "pretraining: %s\n", r.ToJson().dump().c_str());
      std::printf("%s\n", pc.output.c_str());
      return 0;
    }
    if (plan->parsed()) {
      TrainConfig c = pf.Finish(common.ResolvedThreads(), common.seed, seed_given);
      std::string pack_cmd;
      for (const auto& cmd : PlanCommands(c, cli::SelfPath(argv[0]), &pack_cmd))
        std::printf("%s\n", cmd.c_str());
      std::fprintf(stderr, "# when every command above has finished:\n%s\n", pack_cmd.c_str());
      return 0;
    }
    if (pack->parsed()) {
      TrainConfig c = kf.Finish(common.ResolvedThreads(), common.seed, seed_given);
      MPackage p = PackCandidates(c);
      std::printf("%s\n", c.output.c_str());
      return 0;
    }
    TrainConfig c = tf.Finish(common.ResolvedThreads(), common.seed, seed_given);
    TrainRunOptions opts;
    if (!only.empty()) opts.only = ParseCandidateKeys(only, "--branchpoint");
    TrainReport r = RunTrain(c, opts);
    if (!r.summary.empty()) std::fputs(r.summary.c_str(), stderr);
    LogInfo(
        "{} trained, {} resumed in {:.1f} s (decode {:.1f} s, cached activations {:.1f} s, {} "
        "thread(s))",
        r.trained, r.resumed, r.seconds, r.decode_seconds, r.prefix_seconds, c.threads);
    std::printf("%s\n", opts.only.empty() ? c.output.c_str() : r.work_dir.c_str());
    return 0;
  });
}

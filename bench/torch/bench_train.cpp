// bench_train: what mstrain costs and what it produces on the PETS 2009 video
// (docs/training.md, "Benchmarks").
//
//   1. Time to build the M-Package of one task (every branchpoint of the
//      default base) with and without the activation cache, and the ratio.
//   2. Accuracy vs branchpoint for several tasks, from a pretrained base and
//      from a random one (same architecture, BatchNorm statistics estimated on
//      the same frames): validation accuracy (what the package records) and
//      accuracy on held-out test frames no step ever saw.
//
// Protocol: pretraining and fine-tuning see frames 1-543 only (fine-tuning
// carves its validation block from their end); test frames are 554-795.
//
//   bench_train --threads 2 --out results/train        # everything (~10 min idle on 2 cores)
//   bench_train --tasks centre --no-random --no-timing # a quick look
//   python3 scripts/plot_train_bench.py results/train  # PNG from the CSVs
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cli.h"
#include "mainstream/core/atomic_file.h"
#include "mainstream/core/log.h"
#include "mainstream/core/parse.h"
#include "mainstream/labels/label_file.h"
#include "mainstream/model/machine.h"
#include "mainstream/train/dataset.h"
#include "mainstream/train/pretrain.h"
#include "mainstream/train/trainer.h"

namespace fs = std::filesystem;
using namespace mainstream;

namespace {

struct Task {
  std::string name;
  PersonRuleArgs rule;
};

// Applications on the PETS ground truth (docs/labels.md), 10+ events each.
std::vector<Task> AllTasks() {
  auto roi = [](const char* name, const char* r, const char* k) {
    Task t;
    t.name = name;
    t.rule.roi = r;
    t.rule.min_count = k;
    return t;
  };
  Task diamond;
  diamond.name = "diamond2";
  diamond.rule.polygon = "384,200;600,400;384,576;168,400";
  diamond.rule.min_count = "2";
  return {roi("centre", "300,300,500,450", "1"),    roi("right2", "600,0,768,576", "2"),
          roi("mid", "400,300,600,450", "1"),       diamond,
          roi("lowright2", "384,300,768,576", "2"), roi("top2", "300,200,500,300", "2")};
}

double LoadAverage() {
  std::ifstream in("/proc/loadavg");
  double l = -1;
  in >> l;
  return l;
}

struct Options {
  std::string video = "/usr/share/doc/opencv-doc/examples/data/vtest.avi";
  std::string mot =
      fs::path(__FILE__).parent_path().parent_path().parent_path().parent_path().string() +
      "/shared/data/pets09-s2l1/gt.txt";
  fs::path out = "results/train";
  std::string tasks = "centre,right2,mid";
  std::string timing_task = "centre";
  std::string heads = "pool";
  int threads = 2;
  int pretrain_epochs = PretrainConfig{}.epochs;
  bool random = true;
  bool timing = true;
  TrainConfig train;  // fine-tuning options (defaults of mstrain)
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{
      "bench_train: mstrain's package build time (with/without the activation cache) and accuracy "
      "per "
      "branchpoint, pretrained vs random base, on PETS 2009"};
  app.add_option("--video", o.video, "vtest.avi (opencv-doc)")->capture_default_str();
  app.add_option("--mot", o.mot, "PETS09-S2L1 gt.txt")->capture_default_str();
  app.add_option("--out", o.out, "Directory for bases, packages, CSVs")->capture_default_str();
  app.add_option("--tasks", o.tasks, "Tasks: centre,right2,mid,diamond2,lowright2,top2")
      ->capture_default_str();
  app.add_option("--timing-task", o.timing_task, "Task for the cache on/off timing")
      ->capture_default_str();
  app.add_option("--heads", o.heads, "Heads to compare: pool,spatial")->capture_default_str();
  app.add_option("--threads", o.threads, "Threads")->capture_default_str();
  app.add_option("--pretrain-epochs", o.pretrain_epochs, "Pretraining epochs")
      ->capture_default_str();
  app.add_option("--epochs", o.train.epochs, "Fine-tuning epochs")->capture_default_str();
  app.add_flag("!--no-random", o.random, "Skip the random-base comparison");
  app.add_flag("!--no-timing", o.timing, "Skip the cache on/off timing");
  CLI11_PARSE(app, argc, argv);

  return cli::RunMain("bench_train", [&]() -> int {
    SetTorchThreads(o.threads);
    fs::create_directories(o.out);
    const std::string frames = "1-543", test = "554-795";
    Json meta{{"machine", DescribeMachine()},
              {"threads", o.threads},
              {"load_average_start", LoadAverage()}};

    // Bases: pretrained, and random with estimated BatchNorm statistics.
    std::vector<std::pair<std::string, int>> bases = {{"pretrained", o.pretrain_epochs}};
    if (o.random) bases.push_back({"random", 0});
    for (const auto& [name, epochs] : bases) {
      PretrainConfig pc;
      pc.video = o.video;
      pc.mot = o.mot;
      pc.fps = 7;
      pc.train_frames = frames;
      pc.epochs = epochs;
      pc.threads = o.threads;
      pc.output = (o.out / "bases" / name).string();
      if (fs::exists(fs::path(pc.output) / "base.json")) {
        LogInfo("reusing {}", pc.output);
        continue;
      }
      PretrainReport r = Pretrain(pc);
      meta["pretrain_" + name] = r.ToJson();
      meta["pretrain_" + name]["load_average_end"] = LoadAverage();
    }

    std::vector<Task> tasks;
    for (const auto& n : SplitList(o.tasks)) {
      bool found = false;
      for (const Task& t : AllTasks()) {
        if (t.name == n) {
          tasks.push_back(t);
          found = true;
        }
      }
      MS_CHECK(found, "--tasks: unknown task '{}'", n);
    }
    auto labels_of = [&](const Task& t) {
      MotLabelOptions lo;
      lo.mot = o.mot;
      lo.rule = t.rule;
      lo.smooth_gap = 2;
      lo.min_event = 3;
      std::string summary;
      FrameLabels l = MakeMotLabels(lo, &summary);
      fs::path file = o.out / "labels" / (t.name + ".csv");
      WriteLabelFile(file, l);
      LogInfo("{}: {}", t.name, summary);
      return file;
    };
    auto config = [&](const Task& t, const std::string& base, const std::string& head,
                      const fs::path& labels) {
      TrainConfig c = o.train;
      c.base_dir = (o.out / "bases" / base).string();
      c.video = o.video;
      c.labels = labels.string();
      c.fps = 7;
      c.app = t.name;
      c.head = head;
      c.train_frames = frames;
      c.test_frames = test;
      c.threads = o.threads;
      c.output = (o.out / "packages" / (base + "-" + head) / t.name).string();
      c.work_dir = (o.out / "work").string();
      c.keep_work = true;
      return c;
    };

    // 1. Package build time, cache on and off.
    std::string timing_csv =
        "task,cache,seconds,prefix_seconds,candidates,threads,load_before,load_after\n";
    if (o.timing) {
      Task t;
      for (const Task& x : AllTasks()) {
        if (x.name == o.timing_task) t = x;
      }
      MS_CHECK(!t.name.empty(), "--timing-task: unknown task '{}'", o.timing_task);
      fs::path labels = labels_of(t);
      double seconds[2] = {0, 0};
      std::vector<double> per_bp[2] = {std::vector<double>(8, 0), std::vector<double>(8, 0)};
      for (bool cache : {true, false}) {
        TrainConfig c = config(t, "pretrained", SplitList(o.heads)[0], labels);
        c.cache = cache;
        c.work_dir = (o.out / (cache ? "timing-cache" : "timing-nocache")).string();
        c.output = (o.out / "packages" / (cache ? "timing-cache" : "timing-nocache")).string();
        fs::remove_all(c.work_dir);
        const double before = LoadAverage();
        c.keep_work = true;
        TrainReport r = RunTrain(c);
        seconds[cache ? 0 : 1] = r.seconds;
        CandidateStore store(c, r.package.head.value("config_hash", ""));
        for (int b = 0; b < 8; ++b) {
          if (auto rec = store.Find(CandidateKey(CandidateKind::kBranch, b), r.package.base)) {
            per_bp[cache ? 0 : 1][static_cast<size_t>(b)] =
                rec->candidate.train_seconds + rec->candidate.extra.value("prefix_seconds", 0.0);
          }
        }
        timing_csv +=
            fmt::format("{},{},{:.2f},{:.2f},{},{},{:.2f},{:.2f}\n", t.name, cache ? "on" : "off",
                        r.seconds, r.prefix_seconds, r.trained, o.threads, before, LoadAverage());
        std::fprintf(stderr, "%s", r.summary.c_str());
      }
      std::printf(
          "package build time for '%s' (%d branchpoints, %d threads): %.1f s with the activation "
          "cache, "
          "%.1f s without: %.2fx\n",
          t.name.c_str(), 8, o.threads, seconds[0], seconds[1], seconds[1] / seconds[0]);
      WriteFileAtomic(o.out / "timing.csv", timing_csv);
      // Per candidate: training plus computing its stem activations.
      std::string per = "branchpoint,seconds_cache,seconds_no_cache,ratio\n";
      for (size_t b = 0; b < 8; ++b) {
        per += fmt::format("{},{:.2f},{:.2f},{:.2f}\n", b, per_bp[0][b], per_bp[1][b],
                           per_bp[0][b] > 0 ? per_bp[1][b] / per_bp[0][b] : 0.0);
      }
      WriteFileAtomic(o.out / "timing_candidates.csv", per);
      std::printf("%s", per.c_str());
    }

    // 2. Accuracy per branchpoint.
    std::string csv =
        "task,base,head,branchpoint,kept,val_accuracy,val_tpr,val_fpr,test_accuracy,test_tpr,test_"
        "fpr,"
        "train_accuracy,train_seconds,epochs,package_seconds\n";
    for (const Task& t : tasks) {
      fs::path labels = labels_of(t);
      for (const auto& [base, epochs] : bases) {
        (void)epochs;
        for (const std::string& head : SplitList(o.heads)) {
          TrainConfig c = config(t, base, head, labels);
          TrainReport r = RunTrain(c);
          std::fprintf(stderr, "%s / %s / %s:\n%s", t.name.c_str(), base.c_str(), head.c_str(),
                       r.summary.c_str());
          const std::string hash = r.package.head.value("config_hash", "");
          CandidateStore store(c, hash);
          for (int b = 0; b < 8; ++b) {
            auto rec = store.Find(CandidateKey(CandidateKind::kBranch, b), r.package.base);
            if (!rec) continue;
            const Candidate& k = rec->candidate;
            const Json& ts = k.extra["test"];
            const Json& tr = k.extra["train"];
            csv += fmt::format(
                "{},{},{},{},{},{:.4f},{:.4f},{:.4f},{:.4f},{:.4f},{:.4f},{:.4f},{:.2f},{},{:.1f}"
                "\n",
                t.name, base, head, b, r.package.FindBranchpoint(b) ? 1 : 0, k.accuracy, k.tpr,
                k.fpr, ts.value("accuracy", -1.0), ts.value("tpr", -1.0), ts.value("fpr", -1.0),
                tr.value("accuracy", -1.0), k.train_seconds, k.extra.value("epochs_run", 0),
                r.seconds);
          }
          WriteFileAtomic(o.out / "accuracy.csv", csv);
        }
      }
    }
    meta["load_average_end"] = LoadAverage();
    WriteJsonFileAtomic(o.out / "bench_train.json", meta);
    std::printf("%s", csv.c_str());
    std::printf("wrote %s/accuracy.csv%s\n", o.out.c_str(), o.timing ? " and timing.csv" : "");
    return 0;
  });
}

// End-to-end: the mstrain binary on a synthetic fixed-camera video (a bright
// square is the event) with a tiny base it pretrains itself: labels from MOT
// boxes, pretrain, train, a kill -9 and resume, plan | sh + pack, and the
// bad-input contract (exit code 2, message naming the file, an earlier
// package intact).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>

#include "mainstream/core/sha256.h"
#include "mainstream/labels/label_file.h"
#include "mainstream/model/base_info.h"
#include "mainstream/package/mpackage.h"
#include "mainstream/train/candidate_store.h"
#include "testing/testing.h"
#include "testing/video_fixtures.h"

namespace fs = std::filesystem;

namespace mainstream {
namespace {

using testing::RunTool;
using testing::TempDir;

const fs::path kMstrain = fs::path(MS_TOOLS_DIR) / "mstrain" / "mstrain";

class E2EMstrain : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    const testing::SyntheticVideoSpec s = testing::TrainingVideoSpec(140, 5);
    testing::SyntheticVideo v = testing::WriteSyntheticVideo(Video(), s);
    testing::WriteMotBoxes(v, Mot());
    testing::WriteLabelsCsv(v, Labels());
    auto r = RunTool("mstrain",
                     "pretrain --video " + Video().string() + " --mot " + Mot().string() + " -o " +
                         Base().string() +
                         " --size 64x48 --width-mult 0.25 --last-channel 64 --grid 3x2 --epochs 4 "
                         "--stride 1 --threads 1 --name tiny");
    pretrain_ = new testing::ToolResult(r);
  }
  static void TearDownTestSuite() {
    delete pretrain_;
    delete dir_;
  }
  static fs::path Video() { return dir_->path() / "square.avi"; }
  static fs::path Mot() { return dir_->path() / "gt.txt"; }
  static fs::path Labels() { return dir_->path() / "square.csv"; }
  static fs::path Base() { return dir_->path() / "base"; }
  static std::string Data() {
    return " --base " + Base().string() + " --video " + Video().string() + " --labels " +
           Labels().string() + " --app square --gap 4 --threads 1";
  }

  static TempDir* dir_;
  static testing::ToolResult* pretrain_;
};
TempDir* E2EMstrain::dir_ = nullptr;
testing::ToolResult* E2EMstrain::pretrain_ = nullptr;

// Waits until the mstrain child has committed its first candidate (bp0.json
// in its work directory). Generous (5 min) so that a loaded CI machine does
// not fail the test; returns false early if the child exits first.
bool WaitForFirstCandidate(pid_t pid, const fs::path& root) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (std::chrono::steady_clock::now() < deadline) {
    std::error_code ec;
    for (const auto& d : fs::recursive_directory_iterator(root, ec)) {
      if (d.path().filename() == "bp0.json") return true;
    }
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      // Exited: look once more, then report; the caller's waitpid returns at once (ECHILD).
      for (const auto& d : fs::recursive_directory_iterator(root, ec)) {
        if (d.path().filename() == "bp0.json") return true;
      }
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST_F(E2EMstrain, PretrainWritesABaseAndReportsOnStderr) {
  ASSERT_EQ(pretrain_->exit_code, 0) << pretrain_->err;
  EXPECT_EQ(pretrain_->out, Base().string() + "\n");
  EXPECT_NE(pretrain_->err.find("pretrain epoch 4/4"), std::string::npos) << pretrain_->err;
  BaseInfo info = ReadBaseInfo(Base());
  EXPECT_EQ(info.name, "tiny");
  EXPECT_EQ(info.num_stages(), 8);
  EXPECT_EQ(info.source["tool"], "mstrain pretrain");
  EXPECT_EQ(info.source["threads"], 1);
}

TEST_F(E2EMstrain, LabelsFromMotBoxes) {
  TempDir tmp;
  auto r =
      RunTool("mstrain", "labels --mot " + Mot().string() + " --frames 140 --roi 0,0,48,72 -o " +
                             (tmp / "left.csv").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  FrameLabels left = ReadLabelFile(tmp / "left.csv");
  EXPECT_EQ(left.size(), 140u);
  EXPECT_GT(CountPositives(left), 0);
  EXPECT_LT(CountPositives(left), CountPositives(ReadLabelFile(Labels())));
  EXPECT_NE(r.err.find("140 frames"), std::string::npos) << r.err;
  auto bad = RunTool("mstrain",
                     "labels --mot " + Mot().string() + " --frames 140 --min-count two -o x.csv");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--min-count"), std::string::npos) << bad.err;
  // --frames 0 is an error, not "read seqinfo.ini instead".
  auto zero = RunTool(
      "mstrain", "labels --mot " + Mot().string() + " --frames 0 -o " + (tmp / "z.csv").string());
  EXPECT_EQ(zero.exit_code, 2);
  EXPECT_NE(zero.err.find("--frames"), std::string::npos) << zero.err;
  EXPECT_FALSE(fs::exists(tmp / "z.csv"));
  // A rule no frame matches, or an empty MOT file: legal, all-zero labels, and a warning that says
  // so.
  auto none =
      RunTool("mstrain", "labels --mot " + Mot().string() + " --frames 140 --min-count 1000 -o " +
                             (tmp / "none.csv").string());
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_EQ(CountPositives(ReadLabelFile(tmp / "none.csv")), 0);
  EXPECT_NE(none.err.find("no frame matches"), std::string::npos) << none.err;
  testing::WriteText(tmp / "empty.txt", "");
  auto empty = RunTool("mstrain", "labels --mot " + (tmp / "empty.txt").string() +
                                      " --frames 140 -o " + (tmp / "empty.csv").string());
  ASSERT_EQ(empty.exit_code, 0) << empty.err;
  EXPECT_NE(empty.err.find("no boxes"), std::string::npos) << empty.err;
  EXPECT_EQ(left.size(), ReadLabelFile(tmp / "empty.csv").size());
}

TEST_F(E2EMstrain, TrainIsKilledAndResumesFromTheLastFinishedCandidate) {
  ASSERT_EQ(pretrain_->exit_code, 0) << pretrain_->err;
  TempDir tmp;
  const fs::path out = tmp / "pk" / "square";
  const std::string args = "train" + Data() + " -o " + out.string() + " --epochs 8 --patience 8";
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string cmd = "exec " + kMstrain.string() + " " + args + " > /dev/null 2>&1";
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Kill it (SIGKILL: no cleanup) once the first candidate is finished.
  const fs::path root = DefaultWorkRoot(out);
  const bool finished_one = WaitForFirstCandidate(pid, root);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(finished_one);
  ASSERT_FALSE(fs::exists(out / kMPackageManifest)) << "finished before it could be killed";

  auto r = RunTool("mstrain", args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, out.string() + "\n");
  EXPECT_NE(r.err.find("already finished (resuming)"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("candidate 1/8 (branchpoint 0)"), std::string::npos)
      << "retrained a finished candidate";
  EXPECT_NE(r.err.find("ETA"), std::string::npos) << r.err;
  MPackage p = ReadMPackage(out);
  EXPECT_EQ(p.base.sha256, ReadBaseInfo(Base()).sha256);
  EXPECT_FALSE(p.candidates.empty());
  EXPECT_FALSE(fs::exists(root)) << "work directory left behind";
}

// Started in the background by a script, SIGINT is ignored (inherited
// SIG_IGN); mstrain still stops on it at the next batch, exit 130, with the
// finished candidates kept and their 'done' lines logged only once saved; a
// re-run resumes (issue 15, item 8).
TEST_F(E2EMstrain, SigintStopsABackgroundTrainCleanly) {
  ASSERT_EQ(pretrain_->exit_code, 0) << pretrain_->err;
  TempDir tmp;
  const fs::path out = tmp / "pk" / "square";
  const fs::path err = tmp / "err.txt";
  const std::string args =
      "train" + Data() + " -o " + out.string() + " --epochs 8 --patience 8 --log-level info";
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    signal(SIGINT, SIG_IGN);  // what `cmd &` in a non-interactive shell does
    const std::string cmd =
        "exec " + kMstrain.string() + " " + args + " > /dev/null 2> " + err.string();
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const fs::path root = DefaultWorkRoot(out);
  const bool finished_one = WaitForFirstCandidate(pid, root);
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(finished_one);
  ASSERT_FALSE(fs::exists(out / kMPackageManifest)) << "finished before it could be stopped";
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal "
                                 << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  EXPECT_EQ(WEXITSTATUS(status), 130);
  const std::string log = testing::ReadText(err);
  EXPECT_NE(log.find("mstrain: stopped: SIGINT after"), std::string::npos) << log;
  EXPECT_NE(log.find("run the same command again to resume"), std::string::npos) << log;
  // Every candidate logged as done has its record in the work directory.
  int done = 0, records = 0;
  for (size_t at = log.find(") done in "); at != std::string::npos;
       at = log.find(") done in ", at + 1))
    ++done;
  std::error_code ec;
  for (const auto& d : fs::recursive_directory_iterator(root, ec)) {
    const std::string f = d.path().filename().string();
    if (f.rfind("bp", 0) == 0 && d.path().extension() == ".json") ++records;
  }
  EXPECT_GE(done, 1);
  EXPECT_EQ(done, records) << log;
  EXPECT_EQ(log.find("terminate called"), std::string::npos) << log;
  auto r = RunTool("mstrain", args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("already finished (resuming)"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(out / kMPackageManifest));
}

TEST_F(E2EMstrain, PlanPrintsIndependentCommandsAndPackAssemblesThem) {
  ASSERT_EQ(pretrain_->exit_code, 0) << pretrain_->err;
  TempDir tmp;
  const fs::path out = tmp / "pk" / "square";
  auto plan = RunTool("mstrain",
                      "plan" + Data() + " -o " + out.string() + " --epochs 2 --branchpoints 5,6,7");
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  std::istringstream lines(plan.out);
  std::string line, script;
  int n = 0;
  while (std::getline(lines, line)) {
    EXPECT_NE(line.find(" train --config "), std::string::npos) << line;
    script += line + " || exit 1\n";
    ++n;
  }
  EXPECT_EQ(n, 3);
  const auto pack_pos = plan.err.find(" pack --config ");
  ASSERT_NE(pack_pos, std::string::npos) << plan.err;
  std::string pack = plan.err.substr(plan.err.rfind('\n', pack_pos) + 1);
  pack = pack.substr(0, pack.find('\n'));
  // Candidates in any order, as separate processes (a job array would).
  auto jobs = testing::RunShell(script);
  ASSERT_EQ(jobs.exit_code, 0) << jobs.err;
  auto packed = testing::RunShell(pack + "\n");
  ASSERT_EQ(packed.exit_code, 0) << packed.err;
  EXPECT_EQ(packed.out, out.string() + "\n");
  MPackage p = ReadMPackage(out);
  for (const auto& c : p.candidates) EXPECT_GE(c.branchpoint, 5);
}

TEST_F(E2EMstrain, BadInputExitsWithCode2NamingTheFileAndKeepsAnEarlierPackage) {
  ASSERT_EQ(pretrain_->exit_code, 0) << pretrain_->err;
  TempDir tmp;
  const fs::path out = tmp / "pk" / "square";
  const std::string quick = " --epochs 1 --branchpoints 7 -o " + out.string();
  auto ok = RunTool("mstrain", "train" + Data() + quick + " --keep-work");
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  const std::string manifest = testing::ReadText(out / kMPackageManifest);

  FrameLabels labels = ReadLabelFile(Labels());
  WriteLabelFile(tmp / "short.csv", FrameLabels(labels.begin(), labels.end() - 3));
  std::string text = testing::ReadText(Labels());
  text[text.find("\n7,") + 3] = 'x';
  testing::WriteText(tmp / "unknown.csv", text);
  WriteLabelFile(tmp / "none.csv", FrameLabels(labels.size(), 0));
  fs::copy(Base(), tmp / "base", fs::copy_options::recursive);
  std::string model = testing::ReadText(tmp / "base" / "model.pt");
  model[model.size() / 3] ^= 0x20;
  testing::WriteText(tmp / "base" / "model.pt", model);

  struct Case {
    std::string args, expect1, expect2;
  };
  const std::string base = " --base " + Base().string(), video = " --video " + Video().string();
  const std::string rest = " --app square --gap 4 --threads 1" + quick;
  const std::vector<Case> cases = {
      {base + video + " --labels " + (tmp / "short.csv").string() + rest, "short.csv",
       "has labels for 137 frames"},
      {base + video + " --labels " + (tmp / "unknown.csv").string() + rest, "unknown.csv:8", "'x'"},
      {base + video + " --labels " + (tmp / "none.csv").string() + rest, "none.csv", "no events"},
      {base + " --video " + (tmp / "missing.avi").string() + " --labels " + Labels().string() +
           rest,
       "missing.avi", "no such file"},
      {" --base " + (tmp / "base").string() + video + " --labels " + Labels().string() + rest,
       "base.json", "base hash mismatch"},
      {base + video + " --labels " + Labels().string() + " --app square --epochs 0 -o " +
           out.string(),
       "--epochs", "1..10000"},
  };
  for (const Case& c : cases) {
    auto r = RunTool("mstrain", "train" + c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find("mstrain: error: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.expect1), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.expect2), std::string::npos) << r.err;
    EXPECT_EQ(testing::ReadText(out / kMPackageManifest), manifest) << c.args;
  }

  // Disk full (a 2 KB file size limit) while packing the finished candidates.
  auto full = testing::RunShell("trap '' XFSZ\nulimit -f 2\nexec " + kMstrain.string() + " pack" +
                                Data() + quick + "\n");
  EXPECT_EQ(full.exit_code, 2) << full.err;
  EXPECT_NE(full.err.find("cannot write the package"), std::string::npos) << full.err;
  EXPECT_NE(full.err.find(out.string()), std::string::npos) << full.err;
  EXPECT_EQ(testing::ReadText(out / kMPackageManifest), manifest);
  for (const auto& e : fs::directory_iterator(out.parent_path())) {
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
  }
}

}  // namespace
}  // namespace mainstream

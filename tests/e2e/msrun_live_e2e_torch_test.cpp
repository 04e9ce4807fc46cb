// End-to-end: msrun --deployment --realtime on a live stream. ffmpeg (Debian's,
// installed by scripts/setup.sh) serves a synthetic video over HTTP on the
// loopback interface at its frame rate; msrun plans the deployment, and while
// it runs the test adds an app and removes another by renaming new
// deployment files over the old one, as an operator would.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <thread>

#include "mainstream/core/atomic_file.h"
#include "mainstream/core/json_io.h"
#include "mainstream/runtime/app_output.h"
#include "mainstream/runtime/node_run.h"
#include "mainstream/runtime/runtime.h"
#include "testing/testing.h"
#include "unit/runtime_testing.h"

namespace fs = std::filesystem;

namespace mainstream {
namespace {

using testing::TempDir;

// Starts `command` through the shell in its own process group; output to `log`.
pid_t Start(const std::string& command, const fs::path& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    const std::string cmd = "exec " + command + " > '" + log.string() + "' 2>&1";
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// Waits up to `seconds` for `pid`; kills its group if it is still running.
int Wait(pid_t pid, double seconds) {
  int status = 0;
  for (int i = 0; i < seconds * 10; ++i) {
    if (waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  kill(-pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

// ffmpeg serving `video` once, at its frame rate, as MPEG-TS over HTTP at
// `url` (to one client).
std::string ServeCommand(const fs::path& video, const std::string& url) {
  return "ffmpeg -hide_banner -loglevel error -re -i '" + video.string() +
         "' -c:v mpeg4 -q:v 2 -f mpegts -listen 1 " + url;
}

std::string Deployment(const fs::path& dir, const std::vector<std::string>& apps) {
  std::vector<fs::path> packages;
  for (const auto& a : apps) packages.push_back(dir / "pk" / a);
  return testing::DeploymentText(dir / "profile.json", packages, {5, 10});
}

TEST(E2EMsrunLive, AppsArriveAndLeaveOnALiveStream) {
  if (std::system("command -v ffmpeg > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "ffmpeg is not installed (scripts/setup.sh installs it)";
  TempDir tmp;
  // 100 frames at 20 fps: 5 s of stream.
  testing::RuntimeScenario s =
      testing::MakeRuntimeScenario(tmp.path(), {{"a", 3, 10}, {"b", 5, 10}, {"c", 7, 10}},
                                   testing::SyntheticVideoSpec{64, 48, 100, 20});
  testing::PrepareScenarioForPlanning(s);
  const int port = 20000 + static_cast<int>(getpid() % 20000);
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  const pid_t server = Start(ServeCommand(s.video.path, url), tmp / "ffmpeg.log");
  ASSERT_GT(server, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // ffmpeg listening

  const fs::path dep = tmp / "deployment.json";
  WriteFileAtomic(dep, Deployment(tmp.path(), {"a", "b"}));
  const fs::path out = tmp / "out";
  const pid_t msrun = Start(std::string(MS_TOOLS_DIR) + "/msrun/msrun --deployment " +
                                dep.string() + " --base " + s.base_dir.string() + " --input " +
                                url + " --fps-override 20 --realtime --poll 50" +
                                " --frames --out " + out.string() + " --threads 1 --progress 0.2",
                            tmp / "msrun.log");
  ASSERT_GT(msrun, 0);
  // Running frames: add c; a second later remove b.
  EXPECT_TRUE(testing::WaitForText(tmp / "msrun.log", {"msrun: frame"}, 30))
      << testing::ReadText(tmp / "msrun.log");
  WriteFileAtomic(dep, Deployment(tmp.path(), {"a", "b", "c"}));
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  WriteFileAtomic(dep, Deployment(tmp.path(), {"a", "c"}));

  const int status = Wait(msrun, 60);
  Wait(server, 5);
  ASSERT_NE(status, -1) << "msrun did not finish within 60 s: "
                        << testing::ReadText(tmp / "msrun.log");
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0) << testing::ReadText(tmp / "msrun.log");

  const Json summary = ReadJsonFile(out / kRunSummaryFile);
  EXPECT_EQ(summary["status"], "completed");
  // The stream's 100 frames, each decoded once.
  EXPECT_EQ(summary["frames"]["decoded"].get<int64_t>(), 100);
  EXPECT_EQ(summary["deployment"]["changes_accepted"].get<int>(), 2);
  EXPECT_EQ(summary["deployment"]["changes_rejected"].get<int>(), 0);
  const std::vector<Json> log = testing::ReadJsonLines(out / kDeploymentLogFile);
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[1]["arrived"], Json::array({"c"}));
  EXPECT_EQ(log[2]["left"], Json::array({"b"}));
  const int64_t c_from = log[1]["frame"].get<int64_t>(), b_until = log[2]["frame"].get<int64_t>();
  EXPECT_LT(c_from, b_until);
  // Each app sampled only while deployed, and analyzed what it sampled.
  auto frames = [&](const std::string& app) {
    std::vector<int64_t> f;
    for (const testing::ScoredFrame& r : testing::ReadScoredFrames(out / (app + kFramesSuffix)))
      f.push_back(r.frame);
    return f;
  };
  for (int64_t f : frames("c")) EXPECT_GT(f, c_from);
  for (int64_t f : frames("b")) EXPECT_LE(f, b_until);
  EXPECT_FALSE(frames("c").empty());
  for (const Json& a : summary["apps"]) {
    EXPECT_EQ(a["frames_analyzed"].get<int64_t>(),
              static_cast<int64_t>(frames(a["app"].get<std::string>()).size()))
        << a.dump();
    EXPECT_EQ(a["present"].get<bool>(), a["app"] != "b") << a.dump();
  }
}

TEST(E2EMsrunLive, ADroppedStreamIsReconnectedWithFramesNumberedOn) {
  if (std::system("command -v ffmpeg > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "ffmpeg is not installed (scripts/setup.sh installs it)";
  TempDir tmp;
  testing::RuntimeScenario s = testing::MakeRuntimeScenario(
      tmp.path(), {{"a", 3, 10}}, testing::SyntheticVideoSpec{64, 48, 40, 20});
  const int port = 20000 + static_cast<int>((getpid() + 7919) % 20000);
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  const std::string serve = ServeCommand(s.video.path, url);
  const pid_t first = Start(serve, tmp / "ffmpeg1.log");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const fs::path out = tmp / "out";
  const pid_t msrun =
      Start(std::string(MS_TOOLS_DIR) + "/msrun/msrun --schedule " + s.schedule.string() +
                " --base " + s.base_dir.string() + " --input " + url +
                " --fps-override 20 --realtime --reconnect 4 --frames --out " + out.string() +
                " --threads 1",
            tmp / "msrun.log");
  // The first connection ends after its 40 frames; serve 40 more once msrun
  // has noticed.
  Wait(first, 30);
  ASSERT_TRUE(testing::WaitForText(tmp / "msrun.log", {"lost the stream"}, 10))
      << testing::ReadText(tmp / "msrun.log");
  const pid_t second = Start(serve, tmp / "ffmpeg2.log");
  // After the second stream ends msrun retries for 4 s, then completes.
  const int status = Wait(msrun, 60);
  Wait(second, 5);
  ASSERT_NE(status, -1) << testing::ReadText(tmp / "msrun.log");
  ASSERT_TRUE(WIFEXITED(status)) << testing::ReadText(tmp / "msrun.log");
  ASSERT_EQ(WEXITSTATUS(status), 0) << testing::ReadText(tmp / "msrun.log");
  const Json summary = ReadJsonFile(out / kRunSummaryFile);
  EXPECT_EQ(summary["frames"]["decoded"].get<int64_t>(), 80);
  EXPECT_EQ(summary["frames"]["reconnects"].get<int64_t>(), 1);
  EXPECT_GT(summary["frames"]["outage_seconds"].get<double>(), 4.0);  // includes the final 4 s
  EXPECT_EQ(summary["input"]["last_frame"].get<int64_t>(), 80);
  // Frame numbers go on across the reconnection.
  int64_t previous = 0, rows = 0;
  for (const testing::ScoredFrame& r :
       testing::ReadScoredFrames(out / ("a" + std::string(kFramesSuffix)))) {
    EXPECT_GT(r.frame, previous);
    previous = r.frame;
    ++rows;
  }
  // The app samples every other frame: its last sample is frame 79 or 80.
  EXPECT_GE(previous, 79);
  EXPECT_LE(previous, 80);
  EXPECT_EQ(rows, summary["apps"][0]["frames_analyzed"].get<int64_t>());
}

// Two cameras, each a live stream served by its own ffmpeg on the loopback
// interface, in one deployment file: one msrun runs both and re-plans them
// jointly as apps arrive at one camera and leave the other.
TEST(E2EMsrunLive, TwoLiveCamerasShareOneDeploymentThatChanges) {
  if (std::system("command -v ffmpeg > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "ffmpeg is not installed (scripts/setup.sh installs it)";
  TempDir tmp;
  // 100 frames at 20 fps: 5 s of stream per camera.
  testing::RuntimeScenario s = testing::MakeRuntimeScenario(
      tmp.path(), {{"a", 3, 10}, {"b", 5, 10}, {"c", 3, 10}, {"d", 7, 10}},
      testing::SyntheticVideoSpec{64, 48, 100, 20});
  testing::PrepareScenarioForPlanning(s);
  const int port = 20000 + static_cast<int>((getpid() + 7919) % 20000);
  std::vector<std::string> urls;
  std::vector<pid_t> servers;
  for (int k = 0; k < 2; ++k) {
    urls.push_back("http://127.0.0.1:" + std::to_string(port + k));
    servers.push_back(Start(ServeCommand(s.video.path, urls.back()),
                            tmp / ("ffmpeg" + std::to_string(k) + ".log")));
    ASSERT_GT(servers.back(), 0);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // ffmpeg listening

  auto deployment = [&](const std::vector<std::string>& gate,
                        const std::vector<std::string>& yard) {
    auto apps = [&](const std::vector<std::string>& names) {
      Json a = Json::array();
      for (const auto& n : names) a.push_back((tmp / "pk" / n).string());
      return a;
    };
    return Json{{"schema_version", 1},
                {"kind", "mainstream.deployment"},
                {"profile", (tmp / "profile.json").string()},
                {"budget", 1000},
                {"algorithm", "greedy"},
                {"fps_options", {5, 10}},
                {"cameras",
                 Json::array({Json{{"name", "gate"}, {"input", urls[0]}, {"apps", apps(gate)}},
                              Json{{"name", "yard"}, {"input", urls[1]}, {"apps", apps(yard)}}})}}
        .dump();
  };
  const fs::path dep = tmp / "deployment.json";
  WriteFileAtomic(dep, deployment({"a", "b"}, {"c"}));
  const fs::path out = tmp / "out";
  const pid_t msrun =
      Start(std::string(MS_TOOLS_DIR) + "/msrun/msrun --deployment " + dep.string() + " --base " +
                s.base_dir.string() + " --fps-override 20 --realtime --poll 50 --frames --out " +
                out.string() + " --threads 2 --progress 0.2",
            tmp / "msrun.log");
  ASSERT_GT(msrun, 0);
  // Both cameras running frames: d arrives at the yard; a second later b
  // leaves the gate.
  EXPECT_TRUE(
      testing::WaitForText(tmp / "msrun.log", {"camera gate: frame", "camera yard: frame"}, 30))
      << testing::ReadText(tmp / "msrun.log");
  WriteFileAtomic(dep, deployment({"a", "b"}, {"c", "d"}));
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  WriteFileAtomic(dep, deployment({"a"}, {"c", "d"}));

  const int status = Wait(msrun, 60);
  for (pid_t server : servers) Wait(server, 5);
  ASSERT_NE(status, -1) << "msrun did not finish within 60 s: "
                        << testing::ReadText(tmp / "msrun.log");
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0) << testing::ReadText(tmp / "msrun.log");

  const Json node = ReadJsonFile(out / kNodeRunFile);
  EXPECT_EQ(node["status"], "completed");
  EXPECT_EQ(node["frames"]["decoded"].get<int64_t>(), 200);  // each stream's 100 frames once
  EXPECT_EQ(node["deployment"]["changes_rejected"].get<int>(), 0);
  EXPECT_EQ(node["deployment"]["changes_accepted"].get<int>(), 2);  // one per camera
  const std::vector<Json> gate = testing::ReadJsonLines(out / "gate" / kDeploymentLogFile);
  const std::vector<Json> yard = testing::ReadJsonLines(out / "yard" / kDeploymentLogFile);
  ASSERT_EQ(gate.size(), 3u);
  ASSERT_EQ(yard.size(), 3u);
  // The yard swaps at the first change and keeps its tree at the second; the
  // gate the other way round.
  EXPECT_EQ(yard[1]["status"], "swapped") << yard[1].dump();
  EXPECT_EQ(yard[1]["arrived"], Json::array({"d"}));
  EXPECT_EQ(yard[2]["status"], "unchanged") << yard[2].dump();
  EXPECT_EQ(gate[1]["status"], "unchanged") << gate[1].dump();
  EXPECT_EQ(gate[2]["status"], "swapped") << gate[2].dump();
  EXPECT_EQ(gate[2]["left"], Json::array({"b"}));
  const int64_t d_from = yard[1]["frame"].get<int64_t>();
  const int64_t b_until = gate[2]["frame"].get<int64_t>();
  for (const testing::ScoredFrame& r :
       testing::ReadScoredFrames(out / "yard" / ("d" + std::string(kFramesSuffix))))
    EXPECT_GT(r.frame, d_from);
  for (const testing::ScoredFrame& r :
       testing::ReadScoredFrames(out / "gate" / ("b" + std::string(kFramesSuffix))))
    EXPECT_LE(r.frame, b_until);
  for (const char* cam : {"gate", "yard"}) {
    const Json summary = ReadJsonFile(out / cam / kRunSummaryFile);
    EXPECT_EQ(summary["frames"]["decoded"].get<int64_t>(), 100) << cam;
    for (const Json& a : summary["apps"])
      EXPECT_GT(a["frames_analyzed"].get<int64_t>(), 0) << cam << a.dump();
  }
}

// Several cameras: one camera's stream drops and comes back (reconnected
// with back-off, counted in its summary) while the other camera goes on.
TEST(E2EMsrunLive, OneCameraReconnectsWhileTheOtherGoesOn) {
  if (std::system("command -v ffmpeg > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "ffmpeg is not installed (scripts/setup.sh installs it)";
  TempDir tmp;
  testing::RuntimeScenario s = testing::MakeRuntimeScenario(
      tmp.path(), {{"a", 3, 10}, {"b", 5, 10}}, testing::SyntheticVideoSpec{64, 48, 40, 20});
  testing::PrepareScenarioForPlanning(s);
  const int port = 20000 + static_cast<int>((getpid() + 3571) % 20000);
  const std::string gate_url = "http://127.0.0.1:" + std::to_string(port);
  const std::string yard_url = "http://127.0.0.1:" + std::to_string(port + 1);
  const pid_t gate = Start(ServeCommand(s.video.path, gate_url), tmp / "gate.log");
  const pid_t yard1 = Start(ServeCommand(s.video.path, yard_url), tmp / "yard1.log");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const fs::path dep = tmp / "cams.json";
  auto camera = [&](const std::string& name, const std::string& url, const std::string& app) {
    return Json{{"name", name}, {"input", url}, {"apps", {(tmp / "pk" / app).string()}}};
  };
  WriteFileAtomic(
      dep,
      Json{{"schema_version", 1},
           {"kind", "mainstream.deployment"},
           {"profile", (tmp / "profile.json").string()},
           {"budget", 1000},
           {"cameras", Json::array({camera("gate", gate_url, "a"), camera("yard", yard_url, "b")})}}
          .dump());
  const fs::path out = tmp / "out";
  const pid_t msrun =
      Start(std::string(MS_TOOLS_DIR) + "/msrun/msrun --deployment " + dep.string() + " --base " +
                s.base_dir.string() + " --fps-override 20 --realtime --reconnect 4 --out " +
                out.string() + " --threads 2 --progress 0.2",
            tmp / "msrun.log");
  // The yard's first connection ends after its 40 frames; serve 40 more
  // once msrun has noticed.
  Wait(yard1, 30);
  ASSERT_TRUE(testing::WaitForText(tmp / "msrun.log", {"lost the stream"}, 10))
      << testing::ReadText(tmp / "msrun.log");
  const pid_t yard2 = Start(ServeCommand(s.video.path, yard_url), tmp / "yard2.log");
  const int status = Wait(msrun, 60);
  Wait(gate, 5);
  Wait(yard2, 5);
  ASSERT_NE(status, -1) << testing::ReadText(tmp / "msrun.log");
  ASSERT_TRUE(WIFEXITED(status)) << testing::ReadText(tmp / "msrun.log");
  ASSERT_EQ(WEXITSTATUS(status), 0) << testing::ReadText(tmp / "msrun.log");
  const Json node = ReadJsonFile(out / kNodeRunFile);
  EXPECT_EQ(node["status"], "completed");
  const Json g = ReadJsonFile(out / "gate" / kRunSummaryFile);
  const Json y = ReadJsonFile(out / "yard" / kRunSummaryFile);
  EXPECT_EQ(g["frames"]["decoded"].get<int64_t>(), 40);  // its one stream, then it ended
  EXPECT_EQ(y["frames"]["decoded"].get<int64_t>(), 80);  // both connections, numbered on
  EXPECT_EQ(y["frames"]["reconnects"].get<int64_t>(), 1);
  EXPECT_EQ(y["input"]["last_frame"].get<int64_t>(), 80);
  EXPECT_EQ(node["frames"]["decoded"].get<int64_t>(), 120);
}

// One camera in the "cameras" form runs like the "apps" form, its stream
// from the file unless --input is given.
TEST(E2EMsrunLive, AOneCameraDeploymentReadsItsInputFromTheFile) {
  TempDir tmp;
  testing::RuntimeScenario s = testing::MakeRuntimeScenario(
      tmp.path(), {{"a", 3, 10}}, testing::SyntheticVideoSpec{64, 48, 12});
  testing::PrepareScenarioForPlanning(s);
  const fs::path dep = tmp / "one.json";
  WriteFileAtomic(dep,
                  Json{{"schema_version", 1},
                       {"kind", "mainstream.deployment"},
                       {"profile", (tmp / "profile.json").string()},
                       {"budget", 1000},
                       {"cameras", Json::array({Json{{"name", "gate"},
                                                     {"input", s.video.path.string()},
                                                     {"apps", {(tmp / "pk" / "a").string()}}}})}}
                      .dump());
  const testing::ToolResult r =
      testing::RunTool("msrun", "--deployment " + dep.string() + " --base " + s.base_dir.string() +
                                    " --out " + (tmp / "out").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadJsonFile(tmp / "out" / kRunSummaryFile)["frames"]["decoded"].get<int64_t>(), 12);
}

TEST(E2EMsrunLive, ReconnectNeedsALiveSource) {
  TempDir tmp;
  testing::RuntimeScenario s = testing::MakeRuntimeScenario(
      tmp.path(), {{"a", 3, 10}}, testing::SyntheticVideoSpec{64, 48, 10});
  const testing::ToolResult r =
      testing::RunTool("msrun", "--schedule " + s.schedule.string() + " --base " +
                                    s.base_dir.string() + " --input " + s.video.path.string() +
                                    " --reconnect 5 --out " + (tmp / "out").string());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--reconnect 5 needs a live source"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp / "out"));
}

}  // namespace
}  // namespace mainstream

#include "mainstream/runtime/run_config.h"

#include <cmath>
#include <set>

#include "mainstream/core/error.h"
#include "mainstream/core/parse.h"
#include "mainstream/video/video_source.h"

namespace mainstream {

LabelsArg ParseLabelsArg(const std::string& text) {
  auto [app, file] = ParseAssignment(text, "--labels", "APP=LABELS.csv (e.g. ped=labels/ped.csv)");
  return LabelsArg{std::move(app), std::move(file)};
}

void RunConfig::Validate() const {
  MS_CHECK(schedule.empty() != deployment.empty(),
           "give either --schedule (a fixed schedule.json) or --deployment (a live deployment "
           "file msrun plans and watches), {}",
           schedule.empty() ? "not neither" : "not both");
  MS_CHECK(
      std::isfinite(deployment_poll_ms) && deployment_poll_ms >= 0 && deployment_poll_ms <= 3600000,
      "--poll: expected 0..3600000 ms between checks of the deployment file (0: at every "
      "frame), got {}",
      deployment_poll_ms);
  MS_CHECK(deployment.empty() || phases == 1,
           "--phases {} cannot be combined with --deployment: a live deployment changes as it "
           "runs",
           phases);
  MS_CHECK(!base_dir.empty(), "--base: the base directory (model.pt + base.json) is required");
  MS_CHECK(!input.empty(), "--input: a video file, stream URL or camera:N is required");
  MS_CHECK(!out_dir.empty(), "--out: an output directory is required");
  MS_CHECK(threads >= 1 && threads <= 1024, "--threads: expected 1..1024, got {}", threads);
  MS_CHECK(start_frame >= 1, "--start-frame: frames are numbered from 1 (like label files), got {}",
           start_frame);
  MS_CHECK(end_frame == 0 || end_frame >= start_frame,
           "--end-frame: {} is before --start-frame {} (both 1-based and inclusive)", end_frame,
           start_frame);
  MS_CHECK(fps_override == 0 ||
               (std::isfinite(fps_override) && fps_override > 0 && fps_override <= 1000),
           "--fps-override: expected a frame rate in (0, 1000], got {}", fps_override);
  MS_CHECK(batch >= 1 && batch <= 256, "--batch: expected 1..256, got {}", batch);
  MS_CHECK(std::isfinite(reconnect_s) && reconnect_s >= 0 && reconnect_s <= 31536000,
           "--reconnect: expected seconds in [0, 31536000] (0: the run ends with the stream), got "
           "{}",
           reconnect_s);
  MS_CHECK(reconnect_s == 0 || ParseVideoInput(input).kind != SourceKind::kFile,
           "--reconnect {} needs a live source (a stream URL or camera:N): '{}' is a file",
           reconnect_s, input);
  MS_CHECK(!(realtime && batch > 1),
           "--batch {} cannot be combined with --realtime: a real-time run processes each frame as "
           "it arrives",
           batch);
  MS_CHECK(std::isfinite(max_lag_ms) && max_lag_ms >= 0 && max_lag_ms <= 3600000,
           "--max-lag: expected 0..3600000 ms (0: one frame interval), got {}", max_lag_ms);
  MS_CHECK(max_lag_ms == 0 || realtime,
           "--max-lag {} needs --realtime: without it no frame is late", max_lag_ms);
  MS_CHECK(bootstrap_resamples >= 0 && bootstrap_resamples <= 1000000,
           "--bootstrap: expected 0..1000000 resamples, got {}", bootstrap_resamples);
  MS_CHECK(std::isfinite(progress_interval_s) && progress_interval_s >= 0,
           "progress interval must be >= 0 seconds, got {}", progress_interval_s);
  MS_CHECK(phases >= 1 && phases <= 10000, "--phases: expected 1..10000, got {}", phases);
  MS_CHECK(!(realtime && phases > 1),
           "--phases {} cannot be combined with --realtime: phases re-run the same frames", phases);
  MS_CHECK(
      phases == 1 || (input.rfind("camera:", 0) != 0 && input.find("://") == std::string::npos),
      "--phases {} needs a video file: '{}' is a live stream or camera, which cannot be replayed",
      phases, input);
  std::set<std::string> apps;
  for (const auto& l : labels) {
    MS_CHECK(!l.app.empty() && !l.file.empty(), "--labels: expected APP=LABELS.csv, got \"{}={}\"",
             l.app, l.file.string());
    MS_CHECK(apps.insert(l.app).second, "--labels: app \"{}\" is given twice", l.app);
  }
}

Json RunConfig::ToJson() const {
  Json labels_json = Json::object();
  for (const auto& l : labels) labels_json[l.app] = l.file.string();
  return Json{{"schedule", schedule.string()},
              {"deployment", deployment.string()},
              {"deployment_poll_ms", deployment_poll_ms},
              {"base", base_dir.string()},
              {"input", input},
              {"out", out_dir.string()},
              {"labels", labels_json},
              {"realtime", realtime},
              {"max_lag_ms", max_lag_ms},
              {"threads", threads},
              {"seed", seed},
              {"write_frames", write_frames},
              {"start_frame", start_frame},
              {"end_frame", end_frame},
              {"fps_override", fps_override},
              {"batch", batch},
              {"prefetch", prefetch},
              {"overlap", overlap},
              {"stem_split", stem_split},
              {"speed_probe", speed_probe},
              {"reconnect_s", reconnect_s},
              {"bootstrap_resamples", bootstrap_resamples},
              {"phases", phases}};
}

RunConfig RunConfig::FromJson(const JsonView& v) {
  RunConfig c;
  c.schedule = v.String("schedule");
  if (auto f = v.OptionalField("deployment")) c.deployment = f->AsString();
  if (auto f = v.OptionalField("deployment_poll_ms"))
    c.deployment_poll_ms = f->AsNumberIn(0, 3600000);
  c.base_dir = v.String("base");
  c.input = v.String("input");
  c.out_dir = v.String("out");
  if (auto l = v.OptionalField("labels")) {
    if (!l->IsObject()) l->Fail("expected an object {{\"app\": \"labels.csv\"}}");
    for (const auto& [app, file] : l->raw().items()) {
      c.labels.push_back(LabelsArg{app, l->Field(app).AsString()});
    }
  }
  if (auto f = v.OptionalField("realtime")) c.realtime = f->AsBool();
  if (auto f = v.OptionalField("max_lag_ms")) c.max_lag_ms = f->AsNumberIn(0, 3600000);
  if (auto f = v.OptionalField("threads")) c.threads = static_cast<int>(f->AsIntIn(1, 1024));
  if (auto f = v.OptionalField("seed")) c.seed = static_cast<uint64_t>(f->AsIntIn(0, INT64_MAX));
  if (auto f = v.OptionalField("write_frames")) c.write_frames = f->AsBool();
  if (auto f = v.OptionalField("start_frame")) c.start_frame = f->AsIntIn(1, INT64_MAX);
  if (auto f = v.OptionalField("end_frame")) c.end_frame = f->AsIntIn(0, INT64_MAX);
  if (auto f = v.OptionalField("fps_override")) c.fps_override = f->AsNumberIn(0, 1000);
  if (auto f = v.OptionalField("batch")) c.batch = static_cast<int>(f->AsIntIn(1, 256));
  if (auto f = v.OptionalField("prefetch")) c.prefetch = f->AsBool();
  if (auto f = v.OptionalField("overlap")) c.overlap = f->AsBool();
  if (auto f = v.OptionalField("stem_split")) c.stem_split = f->AsBool();
  if (auto f = v.OptionalField("speed_probe")) c.speed_probe = f->AsBool();
  if (auto f = v.OptionalField("reconnect_s")) c.reconnect_s = f->AsNumberIn(0, 31536000);
  if (auto f = v.OptionalField("bootstrap_resamples"))
    c.bootstrap_resamples = static_cast<int>(f->AsIntIn(0, 1000000));
  if (auto f = v.OptionalField("phases")) c.phases = static_cast<int>(f->AsIntIn(1, 10000));
  return c;
}

std::string RunConfig::ToString() const {
  std::string range = end_frame > 0 ? fmt::format("frames {}..{}", start_frame, end_frame)
                                    : fmt::format("frames {}..end", start_frame);
  return fmt::format(
      "{}, base {}, input {} ({}{}), {}, {} thread(s), seed {}{}{}{}",
      deployment.empty() ? "schedule " + schedule.string() : "deployment " + deployment.string(),
      base_dir.string(), input, range,
      fps_override > 0 ? fmt::format(", {} fps", fps_override) : "",
      realtime ? "real time" : "as fast as possible", threads, seed,
      batch > 1 ? fmt::format(", batch {}", batch) : "",
      phases > 1 ? fmt::format(", {} sampling phases", phases) : "",
      labels.empty() ? "" : fmt::format(", labels for {} app(s)", labels.size()));
}

}  // namespace mainstream

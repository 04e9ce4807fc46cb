#include "mainstream/train/candidate_store.h"

#include <algorithm>
#include <chrono>

#include "mainstream/core/error.h"
#include "mainstream/core/log.h"
#include "mainstream/core/sha256.h"
#include "mainstream/model/base_info.h"

namespace fs = std::filesystem;

namespace mainstream {

namespace {

constexpr int kRecordSchemaVersion = 2;  // 2: out-of-fold scores

Json FileIdentity(const fs::path& p) {
  std::error_code ec;
  const auto size = fs::file_size(p, ec);
  const auto mtime = fs::last_write_time(p, ec);
  return Json{{"path", fs::absolute(p).lexically_normal().string()},
              {"size", ec ? 0 : static_cast<uint64_t>(size)},
              {"mtime", ec ? 0 : static_cast<int64_t>(mtime.time_since_epoch().count())}};
}

std::string EncodeBits(const FrameLabels& bits) {
  std::string s(bits.size(), '0');
  for (size_t i = 0; i < bits.size(); ++i) s[i] = bits[i] ? '1' : '0';
  return s;
}

FrameLabels DecodeBits(const JsonView& v) {
  std::string s = v.AsString();
  FrameLabels out(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '0' && s[i] != '1') v.Fail("expected a string of 0s and 1s");
    out[i] = s[i] == '1';
  }
  return out;
}

}  // namespace

Json CandidateRecord::ToJson() const {
  Json val = Json::array();
  for (const auto& t : validation) {
    val.push_back(Json{{"start", t.block.start},
                       {"end", t.block.end},
                       {"predictions", EncodeBits(t.predictions)}});
  }
  Json j{{"schema_version", kRecordSchemaVersion},
         {"kind", "mainstream.mstrain_candidate"},
         {"config_hash", config_hash},
         {"base", base.ToJson()},
         {"candidate", candidate.ToJson()},
         {"weights_sha256", weights_sha256},
         {"validation", val},
         {"oof", nullptr}};
  if (oof) {
    std::vector<double> scores(oof->scores.begin(), oof->scores.end());
    j["oof"] = Json{{"frames", oof->frames}, {"folds", oof->folds}, {"scores", scores}};
  }
  return j;
}

CandidateRecord CandidateRecord::FromJson(const JsonView& v) {
  v.RequireSchemaIn(1, kRecordSchemaVersion, "mstrain candidate record");
  CandidateRecord r;
  r.config_hash = v.String("config_hash");
  r.base = BaseRef::FromJson(v.Field("base"));
  r.candidate = Candidate::FromJson(v.Field("candidate"));
  r.weights_sha256 = v.Field("weights_sha256").AsNonEmptyString();
  for (const JsonView& t : v.Array("validation")) {
    ValidationTrace tr;
    tr.block.start = t.IntIn("start", 1, int64_t{1} << 40);
    tr.block.end = t.IntIn("end", tr.block.start, int64_t{1} << 40);
    tr.predictions = DecodeBits(t.Field("predictions"));
    if (static_cast<int64_t>(tr.predictions.size()) != tr.block.length()) {
      t.Field("predictions")
          .Fail("has {} predictions for {} frames", tr.predictions.size(), tr.block.length());
    }
    r.validation.push_back(std::move(tr));
  }
  if (auto o = v.OptionalField("oof")) {
    OutOfFoldScores s;
    for (const JsonView& f : o->Array("frames")) {
      s.frames.push_back(f.AsIntIn(1, int64_t{1} << 40));
      if (s.frames.size() > 1 && s.frames.back() <= s.frames[s.frames.size() - 2])
        f.Fail("frames must increase");
    }
    for (const JsonView& f : o->Array("folds"))
      s.folds.push_back(static_cast<int>(f.AsIntIn(0, 1000)));
    for (const JsonView& f : o->Array("scores"))
      s.scores.push_back(static_cast<float>(f.AsNumberIn(0, 1)));
    if (s.folds.size() != s.frames.size() || s.scores.size() != s.frames.size()) {
      o->Fail("{} frames, {} folds and {} scores: the lists must have equal lengths",
              s.frames.size(), s.folds.size(), s.scores.size());
    }
    r.oof = std::move(s);
  }
  return r;
}

std::string TrainConfigHash(const TrainConfig& config, const BaseInfo& base) {
  Json data;
  if (config.uses_images()) {
    Json files = Json::array();
    std::vector<fs::path> all;
    for (const auto& e : fs::recursive_directory_iterator(config.images)) {
      if (e.is_regular_file()) all.push_back(e.path());
    }
    std::sort(all.begin(), all.end());
    for (const auto& p : all) files.push_back(FileIdentity(p));
    data = Json{{"images", files}};
  } else {
    data =
        Json{{"labels_sha256", Sha256File(config.labels)}, {"video", FileIdentity(config.video)}};
  }
  Json key{{"base_sha256", base.sha256}, {"data", data}, {"training", config.TrainingJson()}};
  return Sha256Hex(key.dump()).substr(0, 16);
}

fs::path DefaultWorkRoot(const fs::path& output) {
  fs::path out = output.lexically_normal();
  if (out.filename().empty()) out = out.parent_path();
  return out.parent_path() / ("." + out.filename().string() + ".mstrain");
}

CandidateStore::CandidateStore(const TrainConfig& config, const std::string& hash)
    : root_(config.work_dir.empty() ? DefaultWorkRoot(config.output) : fs::path(config.work_dir)),
      dir_(root_ / hash),
      hash_(hash) {}

std::string CandidateStore::WeightsName(const std::string& key) { return key + ".pt"; }
fs::path CandidateStore::WeightsPath(const std::string& key) const {
  return dir_ / WeightsName(key);
}
fs::path CandidateStore::RecordPath(const std::string& key) const { return dir_ / (key + ".json"); }

void CandidateStore::WriteConfig(const TrainConfig& config) const {
  Json j = config.ToJson();
  if (fs::exists(ConfigPath())) {
    try {
      if (ReadJsonFile(ConfigPath()) == j) return;
    } catch (const Error&) {
      // rewritten below
    }
  }
  WriteJsonFileAtomic(ConfigPath(), j);
}

std::optional<CandidateRecord> CandidateStore::Find(const std::string& key,
                                                    const BaseRef& base) const {
  const fs::path rec = RecordPath(key);
  if (!fs::exists(rec)) return std::nullopt;
  CandidateRecord r;
  try {
    Json j = ReadJsonFile(rec);
    r = CandidateRecord::FromJson(JsonView(j, rec.string()));
  } catch (const InputError& e) {
    LogWarn("ignoring an unreadable candidate record (it will be retrained): {}", e.what());
    return std::nullopt;
  }
  if (r.base.sha256 != base.sha256) {
    ThrowInput(
        "{}: $.base.sha256: base hash mismatch: the candidate was fine-tuned from base '{}' "
        "({}...) but the "
        "base given is '{}' ({}...); retrain it or point --base at the base it was built from",
        rec.string(), r.base.id, r.base.sha256.substr(0, 12), base.id, base.sha256.substr(0, 12));
  }
  if (r.candidate.key() != key) {
    LogWarn("{}: records candidate {}, expected {}; retraining it", rec.string(), r.candidate.key(),
            key);
    return std::nullopt;
  }
  const fs::path w = WeightsPath(key);
  if (!fs::exists(w) || Sha256File(w) != r.weights_sha256) {
    LogWarn("{}: the weights {} are missing or do not match the record; retraining {}",
            rec.string(), w.string(), key);
    return std::nullopt;
  }
  return r;
}

void CandidateStore::Commit(const CandidateRecord& record) const {
  WriteJsonFileAtomic(RecordPath(record.candidate.key()), record.ToJson());
}

void CandidateStore::Remove() const {
  std::error_code ec;
  fs::remove_all(dir_, ec);
  if (fs::is_directory(root_, ec) && fs::is_empty(root_, ec)) fs::remove(root_, ec);
}

TrainConfig ReadTrainConfig(const fs::path& file) {
  Json j = ReadJsonFile(file);
  TrainConfig c = TrainConfig::FromJson(JsonView(j, file.string()));
  c.Validate();
  return c;
}

}  // namespace mainstream

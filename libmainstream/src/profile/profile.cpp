#include "mainstream/profile/profile.h"

#include <algorithm>

#include "mainstream/profile/cache_probe.h"

namespace mainstream {

std::vector<double> Profile::StageLatencies() const {
  std::vector<double> out;
  out.reserve(stages.size());
  for (const auto& s : stages) out.push_back(s.cost_ms());
  return out;
}

std::vector<double> Profile::BranchLatencies() const {
  std::vector<double> out;
  for (const auto& s : stages) {
    if (s.branch_p50_ms <= 0) return {};
    out.push_back(s.branch_p50_ms);
  }
  return out;
}

double Profile::TotalStageMs() const {
  double t = 0;
  for (const auto& s : stages) t += s.cost_ms();
  return t;
}

double Profile::DecodeExtraMs() const {
  return decode_after_dnn_ms > 0 ? std::max(0.0, decode_after_dnn_ms - decode_ms) : 0.0;
}

double Profile::SpeedReferenceMs() const {
  return speed_reference_ms > 0 ? speed_reference_ms : TotalStageMs();
}

bool Profile::HasMemory() const {
  if (stages.empty()) return false;
  for (const auto& s : stages)
    if (s.param_bytes < 0 || s.activation_bytes < 0) return false;
  return true;
}

bool Profile::HasCache() const {
  if (!HasMemory() || cache.empty()) return false;
  for (const auto& s : stages)
    if (s.cold_p50_ms <= 0) return false;
  return true;
}

Json Profile::ToJson() const {
  Json st = Json::array();
  for (const auto& s : stages) {
    Json t{{"name", s.name}, {"p50_ms", s.p50_ms}, {"p95_ms", s.p95_ms}};
    if (s.ms > 0) t["ms"] = s.ms;
    if (s.branch_p50_ms > 0) t["branch_p50_ms"] = s.branch_p50_ms;
    if (s.param_bytes >= 0) t["param_bytes"] = s.param_bytes;
    if (s.activation_bytes >= 0) t["activation_bytes"] = s.activation_bytes;
    if (s.resident_bytes >= 0) t["resident_bytes"] = s.resident_bytes;
    if (s.cold_p50_ms > 0) {
      t["cold_p50_ms"] = s.cold_p50_ms;
      t["cold_reuse_bytes"] = s.cold_reuse_bytes;
    }
    st.push_back(std::move(t));
  }
  Json j{{"schema_version", kProfileSchemaVersion},
         {"kind", "mainstream.profile"},
         {"base", base.ToJson()},
         {"machine", machine},
         {"threads", threads},
         {"batch", batch},
         {"input", input},
         {"decode_ms", decode_ms},
         {"preprocess_ms", preprocess_ms},
         {"whole_model_p50_ms", whole_model_p50_ms},
         {"stages", st},
         {"extra", extra}};
  if (speed_reference_ms > 0) j["speed_reference_ms"] = speed_reference_ms;
  if (decode_after_dnn_ms > 0) j["decode_after_dnn_ms"] = decode_after_dnn_ms;
  if (!calibration.is_null()) j["calibration"] = calibration;
  if (HasMemory()) j["input_bytes"] = input_bytes;
  if (memory_overhead_bytes > 0) j["memory_overhead_bytes"] = memory_overhead_bytes;
  if (memory_segment_bytes > 0) j["memory_segment_bytes"] = memory_segment_bytes;
  if (!cache.empty()) {
    j["cache"] = Json{{"probe", ProbeCurveToJson(cache.bytes, cache.ns_per_line)},
                      {"reported_llc_bytes", cache.reported_llc_bytes}};
  }
  return j;
}

Profile Profile::FromJson(const JsonView& v) {
  v.RequireKind("mainstream.profile", "profile");
  v.RequireSchema(kProfileSchemaVersion, "profile");
  Profile p;
  p.base = BaseRef::FromJson(v.Field("base"));
  if (auto m = v.OptionalField("machine")) {
    if (!m->IsObject()) m->Fail("expected an object");
    p.machine = m->raw();
  }
  p.threads = static_cast<int>(v.IntIn("threads", 1, 4096));
  if (auto b = v.OptionalField("batch")) p.batch = static_cast<int>(b->AsIntIn(1, 1 << 20));
  if (auto i = v.OptionalField("input")) p.input = i->AsString();
  p.decode_ms = v.NumberIn("decode_ms", 0, 1e7);
  if (auto pre = v.OptionalField("preprocess_ms")) p.preprocess_ms = pre->AsNumberIn(0, 1e7);
  if (auto w = v.OptionalField("whole_model_p50_ms")) p.whole_model_p50_ms = w->AsNumberIn(0, 1e7);
  if (auto d = v.OptionalField("decode_after_dnn_ms"))
    p.decode_after_dnn_ms = d->AsNumberIn(1e-9, 1e7);
  if (auto r = v.OptionalField("speed_reference_ms"))
    p.speed_reference_ms = r->AsNumberIn(1e-9, 1e7);
  JsonView st = v.Field("stages");
  if (st.Size() != static_cast<size_t>(p.base.num_stages)) {
    st.Fail("has {} stage timings but the base has num_stages {}", st.Size(), p.base.num_stages);
  }
  for (const JsonView& s : st.Elements()) {
    StageTiming t;
    t.name = s.String("name");
    t.p50_ms = s.NumberIn("p50_ms", 0, 1e7);
    t.p95_ms = s.NumberIn("p95_ms", 0, 1e7);
    if (t.p95_ms < t.p50_ms) s.Field("p95_ms").Fail("p95 {} is below p50 {}", t.p95_ms, t.p50_ms);
    if (auto m = s.OptionalField("ms")) t.ms = m->AsNumberIn(1e-9, 1e7);
    if (auto b = s.OptionalField("branch_p50_ms")) t.branch_p50_ms = b->AsNumberIn(1e-9, 1e7);
    if (auto b = s.OptionalField("param_bytes")) t.param_bytes = b->AsNumberIn(0, 1e13);
    if (auto b = s.OptionalField("activation_bytes")) t.activation_bytes = b->AsNumberIn(0, 1e13);
    if (auto b = s.OptionalField("resident_bytes")) t.resident_bytes = b->AsNumberIn(0, 1e13);
    if (auto c = s.OptionalField("cold_p50_ms")) {
      t.cold_p50_ms = c->AsNumberIn(1e-9, 1e7);
      t.cold_reuse_bytes = s.NumberIn("cold_reuse_bytes", 1, 1e13);
    }
    p.stages.push_back(std::move(t));
  }
  size_t with_memory = 0;
  for (const auto& t : p.stages) with_memory += t.param_bytes >= 0 || t.activation_bytes >= 0;
  if (with_memory != 0 && !p.HasMemory()) {
    st.Fail(
        "{} of its {} stages record memory: give param_bytes and activation_bytes for every stage "
        "or none",
        with_memory, p.stages.size());
  }
  size_t with_resident = 0;
  for (const auto& t : p.stages) with_resident += t.resident_bytes >= 0;
  if (with_resident != 0 && (with_resident != p.stages.size() || !p.HasMemory())) {
    st.Fail(
        "{} of its {} stages record resident_bytes: give it for every stage (with param_bytes and "
        "activation_bytes) or none",
        with_resident, p.stages.size());
  }
  if (p.HasMemory()) p.input_bytes = v.NumberIn("input_bytes", 0, 1e13);
  if (auto o = v.OptionalField("memory_overhead_bytes")) {
    if (!p.HasMemory()) o->Fail("needs the stages' param_bytes and activation_bytes");
    p.memory_overhead_bytes = o->AsNumberIn(0, 1e13);
  }
  if (auto o = v.OptionalField("memory_segment_bytes")) {
    if (!p.HasMemory()) o->Fail("needs the stages' param_bytes and activation_bytes");
    p.memory_segment_bytes = o->AsNumberIn(0, 1e13);
  }
  size_t with_branch = 0;
  for (const auto& t : p.stages) with_branch += t.branch_p50_ms > 0 ? 1 : 0;
  if (with_branch != 0 && with_branch != p.stages.size()) {
    st.Fail("{} of its {} stages have branch_p50_ms: give it for every stage or none", with_branch,
            p.stages.size());
  }
  if (auto c = v.OptionalField("cache")) {
    ReadProbeCurve(c->Field("probe"), &p.cache.bytes, &p.cache.ns_per_line);
    if (auto r = c->OptionalField("reported_llc_bytes"))
      p.cache.reported_llc_bytes = r->AsNumberIn(0, 1e13);
  }
  size_t with_cold = 0;
  for (const auto& t : p.stages) with_cold += t.cold_p50_ms > 0 ? 1 : 0;
  if (with_cold != 0 && (with_cold != p.stages.size() || !p.HasMemory() || p.cache.empty())) {
    st.Fail(
        "{} of its {} stages have cold_p50_ms: give it for every stage, with param_bytes, "
        "activation_bytes and the cache probe ($.cache), or none",
        with_cold, p.stages.size());
  }
  if (auto e = v.OptionalField("extra")) p.extra = e->raw();
  if (auto c = v.OptionalField("calibration")) {
    if (!c->IsObject()) c->Fail("expected an object");
    p.calibration = c->raw();
  }
  if (p.TotalStageMs() <= 0) st.Fail("all stage latencies are 0: the profile measured nothing");
  return p;
}

Profile ReadProfile(const std::filesystem::path& file) {
  Json j = ReadJsonFile(file);
  return Profile::FromJson(JsonView(j, file.string()));
}

void WriteProfile(const Profile& profile, const std::filesystem::path& file) {
  WriteJsonFileAtomic(file, profile.ToJson());
}

}  // namespace mainstream

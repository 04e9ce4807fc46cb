// node.json (msschedule plan's output: how several cameras split one budget;
// docs/formats.md): ReadNodePlan, which validates every field, reads the
// cameras' schedules beside it (ReadSchedule) and checks the totals against
// them; then a write/read round trip of what it accepted.
//
// Input: node.json, then up to three schedule files written beside it as
// cam0.schedule.json, cam1.schedule.json, cam2.schedule.json, separated by
// "----" lines.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "mainstream/schedule/node_plan.h"

using namespace mainstream;

namespace {
[[maybe_unused]] const int kQuiet = fuzz::Quiet();
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<std::string_view> parts = fuzz::SplitParts(fuzz::AsText(data, size), 4);
  const std::filesystem::path dir = fuzz::Scratch::Fresh("node_plan");
  fuzz::WriteFile(dir / "node.json", parts[0]);
  for (size_t i = 1; i < parts.size(); ++i)
    fuzz::WriteFile(dir / ("cam" + std::to_string(i - 1) + ".schedule.json"), parts[i]);
  NodePlan plan;
  if (!fuzz::Accepts([&] { plan = ReadNodePlan(dir); })) return 0;
  double cost = 0;
  for (const NodeCamera& c : plan.cameras) cost += c.schedule.total_cost;
  if (plan.cameras.empty() || cost > plan.budget * (1 + 1e-6) + 1e-6)
    fuzz::Finding("node.json: accepted a plan without cameras or over its budget");

  const std::filesystem::path again = fuzz::Scratch::Fresh("node_plan_again") / "plan";
  WriteNodePlan(plan, again);
  const NodePlan back = ReadNodePlan(again);
  if (back.ToJson() != plan.ToJson())
    fuzz::Finding("node.json: a written plan reads back differently");
  return 0;
}

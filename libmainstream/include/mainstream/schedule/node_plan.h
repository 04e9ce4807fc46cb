// A node's plan: every camera of a deployment scheduled under one budget
// (msschedule plan). Written as a directory: one ordinary schedule.json per
// camera (<name>.schedule.json, runnable by msrun) and node.json, which says
// how the budget was split and what the node as a whole is predicted to do
// (docs/formats.md, "node.json"; the search: docs/algorithms.md, "Several
// cameras").
#pragma once

#include <deque>
#include <exception>
#include <filesystem>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "mainstream/core/json_io.h"
#include "mainstream/schedule/deployment_spec.h"
#include "mainstream/schedule/multi_camera.h"
#include "mainstream/schedule/schedule_doc.h"

namespace mainstream {

inline constexpr int kNodePlanSchemaVersion = 1;
inline constexpr const char* kNodePlanKind = "mainstream.node_plan";

struct NodeCamera {
  std::string name;
  std::string input;          // the camera's stream ("": not given)
  std::string schedule_file;  // relative to node.json's directory
  double share = 0;           // ms/s of the node's budget given to this camera
  ScheduleDoc schedule;
};

struct NodePlan {
  std::string deployment;  // the deployment file planned ("" when not from one)
  std::string algorithm;
  double budget = 0;         // ms of compute per second of video, all cameras together
  double budget_factor = 0;  // > 0: the budget was this multiple of cheapest_cost
  double cheapest_cost = 0;  // every camera's cheapest schedule together
  double total_cost = 0;
  size_t apps = 0;
  double mean_f1 = 0, min_f1 = 0;
  bool exact = false;
  double bound_mean_f1 = std::numeric_limits<double>::quiet_NaN();
  double gap = std::numeric_limits<double>::quiet_NaN();
  int64_t searches = 0;
  double seconds = 0;
  std::vector<NodeCamera> cameras;

  Json ToJson() const;
};

// Plans every camera of `spec` jointly (a deployment in the "apps" form is
// one camera named "camera"). Reads each camera's profile and packages
// (checked against each other as msschedule schedule does); the budget
// ("1.5x": of every camera's cheapest schedule together) is split by
// MultiCameraSearch. Errors name the deployment file and field.
NodePlan PlanNode(const DeploymentSpec& spec, const MultiCameraOptions& options = {});

// Writes the plan as directory `dir`: <camera>.schedule.json per camera,
// then node.json, staged beside it and renamed into place whole (an earlier
// plan there is replaced; a directory that is not a plan is refused).
void WriteNodePlan(const NodePlan& plan, const std::filesystem::path& dir);

// Reads and validates node.json (or the directory holding it) and every
// schedule it names; the totals must agree with the schedules. InputError
// naming the file and field otherwise.
NodePlan ReadNodePlan(const std::filesystem::path& path);

// A live node's planner (msrun --deployment with several cameras): every
// camera's run watches the deployment file on its own, and the first to see
// a change plans the whole node; the others take their schedule from that
// same joint plan (or get the same error). Thread-safe.
class NodePlanner {
 public:
  explicit NodePlanner(std::filesystem::path file, MultiCameraOptions options = {});

  // The joint plan of `text` (the deployment file's content): PlanNode on
  // the first call with that text, shared afterwards. Throws what PlanNode
  // throws (the same error for every caller), and InputError when the
  // cameras (names and inputs) differ from the first plan's: a running node
  // keeps the cameras it started with.
  std::shared_ptr<const NodePlan> Plan(const std::string& text);
  // `camera`'s schedule in Plan(text).
  ScheduleDoc ScheduleFor(const std::string& text, const std::string& camera);

 private:
  struct Entry {
    std::string text;
    std::shared_ptr<const NodePlan> plan;
    std::exception_ptr error;
  };
  std::filesystem::path file_;
  MultiCameraOptions options_;
  std::mutex mu_;
  std::deque<Entry> recent_;  // the last few texts planned, newest last
  std::vector<std::pair<std::string, std::string>> cameras_;  // (name, input) of the first plan
};

}  // namespace mainstream

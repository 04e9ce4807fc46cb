#include "mainstream/schedule/cost_model.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "mainstream/core/error.h"
#include "mainstream/core/random.h"

namespace mainstream {

StageCosts::StageCosts(std::vector<double> stages, double preprocess)
    : StageCosts(std::move(stages), preprocess, 0.0, 0.0) {}

StageCosts::StageCosts(std::vector<double> stages, double preprocess, double decode, double fps)
    : stage_ms(std::move(stages)), preprocess_ms(preprocess), decode_ms(decode), stream_fps(fps) {
  prefix_.assign(1, 0.0);
  for (double t : stage_ms) {
    MS_CHECK(std::isfinite(t) && t >= 0, "stage latency must be a finite number >= 0, got {}", t);
    prefix_.push_back(prefix_.back() + t);
  }
  MS_CHECK(std::isfinite(preprocess) && preprocess >= 0, "preprocess latency must be >= 0, got {}",
           preprocess);
  MS_CHECK(std::isfinite(decode) && decode >= 0, "decode latency must be >= 0, got {}", decode);
  MS_CHECK(std::isfinite(fps) && fps >= 0, "stream fps must be >= 0, got {}", fps);
}

void StageCosts::SetBranchStages(std::vector<double> stages) {
  branch_prefix_.clear();
  branch_stage_ms.clear();
  if (stages.empty()) return;
  MS_CHECK(stages.size() == stage_ms.size(), "{} specialized stage latencies for {} stages",
           stages.size(), stage_ms.size());
  branch_prefix_.assign(1, 0.0);
  for (double t : stages) {
    MS_CHECK(std::isfinite(t) && t >= 0,
             "specialized stage latency must be a finite number >= 0, got {}", t);
    branch_prefix_.push_back(branch_prefix_.back() + t);
  }
  branch_stage_ms = std::move(stages);
}

void CacheModel::Validate(size_t stages) const {
  if (!enabled()) return;
  MS_CHECK(cold_ms.size() == stages, "cache model: {} cold stage latencies for {} stages",
           cold_ms.size(), stages);
  MS_CHECK(cold_reuse.size() == stages, "cache model: {} cold reuse distances for {} stages",
           cold_reuse.size(), stages);
  MS_CHECK(bytes.size() == stages, "cache model: {} stage byte counts for {} stages", bytes.size(),
           stages);
  for (size_t k = 0; k < stages; ++k) {
    MS_CHECK(std::isfinite(cold_ms[k]) && cold_ms[k] >= 0,
             "cache model: stage {} cold latency must be a finite number >= 0, got {}", k,
             cold_ms[k]);
    MS_CHECK(std::isfinite(cold_reuse[k]) && cold_reuse[k] > 0,
             "cache model: stage {} cold reuse bytes must be a finite number > 0, got {}", k,
             cold_reuse[k]);
    MS_CHECK(std::isfinite(bytes[k]) && bytes[k] >= 0,
             "cache model: stage {} bytes must be a finite number >= 0, got {}", k, bytes[k]);
  }
  MS_CHECK(curve_bytes.size() >= 2 && curve_bytes.size() == curve_ns.size(),
           "cache model: the probe needs >= 2 points of bytes and ns, got {} and {}",
           curve_bytes.size(), curve_ns.size());
  for (size_t i = 0; i < curve_bytes.size(); ++i) {
    MS_CHECK(std::isfinite(curve_bytes[i]) && curve_bytes[i] > 0 &&
                 (i == 0 || curve_bytes[i] > curve_bytes[i - 1]),
             "cache model: probe point {} bytes {} must be > 0 and ascending", i, curve_bytes[i]);
    MS_CHECK(std::isfinite(curve_ns[i]) && curve_ns[i] > 0,
             "cache model: probe point {} ns per line must be > 0, got {}", i, curve_ns[i]);
  }
  MS_CHECK(std::isfinite(hot_bytes) && hot_bytes > 0,
           "cache model: hot bytes must be a finite number > 0, got {}", hot_bytes);
}

double CacheModel::Fraction(size_t stage, double reuse_bytes) const {
  if (!enabled() || reuse_bytes <= hot_bytes) return 0;
  // The probe's time per line, normalized to [0, 1] over its range and made
  // nondecreasing (a larger working set is never faster).
  const double lo = *std::min_element(curve_ns.begin(), curve_ns.end());
  const double hi = *std::max_element(curve_ns.begin(), curve_ns.end());
  const auto level = [&](double b) {
    if (hi - lo <= 0) return 0.0;
    double running = 0, prev_level = 0;
    for (size_t i = 0; i < curve_bytes.size(); ++i) {
      running = std::max(running, (curve_ns[i] - lo) / (hi - lo));
      if (b <= curve_bytes[i]) {
        if (i == 0) return running;
        const double t = (std::log(b) - std::log(curve_bytes[i - 1])) /
                         (std::log(curve_bytes[i]) - std::log(curve_bytes[i - 1]));
        return prev_level + t * (running - prev_level);
      }
      prev_level = running;
    }
    return running;
  };
  const double g_hot = level(hot_bytes);
  const double span = level(cold_reuse.at(stage)) - g_hot;
  // A cold timing less than a tenth of the curve's rise above hot cannot be
  // told from hot: charge nothing rather than amplify its noise.
  if (span < kMinSpan) return 0;
  return std::clamp((level(reuse_bytes) - g_hot) / span, 0.0, kMaxFraction);
}

void StageCosts::SetCache(CacheModel cache) {
  cache.Validate(stage_ms.size());
  cold_extra_prefix_.clear();
  bytes_prefix_.clear();
  if (cache.enabled()) {
    cold_extra_prefix_.assign(1, 0.0);
    bytes_prefix_.assign(1, 0.0);
    for (size_t k = 0; k < stage_ms.size(); ++k) {
      // A stage whose cold timing cannot be told from hot adds nothing.
      const bool measurable = cache.Fraction(k, 1e300) > 0;
      cold_extra_prefix_.push_back(
          cold_extra_prefix_.back() +
          (measurable ? std::max(0.0, cache.cold_ms[k] - stage_ms[k]) : 0));
      bytes_prefix_.push_back(bytes_prefix_.back() + cache.bytes[k]);
    }
  }
  cache_ = std::move(cache);
}

double StageCosts::CacheExtra(int begin, int end, double reuse_bytes) const {
  double extra = 0;
  for (int k = begin; k < end; ++k)
    extra += cache_.Fraction(static_cast<size_t>(k), reuse_bytes) * ColdExtra(k, k + 1);
  return extra;
}

StageCosts StageCosts::AtFractions(double stem, double branch) const {
  constexpr double kMax = CacheModel::kMaxFraction;
  MS_CHECK(stem >= 0 && stem <= kMax && branch >= 0 && branch <= kMax,
           "cache fractions must be in [0, {}], got {} and {}", kMax, stem, branch);
  std::vector<double> shared = stage_ms, own = HasBranchStages() ? branch_stage_ms : stage_ms;
  for (size_t k = 0; k < shared.size(); ++k) {
    const int i = static_cast<int>(k);
    shared[k] += stem * ColdExtra(i, i + 1);
    own[k] += branch * ColdExtra(i, i + 1);
  }
  StageCosts c(std::move(shared), preprocess_ms, decode_ms, stream_fps);
  c.decode_extra_ms = decode_extra_ms;
  c.SetBranchStages(std::move(own));
  return c;
}

double TreeNode::cost() const { return latency_ms * fps; }

MergedTree BuildMergedTree(const StageCosts& costs, const std::vector<AppRequest>& apps) {
  const int n = costs.num_stages();
  MergedTree tree;
  tree.branch_of_app.assign(apps.size(), -1);
  for (const auto& a : apps) {
    MS_CHECK(a.branchpoint >= 0 && a.branchpoint < n, "branchpoint {} outside [0, {})",
             a.branchpoint, n);
    MS_CHECK(a.fps > 0 && std::isfinite(a.fps), "frame rate must be > 0, got {}", a.fps);
    MS_CHECK(!a.is_micro() || (std::isfinite(a.own_ms) && a.branchpoint >= 1),
             "a microclassifier needs a finite latency and branchpoint >= 1, got {} ms at {}",
             a.own_ms, a.branchpoint);
    tree.max_fps = std::max(tree.max_fps, a.fps);
  }
  tree.decode_cost = costs.DecodeCost(tree.max_fps);
  tree.preprocess_cost = costs.preprocess_ms * tree.max_fps;

  // Distinct branchpoints > 0, ascending: stem segment ends.
  std::vector<int> ends;
  for (const auto& a : apps)
    if (a.branchpoint > 0) ends.push_back(a.branchpoint);
  std::sort(ends.begin(), ends.end());
  ends.erase(std::unique(ends.begin(), ends.end()), ends.end());

  std::map<int, int> segment_ending_at;  // branchpoint -> stem node id
  int begin = 0;
  int parent = -1;
  for (int end : ends) {
    TreeNode node;
    node.id = static_cast<int>(tree.nodes.size());
    node.kind = TreeNode::Kind::kStem;
    node.begin = begin;
    node.end = end;
    node.parent = parent;
    for (size_t i = 0; i < apps.size(); ++i) {
      if (apps[i].branchpoint >= end) {
        node.fps = std::max(node.fps, apps[i].fps);
        node.apps.push_back(static_cast<int>(i));
      }
    }
    node.latency_ms = costs.Range(begin, end);
    tree.stem_cost += node.cost();
    segment_ending_at[end] = node.id;
    parent = node.id;
    begin = end;
    tree.nodes.push_back(std::move(node));
  }
  for (size_t i = 0; i < apps.size(); ++i) {
    TreeNode node;
    node.id = static_cast<int>(tree.nodes.size());
    node.kind = TreeNode::Kind::kBranch;
    node.begin = apps[i].branchpoint;
    node.end = apps[i].is_micro() ? node.begin : n;
    node.fps = apps[i].fps;
    node.parent = apps[i].branchpoint > 0 ? segment_ending_at.at(apps[i].branchpoint) : -1;
    node.app = static_cast<int>(i);
    node.apps = {static_cast<int>(i)};
    node.latency_ms = apps[i].is_micro() ? apps[i].own_ms : costs.BranchRange(node.begin, node.end);
    tree.branch_cost += node.cost();
    tree.branch_of_app[i] = node.id;
    tree.nodes.push_back(std::move(node));
  }
  if (costs.cache().enabled()) {
    // Each node's weights see every node's bytes, at its rate, between two
    // of its own runs (docs/model.md, "Caches").
    tree.cache_aware = true;
    for (const TreeNode& node : tree.nodes) {
      const AppRequest* micro = node.app >= 0 && apps[static_cast<size_t>(node.app)].is_micro()
                                    ? &apps[static_cast<size_t>(node.app)]
                                    : nullptr;
      const double bytes =
          micro ? std::max(0.0, micro->own_bytes) : costs.Bytes(node.begin, node.end);
      tree.traffic_bytes += bytes * node.fps;
    }
    tree.stem_cost = tree.branch_cost = 0;
    for (TreeNode& node : tree.nodes) {
      node.reuse_bytes = tree.traffic_bytes / node.fps;
      const double extra = costs.CacheExtra(node.begin, node.end, node.reuse_bytes);
      const double full = costs.ColdExtra(node.begin, node.end);
      node.cache_fraction = full > 0 ? extra / full : 0;
      node.latency_ms += extra;
      (node.kind == TreeNode::Kind::kStem ? tree.stem_cost : tree.branch_cost) += node.cost();
    }
  }
  return tree;
}

double ScheduleCost(const StageCosts& costs, const std::vector<AppRequest>& apps) {
  return BuildMergedTree(costs, apps).total_cost();
}

int MergedTree::LargestBranch() const {
  int best = -1;
  for (const TreeNode& n : nodes) {
    if (n.kind != TreeNode::Kind::kBranch) continue;
    if (best < 0 || n.cost() > nodes[static_cast<size_t>(best)].cost()) best = n.id;
  }
  return best;
}

double MergedTree::WallCost(int workers, bool overlapped, double tail_cost) const {
  MS_CHECK(workers >= 1, "WallCost: {} workers", workers);
  MS_CHECK(tail_cost >= 0 && tail_cost <= stem_cost + 1e-9,
           "WallCost: a stem tail of {} ms/s out of {} ms/s of stems", tail_cost, stem_cost);
  const int largest = LargestBranch();
  const double longest = largest < 0 ? 0.0 : nodes[static_cast<size_t>(largest)].cost();
  if (overlapped && workers > 1) {
    const double serial = preprocess_cost + stem_cost - tail_cost;
    return decode_cost +
           std::max({(preprocess_cost + stem_cost + branch_cost) / static_cast<double>(workers),
                     serial, tail_cost + longest});
  }
  return decode_cost + preprocess_cost + stem_cost +
         std::max(branch_cost / static_cast<double>(workers), longest);
}

StemSplit PlanStemSplit(const MergedTree& tree, const std::vector<double>& stage_ms, int workers,
                        bool decode_on_loop) {
  StemSplit split;
  for (const TreeNode& n : tree.nodes) split.tail_from.push_back(n.end);
  const double loop =
      (decode_on_loop ? tree.decode_cost : 0.0) + tree.preprocess_cost + tree.stem_cost;
  const double share = tree.total_cost() / std::max(1, workers);
  if (workers < 2 || loop <= share) return split;
  for (const TreeNode& n : tree.nodes) {
    if (n.kind == TreeNode::Kind::kStem && static_cast<size_t>(n.end) > stage_ms.size()) {
      return split;  // stage_ms is not this tree's base
    }
  }
  const int largest = tree.LargestBranch();
  const double longest = largest < 0 ? 0.0 : tree.nodes[static_cast<size_t>(largest)].cost();
  // The frame period with a tail of this cost: no less than the loop
  // thread's part, the tail and the largest branch in sequence, the share.
  auto wall = [&](double tail) { return std::max({loop - tail, tail + longest, share}); };
  // Children before parents (stems are listed parents first); a node joins
  // only when all its stem children are whole in the tail. Each node takes
  // the option (none, whole, cut after a stage) with the lowest bound, the
  // smallest tail among equals.
  std::vector<bool> whole(tree.nodes.size(), false);
  for (size_t i = tree.nodes.size(); i-- > 0 && loop - split.tail_cost > share;) {
    const TreeNode& n = tree.nodes[i];
    if (n.kind != TreeNode::Kind::kStem) continue;
    bool children_in = true;
    for (const TreeNode& c : tree.nodes) {
      if (c.parent == n.id && c.kind == TreeNode::Kind::kStem &&
          !whole[static_cast<size_t>(c.id)]) {
        children_in = false;
      }
    }
    if (!children_in) continue;
    double range = 0;
    for (int s = n.begin; s < n.end; ++s) range += stage_ms[static_cast<size_t>(s)];
    int best = n.end;
    double best_part = 0, best_wall = wall(split.tail_cost);
    double part = 0;
    for (int s = n.end - 1; s >= n.begin; --s) {
      // Stages [s, end): their share of the node's cost (all of it at begin).
      part = s == n.begin ? n.cost()
             : range > 0  ? part + stage_ms[static_cast<size_t>(s)] / range * n.cost()
                          : 0;
      if (wall(split.tail_cost + part) < best_wall - 1e-12) {
        best_wall = wall(split.tail_cost + part);
        best = s;
        best_part = part;
      }
    }
    if (best == n.end) continue;
    split.tail_from[i] = best;
    split.tail_cost += best_part;
    whole[i] = best == n.begin;
  }
  return split;
}

Json MergedTree::ToJson(const std::vector<std::string>& app_names) const {
  Json nodes_json = Json::array();
  for (const auto& node : nodes) {
    Json names = Json::array();
    for (int a : node.apps) names.push_back(app_names.at(static_cast<size_t>(a)));
    Json j{{"id", node.id},
           {"kind", node.kind == TreeNode::Kind::kStem ? "stem" : "branch"},
           {"stages", {node.begin, node.end}},
           {"fps", node.fps},
           {"parent", node.parent < 0 ? Json(nullptr) : Json(node.parent)},
           {"latency_ms", node.latency_ms},
           {"cost", node.cost()},
           {"apps", names}};
    if (node.app >= 0) j["app"] = app_names.at(static_cast<size_t>(node.app));
    if (cache_aware) {
      j["reuse_bytes"] = node.reuse_bytes;
      j["cache_fraction"] = node.cache_fraction;
    }
    nodes_json.push_back(std::move(j));
  }
  return Json{
      {"max_fps", max_fps},     {"decode_cost", decode_cost}, {"preprocess_cost", preprocess_cost},
      {"stem_cost", stem_cost}, {"branch_cost", branch_cost}, {"nodes", nodes_json}};
}

Sampler::Sampler(double stride, double phase) : stride_(stride), phase_(phase), next_(phase) {
  MS_CHECK(stride >= 1 - 1e-9, "sampler stride must be >= 1 frame, got {}", stride);
  MS_CHECK(phase >= 0 && phase < stride + 1e-9, "sampler phase must be in [0, stride), got {}",
           phase);
}

bool Sampler::Offer() {
  const double k = static_cast<double>(offered_++);
  if (k < std::floor(next_ + 1e-9)) return false;
  // floor(phase + j * stride) computed afresh for each j: summing the stride
  // would drift by rounding over long streams.
  next_ = phase_ + static_cast<double>(++taken_) * stride_;
  return true;
}

FramePlanner::FramePlanner(const MergedTree& tree, double stream_fps, uint64_t seed)
    : tree_(&tree) {
  MS_CHECK(stream_fps > 0, "stream fps must be > 0, got {}", stream_fps);
  Rng rng(seed);
  const size_t n = tree.nodes.size();
  // The analyzed frames' rate: the highest root rate (every other node runs
  // at its parent's rate or below).
  double analyzed_fps = 0;
  for (const TreeNode& node : tree.nodes)
    if (node.parent < 0) analyzed_fps = std::max(analyzed_fps, node.fps);
  MS_CHECK(analyzed_fps <= stream_fps + 1e-9,
           "a root node runs at {} fps, faster than the {} fps stream", analyzed_fps, stream_fps);
  // Nodes are stored stems-first in chain order, then branches: parents
  // always precede children.
  int fastest_root = -1;
  double fastest_draw = 0;
  for (size_t k = 0; k < n; ++k) {
    const TreeNode& node = tree.nodes[k];
    MS_CHECK(node.parent < static_cast<int>(k), "merged tree node {} comes before its parent {}", k,
             node.parent);
    double parent_fps =
        node.parent < 0 ? analyzed_fps : tree.nodes[static_cast<size_t>(node.parent)].fps;
    MS_CHECK(node.fps > 0, "node {} runs at {} fps: a node needs a rate > 0", k, node.fps);
    MS_CHECK(node.fps <= parent_fps + 1e-9,
             "node {} runs at {} fps, faster than its parent's {} fps", k, node.fps, parent_fps);
    const double stride = std::max(1.0, parent_fps / node.fps);
    const double draw = rng.Uniform();
    phases_.push_back(draw * stride);
    samplers_.emplace_back(stride, phases_.back());
    order_.push_back(static_cast<int>(k));
    if (node.parent < 0 && fastest_root < 0 && node.fps >= analyzed_fps - 1e-9) {
      fastest_root = static_cast<int>(k);
      fastest_draw = draw;
    }
  }
  // The analyzed frames take the fastest root's draw: that root takes every
  // one of them, the frames it took when roots sampled the stream directly.
  if (fastest_root >= 0) {
    const double stride = std::max(1.0, stream_fps / analyzed_fps);
    analyzed_ = Sampler(stride, fastest_draw * stride);
  }
  ran_.assign(n, 0);
  executions_.assign(n, 0);
}

const std::vector<int>& FramePlanner::Next() {
  current_.clear();
  const bool analyzed = analyzed_.Offer();
  for (int k : order_) {
    const TreeNode& node = tree_->nodes[static_cast<size_t>(k)];
    bool offered = node.parent < 0 ? analyzed : ran_[static_cast<size_t>(node.parent)] != 0;
    bool run = offered && samplers_[static_cast<size_t>(k)].Offer();
    ran_[static_cast<size_t>(k)] = run ? 1 : 0;
    if (run) {
      current_.push_back(k);
      ++executions_[static_cast<size_t>(k)];
    }
  }
  ++frames_;
  return current_;
}

}  // namespace mainstream

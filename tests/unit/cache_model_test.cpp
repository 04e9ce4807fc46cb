// The cost model's cache term (docs/model.md, "Caches"), the searches with it
// (docs/algorithms.md, "Caches"), and the profile and schedule fields that
// carry it.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "mainstream/core/random.h"
#include "mainstream/profile/cache_probe.h"
#include "mainstream/schedule/cost_model.h"
#include "mainstream/schedule/profile_costs.h"
#include "mainstream/schedule/schedule_doc.h"
#include "mainstream/schedule/search.h"
#include "testing/testing.h"

namespace mainstream {
namespace {

// A probe that is flat (caches) up to 4 MB, rises to 4x by 64 MB and is flat
// again (memory) beyond; every stage timed cold at 256 MB.
CacheModel TestCache(size_t stages, double bytes_per_stage, double cold_factor,
                     const std::vector<double>& hot) {
  CacheModel m;
  for (size_t k = 0; k < stages; ++k) {
    m.cold_ms.push_back(cold_factor * hot[k]);
    m.cold_reuse.push_back(256e6);
    m.bytes.push_back(bytes_per_stage);
  }
  m.curve_bytes = {1e6, 4e6, 16e6, 64e6, 256e6};
  m.curve_ns = {1, 1, 2.5, 4, 4};
  m.hot_bytes = bytes_per_stage * static_cast<double>(stages);
  return m;
}

TEST(CacheModel, FractionFollowsTheProbeBetweenHotAndCold) {
  CacheModel m = TestCache(4, 1e6, 2, {1, 1, 1, 1});  // hot: 4 MB
  EXPECT_EQ(m.Fraction(0, 1e6), 0);
  EXPECT_EQ(m.Fraction(0, 4e6), 0);
  EXPECT_NEAR(m.Fraction(0, 256e6), 1, 1e-12);
  EXPECT_NEAR(m.Fraction(0, 1e12), 1, 1e-12);
  // Level 0 at 4 MB, 0.5 at 16 MB, 1 from 64 MB: log-linear in between.
  EXPECT_NEAR(m.Fraction(0, 16e6), 0.5, 1e-12);
  EXPECT_NEAR(m.Fraction(0, 8e6), 0.25, 1e-12);
  EXPECT_NEAR(m.Fraction(0, 128e6), 1.0, 1e-12);
  double last = 0;
  for (double b = 1e6; b < 1e9; b *= 1.3) {
    EXPECT_GE(m.Fraction(0, b), last - 1e-15);
    last = m.Fraction(0, b);
  }
  // A stage timed cold at 16 MB (its copies streamed no more): half way up
  // the curve is its cold timing; beyond, extrapolated up to kMaxFraction.
  m.cold_reuse[1] = 16e6;
  EXPECT_NEAR(m.Fraction(1, 16e6), 1, 1e-12);
  EXPECT_NEAR(m.Fraction(1, 8e6), 0.5, 1e-12);
  EXPECT_NEAR(m.Fraction(1, 256e6), CacheModel::kMaxFraction, 1e-12);
  // A stage timed cold at 5 MB cannot be told from hot on the curve: nothing.
  m.cold_reuse[2] = 5e6;
  EXPECT_EQ(m.Fraction(2, 256e6), 0);
  // A probe that dips (noise) is read as never getting faster.
  m.curve_ns = {1, 1, 2.5, 2, 4};
  EXPECT_GE(m.Fraction(0, 64e6), m.Fraction(0, 16e6));
}

TEST(CacheModel, ValidateNamesTheBadValue) {
  CacheModel m = TestCache(3, 1e6, 2, {1, 1, 1});
  EXPECT_NO_THROW(m.Validate(3));
  EXPECT_THROW(m.Validate(4), InputError);
  CacheModel bad = m;
  bad.cold_ms[1] = std::nan("");
  EXPECT_THROW(bad.Validate(3), InputError);
  bad = m;
  bad.curve_bytes = {2e6, 1e6, 3e6, 4e6, 5e6};
  EXPECT_THROW(bad.Validate(3), InputError);
  bad = m;
  bad.cold_reuse[0] = 0;
  EXPECT_THROW(bad.Validate(3), InputError);
  bad = m;
  bad.hot_bytes = 0;
  EXPECT_THROW(bad.Validate(3), InputError);
}

// Every node pays hot + fraction(reuse) x (cold - hot), reuse being every
// node's bytes at its rate over the node's own rate: written per stage here,
// independently of BuildMergedTree.
TEST(CacheModel, TreeChargesEachNodeByItsReuseDistance) {
  Rng rng(5);
  for (int trial = 0; trial < 200; ++trial) {
    const int n = 2 + static_cast<int>(rng.Index(6));
    std::vector<double> hot;
    for (int k = 0; k < n; ++k) hot.push_back(rng.Uniform(0.1, 2));
    StageCosts costs(hot, 0.3, 0.2, 10);
    CacheModel m = TestCache(static_cast<size_t>(n), rng.Uniform(1e5, 4e6), rng.Uniform(1, 3), hot);
    costs.SetCache(m);
    std::vector<AppRequest> apps;
    const int count = 1 + static_cast<int>(rng.Index(30));
    for (int i = 0; i < count; ++i)
      apps.push_back({static_cast<int>(rng.Index(static_cast<size_t>(n))),
                      1.0 + static_cast<double>(rng.Index(10))});
    const MergedTree tree = BuildMergedTree(costs, apps);
    // Reference: nodes as (stages, rate) from the blind tree.
    const MergedTree blind = BuildMergedTree(StageCosts(hot, 0.3, 0.2, 10), apps);
    double traffic = 0;
    for (const TreeNode& node : blind.nodes)
      for (int k = node.begin; k < node.end; ++k)
        traffic += m.bytes[static_cast<size_t>(k)] * node.fps;
    double expected = blind.decode_cost + blind.preprocess_cost;
    for (const TreeNode& node : blind.nodes) {
      for (int k = node.begin; k < node.end; ++k) {
        const size_t uk = static_cast<size_t>(k);
        const double f = m.Fraction(uk, traffic / node.fps);
        expected += node.fps * (hot[uk] + f * (m.cold_ms[uk] - hot[uk]));
      }
    }
    EXPECT_NEAR(tree.total_cost(), expected, 1e-9 * expected) << "trial " << trial;
    EXPECT_GE(tree.total_cost(), blind.total_cost() - 1e-9);
    EXPECT_LE(
        tree.total_cost(),
        ScheduleCost(costs.AtFractions(CacheModel::kMaxFraction, CacheModel::kMaxFraction), apps) +
            1e-9);
  }
}

TEST(CacheModel, OneAppIsHotAndManyWholeModelsAreCold) {
  const std::vector<double> hot{1, 2, 1, 0.5};
  StageCosts costs(hot, 0, 0, 10);
  costs.SetCache(TestCache(4, 2e6, 2, hot));  // one model: 8 MB
  // One app at the stream rate streams one model per run: the profile's loop.
  EXPECT_DOUBLE_EQ(ScheduleCost(costs, {{0, 10}}), 10 * 4.5);
  // 40 whole models stream 320 MB between two runs of each: all cold.
  std::vector<AppRequest> many(40, AppRequest{0, 10});
  EXPECT_NEAR(ScheduleCost(costs, many), 40 * 10 * 9.0, 1e-9);
  // Three apps sharing all but the head stream 12 MB: between hot and cold.
  std::vector<AppRequest> shared(3, AppRequest{3, 10});
  const MergedTree t = BuildMergedTree(costs, shared);
  EXPECT_GT(t.nodes[0].cache_fraction, 0);
  EXPECT_LT(t.nodes[0].cache_fraction, 1);
  EXPECT_DOUBLE_EQ(t.nodes[0].reuse_bytes, 12e6);
}

// A problem whose hot optimum does not fit once caches are counted: the
// search tightens its regime until its answer fits the whole model, and the
// answer is no better than the true optimum (enumerated) nor worse than the
// all-cold optimum.
TEST(CacheSearch, AnswersFitTheWholeModelAndSitBetweenTheBounds) {
  int tightened = 0, ratios = 0;
  double ratio_sum = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    ScheduleProblem p = testing::RandomProblem(seed, 4, 5, 3, 4, 0.3);
    const std::vector<double> hot = p.costs.stage_ms;
    p.costs.SetCache(TestCache(hot.size(), 3e6, 3, hot));
    for (const std::string algo : {"exhaustive", "greedy", "maxmin"}) {
      SearchResult r;
      try {
        r = RunSearch(p, algo);
      } catch (const InfeasibleError&) {
        continue;
      }
      ASSERT_FALSE(r.cache_passes.empty());
      EXPECT_LE(r.solution.cost, p.budget + 1e-9) << seed << " " << algo;
      EXPECT_NEAR(r.solution.cost, Evaluate(p, r.solution.choice).cost, 1e-9);
      if (algo != "exhaustive") continue;
      // Enumerate every schedule under the whole model.
      double best = -1;
      std::vector<int> choice(p.apps.size(), 0);
      std::function<void(size_t)> walk = [&](size_t i) {
        if (i == p.apps.size()) {
          const Solution s = Evaluate(p, choice);
          if (s.cost <= p.budget + 1e-9) best = std::max(best, s.mean_f1());
          return;
        }
        for (size_t o = 0; o < p.apps[i].options.size(); ++o) {
          choice[i] = static_cast<int>(o);
          walk(i + 1);
        }
      };
      walk(0);
      EXPECT_LE(r.solution.mean_f1(), best + 1e-12);
      if (best > 0) {
        ratio_sum += r.solution.mean_f1() / best;
        ++ratios;
      }
      ScheduleProblem cold = p;
      cold.costs = p.costs.AtFractions(CacheModel::kMaxFraction, CacheModel::kMaxFraction);
      double cold_best = 0;
      try {
        cold_best = RunSearch(cold, "exhaustive").solution.mean_f1();
      } catch (const InfeasibleError&) {
      }
      EXPECT_GE(r.solution.mean_f1(), cold_best - 1e-12) << seed;
      if (r.cache_passes.size() > 1 || !r.cache_passes[0].fits) {
        ++tightened;
        EXPECT_FALSE(r.exact);
        EXPECT_FALSE(r.cache_passes[0].fits);
      } else {
        EXPECT_TRUE(r.exact);
        EXPECT_NEAR(r.solution.mean_f1(), best, 1e-12);
      }
    }
  }
  EXPECT_GT(tightened, 0) << "no problem needed more than the hot pass: the test tests nothing";
  // The regimes are a heuristic once the hot answer does not fit: on these
  // problems (cold = 3x hot) it found 0.988 of the true optimum on average
  // (worst 0.90) when this test was written.
  ASSERT_GT(ratios, 0);
  EXPECT_GE(ratio_sum / ratios, 0.97);
}

TEST(CacheSearch, WithoutAProbeNothingChanges) {
  ScheduleProblem p = testing::RandomProblem(3, 5, 6, 3, 5, 0.4);
  const SearchResult r = RunSearch(p, "exhaustive");
  EXPECT_TRUE(r.cache_passes.empty());
  EXPECT_TRUE(r.exact);
}

Profile CacheProfile() {
  Profile prof = testing::SyntheticProfile(5, 4);
  for (size_t k = 0; k < prof.stages.size(); ++k) {
    prof.stages[k].param_bytes = 2e6;
    prof.stages[k].activation_bytes = 1e5;
    prof.stages[k].cold_p50_ms = 2.5 * prof.stages[k].p50_ms;
    prof.stages[k].cold_reuse_bytes = 128e6;
  }
  prof.input_bytes = 6e4;
  prof.cache.bytes = {1e6, 8e6, 64e6, 512e6};
  prof.cache.ns_per_line = {0.5, 0.7, 1.5, 2.0};
  prof.cache.reported_llc_bytes = 32e6;
  return prof;
}

TEST(CacheProfile, RoundTripsAndRejectsPartialOrBadFields) {
  testing::TempDir dir;
  const Profile prof = CacheProfile();
  ASSERT_TRUE(prof.HasCache());
  WriteProfile(prof, dir / "p.json");
  const Profile back = ReadProfile(dir / "p.json");
  ASSERT_TRUE(back.HasCache());
  EXPECT_EQ(back.cache.ns_per_line, prof.cache.ns_per_line);
  EXPECT_DOUBLE_EQ(back.stages[2].cold_p50_ms, prof.stages[2].cold_p50_ms);
  const CacheModel m = ProfileCacheModel(back);
  EXPECT_DOUBLE_EQ(m.hot_bytes, 5 * 2.1e6);

  auto error_of = [&](const std::function<void(Json&)>& edit) {
    Json j = ReadJsonFile(dir / "p.json");
    edit(j);
    WriteJsonFileAtomic(dir / "e.json", j);
    return testing::InputErrorOf([&] { ReadProfile(dir / "e.json"); });
  };
  EXPECT_NE(error_of([](Json& j) { j["stages"][1].erase("cold_p50_ms"); }).find("cold_p50_ms"),
            std::string::npos);
  EXPECT_NE(error_of([](Json& j) { j.erase("cache"); }).find("$.stages"), std::string::npos);
  EXPECT_NE(error_of([](Json& j) {
              j["cache"]["probe"][2]["bytes"] = 1e6;
            }).find("$.cache.probe[2].bytes"),
            std::string::npos);
  EXPECT_NE(
      error_of([](Json& j) { j["stages"][3].erase("cold_reuse_bytes"); }).find("cold_reuse_bytes"),
      std::string::npos);
  EXPECT_NE(
      error_of([](Json& j) { j["stages"][0]["cold_p50_ms"] = -1; }).find("$.stages[0].cold_p50_ms"),
      std::string::npos);
}

TEST(CacheProfile, SchedulesCarryTheModelAndReadBackTheSameTree) {
  testing::TempDir dir;
  const Profile prof = CacheProfile();
  WriteProfile(prof, dir / "profile.json");
  ScheduleConfig config;
  for (int i = 0; i < 12; ++i) {
    auto d = dir / ("pk" + std::to_string(i));
    WriteMPackageManifest(
        testing::SyntheticPackage("app" + std::to_string(i), prof, 90 + static_cast<uint64_t>(i)),
        d);
    config.packages.push_back(d);
  }
  config.profile = dir / "profile.json";
  config.budget = 200;
  const ScheduleDoc doc = PlanSchedule(config);
  ASSERT_TRUE(doc.tree.cache_aware);
  EXPECT_LE(doc.total_cost, 200 + 1e-9);
  EXPECT_FALSE(doc.search["cache_passes"].empty());
  WriteSchedule(doc, dir / "schedule.json");
  const ScheduleDoc back = ReadSchedule(dir / "schedule.json");
  EXPECT_DOUBLE_EQ(back.total_cost, doc.total_cost);
  ASSERT_EQ(back.tree.nodes.size(), doc.tree.nodes.size());
  for (size_t k = 0; k < doc.tree.nodes.size(); ++k)
    EXPECT_DOUBLE_EQ(back.tree.nodes[k].cache_fraction, doc.tree.nodes[k].cache_fraction);
  // A hand-edited cold latency no longer adds up to the recorded cost.
  Json j = ReadJsonFile(dir / "schedule.json");
  j["stages"][0]["cold_ms"] = j["stages"][0]["cold_ms"].get<double>() * 10;
  WriteJsonFileAtomic(dir / "edited.json", j);
  const std::string msg = testing::InputErrorOf([&] { ReadSchedule(dir / "edited.json"); });
  EXPECT_TRUE(msg.find("$.total_cost") != std::string::npos ||
              msg.find("$.apps") != std::string::npos)
      << msg;
  j = ReadJsonFile(dir / "schedule.json");
  j["cache"]["probe"][1]["ns_per_line"] = -1;
  WriteJsonFileAtomic(dir / "edited.json", j);
  EXPECT_NE(testing::InputErrorOf([&] { ReadSchedule(dir / "edited.json"); }).find("$.cache"),
            std::string::npos);
}

TEST(CacheProbe, ProbeMeasuresEverySize) {
  const CacheProbe p = ProbeCaches(4 * 1024 * 1024, 0.01);
  ASSERT_EQ(p.bytes.size(), p.ns_per_line.size());
  ASSERT_EQ(p.bytes.size(), 5u);  // 256K, 512K, 1M, 2M, 4M
  EXPECT_DOUBLE_EQ(p.bytes.back(), 4.0 * 1024 * 1024);
  for (double ns : p.ns_per_line) EXPECT_GT(ns, 0);
  EXPECT_THROW(ProbeCaches(1000), InputError);
}

}  // namespace
}  // namespace mainstream

// The out-of-fold score trace (labels/score_trace.h) and the trace-driven
// model (schedule/trace_model.h): the file format, the sampling phases, the
// replay against an independent reference, and the cycle scores.
#include "mainstream/schedule/trace_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "mainstream/core/error.h"
#include "mainstream/core/random.h"
#include "mainstream/labels/score_trace.h"
#include "mainstream/labels/scoring.h"
#include "mainstream/schedule/cost_model.h"
#include "mainstream/schedule/event_model.h"
#include "testing/testing.h"

namespace mainstream {
namespace {

using testing::InputErrorOf;

// A trace with one score column per branchpoint; scores[c][i] for row i.
ScoreTrace MakeTrace(std::vector<int64_t> frames, std::vector<uint8_t> labels,
                     std::vector<int> folds, std::vector<int> branchpoints,
                     std::vector<std::vector<float>> scores) {
  ScoreTrace t;
  t.frames = std::move(frames);
  t.labels = std::move(labels);
  t.folds = std::move(folds);
  t.columns = BranchKeys(branchpoints);
  t.scores = std::move(scores);
  return t;
}

// Seeded random trace: 1-3 contiguous segments separated by holes, events
// and gaps of random lengths (an event may run into a hole), folds by
// position. Column 0 is a fairly good classifier, column 1 a noisy one whose
// outcomes stick to the previous frame's; a few scores are exactly 0.5 (the
// threshold the tests use, which counts as positive).
ScoreTrace RandomTrace(uint64_t seed) {
  Rng rng(seed);
  ScoreTrace t;
  t.columns = BranchKeys({0, 4});
  t.scores.resize(2);
  int64_t frame = 1 + static_cast<int64_t>(rng.Index(6));
  const int segments = 1 + static_cast<int>(rng.Index(3));
  bool label = rng.Bernoulli(0.4);
  int64_t run_left = 1 + static_cast<int64_t>(rng.Index(10));
  bool sticky = false;
  auto score = [&](bool positive) -> float {
    if (rng.Bernoulli(0.03)) return positive ? 0.5f : 0.4999f;
    return static_cast<float>(positive ? rng.Uniform(0.5, 1.0) : rng.Uniform(0.0, 0.5));
  };
  for (int s = 0; s < segments; ++s) {
    const int64_t len = 40 + static_cast<int64_t>(rng.Index(120));
    for (int64_t k = 0; k < len; ++k) {
      if (run_left == 0) {
        label = !label;
        run_left = label ? 1 + static_cast<int64_t>(rng.Index(12))
                         : 1 + static_cast<int64_t>(rng.Index(25));
      }
      --run_left;
      t.frames.push_back(frame + k);
      t.labels.push_back(label ? 1 : 0);
      t.scores[0].push_back(score(rng.Bernoulli(label ? 0.75 : 0.1)));
      if (!rng.Bernoulli(0.6)) sticky = rng.Bernoulli(label ? 0.5 : 0.3);
      t.scores[1].push_back(score(sticky));
    }
    frame += len + 1 + static_cast<int64_t>(rng.Index(15));  // a hole of 1-15 frames
  }
  const size_t n = t.frames.size();
  for (size_t i = 0; i < n; ++i) t.folds.push_back(static_cast<int>(i * 3 / n));
  return t;
}

// ---------------------------------------------------------------- ScoreTrace

TEST(ScoreTrace, FormatIsTheDocumentedCsv) {
  ScoreTrace t = MakeTrace({1, 2, 5}, {0, 1, 1}, {0, 0, 1}, {0, 3},
                           {{0.5f, 1.0f, 0.0f}, {0.25f, 0.125f, 1e-5f}});
  EXPECT_EQ(FormatScoreTrace(t),
            "frame,label,fold,bp0,bp3\n"
            "1,0,0,0.5,0.25\n"
            "2,1,0,1,0.125\n"
            "5,1,1,0,1e-05\n");
}

TEST(ScoreTrace, FormatParseRoundTripIsExactForSixSignificantDigits) {
  Rng rng(11);
  ScoreTrace t;
  t.columns = BranchKeys({0, 3, 7});
  t.scores.resize(3);
  int64_t frame = 3;
  for (int i = 0; i < 400; ++i) {
    frame += 1 + (rng.Bernoulli(0.05) ? static_cast<int64_t>(rng.Index(20)) : 0);
    t.frames.push_back(frame);
    t.labels.push_back(rng.Bernoulli(0.3) ? 1 : 0);
    t.folds.push_back(i * 4 / 400);
    for (auto& col : t.scores) {
      // A decimal of at most 6 significant digits at a random scale, as the
      // float nearest to it; plus the ends of the range.
      const int64_t digits = static_cast<int64_t>(rng.Index(1000000));
      const int scale = 6 + static_cast<int>(rng.Index(5));
      std::string text = std::to_string(digits) + "e-" + std::to_string(scale);
      float v = static_cast<float>(std::stod(text));
      if (rng.Bernoulli(0.05)) v = 0.0f;
      if (rng.Bernoulli(0.05)) v = 1.0f;
      col.push_back(v);
    }
  }
  const std::string text = FormatScoreTrace(t);
  ScoreTrace back = ParseScoreTrace(text, "mem/trace.csv");
  EXPECT_EQ(back.frames, t.frames);
  EXPECT_EQ(back.labels, t.labels);
  EXPECT_EQ(back.folds, t.folds);
  EXPECT_EQ(back.columns, t.columns);
  ASSERT_EQ(back.scores.size(), t.scores.size());
  for (size_t c = 0; c < t.scores.size(); ++c)
    EXPECT_EQ(back.scores[c], t.scores[c]) << "column " << c;
  EXPECT_EQ(FormatScoreTrace(back), text);
  EXPECT_EQ(back.num_folds(), 4);
  EXPECT_EQ(back.Column("bp3"), 1);
  EXPECT_EQ(back.Column("bp7"), 2);
  EXPECT_EQ(back.Column("bp5"), -1);
}

TEST(ScoreTrace, ReadsCrLfBlankLinesAndFiles) {
  testing::TempDir dir;
  const std::string text = "frame,label,fold,bp2\r\n\r\n1,1,0,0.75\r\n2,0,0,0.5\r\n";
  testing::WriteText(dir / "trace.csv", text);
  ScoreTrace t = ReadScoreTrace(dir / "trace.csv");
  EXPECT_EQ(t.frames, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(t.labels, (std::vector<uint8_t>{1, 0}));
  EXPECT_EQ(t.scores[0], (std::vector<float>{0.75f, 0.5f}));
  const std::string missing = (dir / "none.csv").string();
  EXPECT_NE(InputErrorOf([&] { ReadScoreTrace(dir / "none.csv"); }).find(missing),
            std::string::npos);
}

TEST(ScoreTrace, SegmentsAndEventsAcrossAHole) {
  // Frames 1-6, a hole (7-9), frames 10-14. The event 5-6 runs into the hole
  // and the one at 10-11 out of it: the trace cannot tell them apart from two
  // events, and counts two.
  ScoreTrace t =
      MakeTrace({1, 2, 3, 4, 5, 6, 10, 11, 12, 13, 14}, {0, 1, 0, 0, 1, 1, 1, 1, 0, 1, 0},
                {0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1}, {0}, {std::vector<float>(11, 0.f)});
  using Seg = std::pair<size_t, size_t>;
  EXPECT_EQ(t.Segments(), (std::vector<Seg>{{0, 6}, {6, 11}}));
  EXPECT_EQ(t.Events(), (std::vector<FrameInterval>{{2, 2}, {5, 6}, {10, 11}, {13, 13}}));
  EXPECT_EQ(t.num_folds(), 2);

  // One frame missing inside an event cuts it too; a trace without holes is one segment.
  ScoreTrace cut =
      MakeTrace({3, 4, 6, 7}, {1, 1, 1, 1}, {0, 0, 0, 0}, {0}, {std::vector<float>(4, 0.f)});
  EXPECT_EQ(cut.Segments(), (std::vector<Seg>{{0, 2}, {2, 4}}));
  EXPECT_EQ(cut.Events(), (std::vector<FrameInterval>{{3, 4}, {6, 7}}));
  ScoreTrace whole = MakeTrace({8, 9, 10}, {1, 0, 1}, {0, 0, 0}, {0}, {std::vector<float>(3, 0.f)});
  EXPECT_EQ(whole.Segments(), (std::vector<Seg>{{0, 3}}));
  EXPECT_EQ(whole.Events(), (std::vector<FrameInterval>{{8, 8}, {10, 10}}));
  EXPECT_TRUE(ScoreTrace{}.Segments().empty());
  EXPECT_TRUE(ScoreTrace{}.Events().empty());
}

TEST(ScoreTrace, MalformedInputNamesOriginLineAndProblem) {
  const std::string origin = "pk/trace.csv";
  struct Case {
    const char* what;
    std::string text;
    std::vector<std::string> expected;  // substrings of the message
  };
  const std::string h = "frame,label,fold,bp0,bp3\n";
  const std::vector<Case> cases = {
      {"bad header",
       "frame,lbl,fold,bp0\n1,0,0,0.5\n",
       {origin + ":1:", "header", "frame,lbl,fold,bp0"}},
      {"header without score columns", "frame,label,fold\n1,0,0\n", {origin + ":1:", "header"}},
      {"non-bp column",
       "frame,label,fold,bp0,score\n",
       {origin + ":1:", "'score'", "bp<branchpoint>"}},
      {"bp without a number", "frame,label,fold,bpx\n", {origin + ":1:", "'bpx'"}},
      {"duplicate column", "frame,label,fold,bp3,bp3\n", {origin + ":1:", "'bp3'", "twice"}},
      {"mc without a number", "frame,label,fold,bp0,mc\n", {origin + ":1:", "'mc'"}},
      {"frame not increasing",
       h + "1,0,0,0.1,0.2\n2,0,0,0.1,0.2\n2,1,0,0.1,0.2\n",
       {origin + ":4:", "frame '2'", "after frame 2"}},
      {"frame 0", h + "0,0,0,0.1,0.2\n", {origin + ":2:", "frame '0'"}},
      {"label 2", h + "1,0,0,0.1,0.2\n2,2,0,0.1,0.2\n", {origin + ":3:", "label '2'", "0 or 1"}},
      {"fold -1", h + "1,0,-1,0.1,0.2\n", {origin + ":2:", "fold '-1'"}},
      {"score 1.5", h + "1,0,0,0.1,1.5\n", {origin + ":2:", "score '1.5'", "bp3", "[0, 1]"}},
      {"score nan", h + "1,0,0,nan,0.2\n", {origin + ":2:", "score 'nan'", "bp0"}},
      {"score negative", h + "1,0,0,-0.25,0.2\n", {origin + ":2:", "score '-0.25'"}},
      {"too few fields", h + "1,0,0,0.1\n", {origin + ":2:", "expected 5 fields, got 4"}},
      {"too many fields", h + "1,0,0,0.1,0.2,0.3\n", {origin + ":2:", "expected 5 fields, got 6"}},
      {"blank lines still count", h + "\n\n1,0,0,0.1,x\n", {origin + ":4:", "score 'x'"}},
      {"empty file", "", {origin, "empty score trace"}},
      {"only blank lines", "\n  \n", {origin, "empty score trace"}},
      {"header only", h, {origin, "no frames"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string msg = InputErrorOf([&] { ParseScoreTrace(c.text, origin); });
    EXPECT_EQ(msg.rfind(origin, 0), 0u) << msg;  // starts with the origin
    for (const std::string& part : c.expected) EXPECT_NE(msg.find(part), std::string::npos) << msg;
  }
}

TEST(ScoreTrace, ValidateRejectsInconsistentColumns) {
  ScoreTrace ok = MakeTrace({1, 2}, {0, 1}, {0, 0}, {0}, {{0.1f, 0.9f}});
  EXPECT_NO_THROW(ok.Validate("t"));
  ScoreTrace t = ok;
  t.labels.pop_back();
  EXPECT_NE(InputErrorOf([&] { t.Validate("t"); }).find("t: 2 frames but 1 labels"),
            std::string::npos);
  t = ok;
  t.scores[0][1] = std::nanf("");
  EXPECT_NE(InputErrorOf([&] { t.Validate("t"); }).find("not in [0, 1]"), std::string::npos);
  t = ok;
  t.frames = {2, 2};
  EXPECT_NE(InputErrorOf([&] { t.Validate("t"); }).find("row 2"), std::string::npos);
  t = ok;
  t.columns = BranchKeys({3, 3});
  t.scores = {{0.1f, 0.2f}, {0.3f, 0.4f}};
  EXPECT_NE(InputErrorOf([&] { t.Validate("t"); }).find("twice"), std::string::npos);
  // FormatScoreTrace refuses what it could not read back.
  t = ok;
  t.folds[0] = -1;
  EXPECT_NE(InputErrorOf([&] { FormatScoreTrace(t); }).find("fold"), std::string::npos);
}

// -------------------------------------------------------------- ReplayPhases

TEST(TraceModelPhases, IntegerStridesGiveEveryFrameOffset) {
  for (int s = 1; s <= 9; ++s) {
    std::vector<double> expected;
    for (int m = 0; m < s; ++m) expected.push_back(m);
    EXPECT_EQ(ReplayPhases(s), expected) << "stride " << s;
  }
}

TEST(TraceModelPhases, RationalStrideGivesPhasesInStepsOfOneOverQ) {
  const std::vector<double> phases = ReplayPhases(7.0 / 3.0);
  ASSERT_EQ(phases.size(), 7u);
  for (int m = 0; m < 7; ++m) EXPECT_NEAR(phases[static_cast<size_t>(m)], m / 3.0, 1e-12) << m;
  const std::vector<double> half = ReplayPhases(2.5);
  ASSERT_EQ(half.size(), 5u);
  for (int m = 0; m < 5; ++m) EXPECT_NEAR(half[static_cast<size_t>(m)], m / 2.0, 1e-12) << m;
}

TEST(TraceModelPhases, IrrationalStrideGives64EvenPhases) {
  const double stride = std::sqrt(7.0);
  const std::vector<double> phases = ReplayPhases(stride);
  ASSERT_EQ(phases.size(), 64u);
  for (int m = 0; m < 64; ++m)
    EXPECT_NEAR(phases[static_cast<size_t>(m)], (m + 0.5) * stride / 64, 1e-12);
  EXPECT_NE(InputErrorOf([] { ReplayPhases(0.5); }).find("stride"), std::string::npos);
  EXPECT_NE(InputErrorOf([] { ReplayPhases(std::nan("")); }).find("stride"), std::string::npos);
}

// The first 2q sampled frame offsets from `phase` (q samples span p frames,
// after which the pattern repeats shifted by p).
using Pattern = std::vector<int64_t>;
Pattern DirectPattern(double phase, double stride, int64_t q) {
  Pattern p;
  for (int64_t j = 0; j < 2 * q; ++j)
    p.push_back(static_cast<int64_t>(std::floor(phase + j * stride)));
  return p;
}
Pattern SamplerPattern(double phase, double stride, int64_t q) {
  Sampler sampler(stride, phase);
  Pattern p;
  for (int64_t k = 0; static_cast<int64_t>(p.size()) < 2 * q; ++k) {
    if (sampler.Offer()) p.push_back(k);
  }
  return p;
}

TEST(TraceModelPhases, PhasesWeighEveryPatternAsAUniformPhaseDoes) {
  // Brute force: sampling from a uniform phase in [0, stride) (a fine grid,
  // off the pattern boundaries m/q) gives each distinct pattern with some
  // frequency; ReplayPhases must list each of them exactly once (each 1/p).
  struct Stride {
    int64_t p, q;
  };
  const std::vector<Stride> strides = {{1, 1}, {2, 1}, {5, 1},  {3, 2}, {7, 3},
                                       {5, 4}, {6, 5}, {13, 5}, {17, 8}};
  constexpr int kGrid = 10000;
  for (const Stride& s : strides) {
    const double stride = static_cast<double>(s.p) / static_cast<double>(s.q);
    SCOPED_TRACE(::testing::Message() << "stride " << s.p << "/" << s.q);
    std::map<Pattern, int> brute;
    for (int i = 0; i < kGrid; ++i) {
      const double phi = (i + 0.37) * stride / kGrid;
      ++brute[DirectPattern(phi, stride, s.q)];
    }
    const std::vector<double> phases = ReplayPhases(stride);
    ASSERT_EQ(phases.size(), static_cast<size_t>(s.p));
    std::map<Pattern, int> replay;
    for (double phase : phases) {
      EXPECT_GE(phase, 0);
      EXPECT_LT(phase, stride);
      ++replay[SamplerPattern(phase, stride, s.q)];
    }
    ASSERT_EQ(replay.size(), brute.size()) << "distinct patterns";
    for (const auto& [pattern, count] : replay) {
      EXPECT_EQ(count, 1);
      auto it = brute.find(pattern);
      ASSERT_NE(it, brute.end()) << "a replay pattern no uniform phase gives";
      // Each pattern covers an interval of phases of length 1/q: N/p grid points, +-1.
      EXPECT_NEAR(static_cast<double>(it->second) / kGrid, 1.0 / static_cast<double>(s.p),
                  1.5 / kGrid);
    }
  }
}

// ------------------------------------------------- ReplayTrace vs reference

// An independent reference of what ReplayTrace computes. `offset(m, j)` is
// the row offset (inside a segment) of the j-th sample at phase index m.
struct Reference {
  double recall = 0, precision = 0, f1 = 0;
  int64_t events = 0, detected = 0, reports = 0, true_reports = 0;
};

std::vector<FrameInterval> ReferenceEvents(const ScoreTrace& t) {
  std::vector<FrameInterval> events;
  for (size_t i = 0; i < t.rows(); ++i) {
    if (!t.labels[i]) continue;
    const bool continues = i > 0 && t.labels[i - 1] && t.frames[i - 1] + 1 == t.frames[i];
    if (continues) {
      events.back().end = t.frames[i];
    } else {
      events.push_back({t.frames[i], t.frames[i]});
    }
  }
  return events;
}

Reference ReferenceReplay(const ScoreTrace& t, int column, double threshold, int x, int phases,
                          const std::function<int64_t(int, int64_t)>& offset) {
  // Segments: maximal runs of consecutive frames.
  std::vector<std::pair<size_t, size_t>> segments;
  for (size_t i = 0; i < t.rows(); ++i) {
    if (i == 0 || t.frames[i] != t.frames[i - 1] + 1) segments.push_back({i, i});
    segments.back().second = i + 1;
  }
  const std::vector<FrameInterval> truth = ReferenceEvents(t);
  Reference ref;
  ref.events = static_cast<int64_t>(truth.size());
  double recall_sum = 0;
  for (int m = 0; m < phases; ++m) {
    std::vector<FrameInterval> reports;
    for (const auto& [begin, end] : segments) {
      // X-voting by hand: report once X consecutive samples are positive, from
      // the first of them to the last positive sample before a negative one.
      int run = 0;
      int64_t start = 0, last = 0;
      for (int64_t j = 0;; ++j) {
        const int64_t k = offset(m, j);
        if (k >= static_cast<int64_t>(end - begin)) break;
        const size_t row = begin + static_cast<size_t>(k);
        if (t.scores[static_cast<size_t>(column)][row] >= threshold) {
          if (run == 0) start = t.frames[row];
          ++run;
          last = t.frames[row];
        } else {
          if (run >= x) reports.push_back({start, last});
          run = 0;
        }
      }
      if (run >= x) reports.push_back({start, last});  // flushed at the segment's end
    }
    const EventScore s = ScoreEvents(truth, reports);
    recall_sum += s.recall;
    ref.detected += s.detected;
    ref.reports += s.reports;
    ref.true_reports += s.true_reports;
  }
  ref.recall = recall_sum / phases;
  ref.precision = ref.reports > 0
                      ? static_cast<double>(ref.true_reports) / static_cast<double>(ref.reports)
                      : 0;
  ref.f1 = ref.precision + ref.recall > 0
               ? 2 * ref.precision * ref.recall / (ref.precision + ref.recall)
               : 0;
  return ref;
}

TEST(TraceModelReplay, MatchesAnIndependentReferenceOnRandomTraces) {
  struct Stride {
    int64_t p, q;  // q = 0: irrational, p ignored
  };
  const std::vector<Stride> strides = {{1, 1}, {2, 1}, {3, 1}, {3, 2}, {7, 3}, {5, 2}, {0, 0}};
  int compared = 0, with_holes = 0;
  double recall_sum = 0, precision_sum = 0;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    const ScoreTrace trace = RandomTrace(seed);
    with_holes += trace.Segments().size() > 1 ? 1 : 0;
    for (const Stride& s : strides) {
      const double stride =
          s.q > 0 ? static_cast<double>(s.p) / static_cast<double>(s.q) : std::sqrt(7.0);
      // Samples at floor(phase + j * stride): the phases m/q exactly in integers,
      // or (m + 1/2)/64 of an irrational stride.
      std::function<int64_t(int, int64_t)> offset;
      int phases = 0;
      if (s.q > 0) {
        phases = static_cast<int>(s.p);
        offset = [s](int m, int64_t j) { return (m + j * s.p) / s.q; };
      } else {
        phases = 64;
        offset = [stride](int m, int64_t j) {
          return static_cast<int64_t>(
              std::floor((m + 0.5) * stride / 64 + static_cast<double>(j) * stride));
        };
      }
      for (int x = 1; x <= 3; ++x) {
        for (int column = 0; column < 2; ++column) {
          SCOPED_TRACE(::testing::Message() << "seed " << seed << " stride " << stride << " x " << x
                                            << " column " << column);
          const TraceReplay r = ReplayTrace(trace, column, 0.5, stride, x);
          const Reference ref = ReferenceReplay(trace, column, 0.5, x, phases, offset);
          ASSERT_EQ(r.phases, phases);
          ASSERT_EQ(r.events, ref.events);
          EXPECT_NEAR(r.score.recall, ref.recall, 1e-9);
          EXPECT_NEAR(r.score.precision, ref.precision, 1e-9);
          EXPECT_NEAR(r.score.f1, ref.f1, 1e-9);
          // The cycles hold every count, each once.
          int64_t detected = 0, true_reports = 0, false_reports = 0;
          for (const EventCycle& c : r.cycles) {
            detected += c.detected;
            true_reports += c.true_reports;
            false_reports += c.false_reports;
          }
          ASSERT_EQ(r.cycles.size(), static_cast<size_t>(ref.events));
          EXPECT_EQ(detected, ref.detected);
          EXPECT_EQ(true_reports, ref.true_reports);
          EXPECT_EQ(false_reports, ref.reports - ref.true_reports);
          EXPECT_NEAR(r.f1_se, JackknifeF1Se(r.cycles, r.phases), 1e-12);
          recall_sum += ref.recall;
          precision_sum += ref.precision;
          ++compared;
        }
      }
    }
  }
  // The random traces exercise what they should: holes, and neither trivial
  // nor hopeless figures.
  EXPECT_GE(with_holes, 5);
  EXPECT_GT(recall_sum / compared, 0.3);
  EXPECT_LT(recall_sum / compared, 0.95);
  EXPECT_GT(precision_sum / compared, 0.2);
  EXPECT_LT(precision_sum / compared, 0.95);
}

// cost_model.h: a Sampler takes frame k for each k in floor(phase + j *
// stride). At the pattern boundaries ReplayPhases uses (m/q) phase + j *
// stride is an exact integer every q samples, so an implementation that
// accumulated the stride would drift by rounding after ~20,000 frames (at
// stride 7/3, phase 0, sample 9255 came one frame early); it computes each
// sample from j directly.
TEST(TraceModelSampler, TakesFloorPhasePlusJStrideOnLongStreams) {
  Sampler sampler(7.0 / 3.0, 0.0);
  int64_t j = 0, first_wrong = -1, wrong_frame = 0;
  for (int64_t k = 0; k < 30000 && first_wrong < 0; ++k) {
    if (!sampler.Offer()) continue;
    if (k != 7 * j / 3) {
      first_wrong = j;
      wrong_frame = k;
    }
    ++j;
  }
  EXPECT_EQ(first_wrong, -1) << "sample " << first_wrong << " is frame " << wrong_frame
                             << ", not floor(j * 7/3) = " << 7 * first_wrong / 3;
}

TEST(TraceModelReplay, LongSegmentMatchesTheReference) {
  // One segment of 30,000 frames (past the Sampler drift above).
  Rng rng(99);
  ScoreTrace t;
  t.columns = BranchKeys({0});
  t.scores.resize(1);
  bool label = false;
  for (int64_t f = 1; f <= 30000; ++f) {
    if (rng.Bernoulli(label ? 0.2 : 0.1)) label = !label;
    t.frames.push_back(f);
    t.labels.push_back(label ? 1 : 0);
    t.folds.push_back(0);
    t.scores[0].push_back(rng.Bernoulli(label ? 0.6 : 0.2) ? 0.9f : 0.1f);
  }
  for (int x : {1, 2}) {
    const TraceReplay r = ReplayTrace(t, 0, 0.5, 7.0 / 3.0, x);
    const Reference ref =
        ReferenceReplay(t, 0, 0.5, x, 7, [](int m, int64_t k) { return (m + 7 * k) / 3; });
    EXPECT_GT(ref.events, 1000);
    EXPECT_NEAR(r.score.recall, ref.recall, 1e-9) << "x " << x;
    EXPECT_NEAR(r.score.precision, ref.precision, 1e-9) << "x " << x;
  }
}

TEST(TraceModelReplay, ThresholdIsInclusiveAndArgumentsAreChecked) {
  // One event of 3 frames scored exactly at the threshold.
  ScoreTrace t = MakeTrace({1, 2, 3, 4, 5, 6}, {0, 1, 1, 1, 0, 0}, {0, 0, 0, 0, 0, 0}, {2},
                           {{0.1f, 0.5f, 0.5f, 0.5f, 0.1f, 0.1f}});
  TraceReplay at = ReplayTrace(t, 0, 0.5, 1, 3);
  EXPECT_DOUBLE_EQ(at.score.recall, 1);
  EXPECT_DOUBLE_EQ(at.score.precision, 1);
  TraceReplay above = ReplayTrace(t, 0, 0.51, 1, 1);
  EXPECT_DOUBLE_EQ(above.score.recall, 0);
  EXPECT_DOUBLE_EQ(above.score.f1, 0);
  EXPECT_NE(InputErrorOf([&] { ReplayTrace(t, 1, 0.5, 1, 1); }).find("column 1"),
            std::string::npos);
  EXPECT_NE(InputErrorOf([&] { ReplayTrace(t, 0, 0.5, 1, 0); }).find("X >= 1"), std::string::npos);
  EXPECT_NE(InputErrorOf([&] { ReplayTrace(t, 0, 0.5, 0.5, 1); }).find("stride"),
            std::string::npos);
}

// ---------------------------------------- what the trace model is there for

TEST(TraceModelReplay, FalsePositivesNextToEventsDoNotCostPrecision) {
  // 20 events of 10 frames between gaps of 30; the classifier fires on every
  // event frame and on the 3 frames on each side of it, never elsewhere. Its
  // false positives merge with the true events' reports: nothing false is
  // ever reported. The analytical model only sees a per-frame FPR and places
  // false positives anywhere in the gaps, so it predicts false reports.
  ScoreTrace t;
  t.columns = BranchKeys({0});
  t.scores.resize(1);
  int64_t frame = 0;
  auto add = [&](int64_t n, bool label) {
    for (int64_t k = 0; k < n; ++k) {
      t.frames.push_back(++frame);
      t.labels.push_back(label ? 1 : 0);
      t.folds.push_back(0);
      t.scores[0].push_back(0.f);
    }
  };
  add(30, false);
  for (int e = 0; e < 20; ++e) {
    add(10, true);
    add(30, false);
  }
  const size_t n = t.rows();
  for (size_t i = 0; i < n; ++i) {
    bool near = false;
    for (size_t j = (i >= 3 ? i - 3 : 0); j <= std::min(n - 1, i + 3); ++j)
      near = near || t.labels[j];
    t.scores[0][i] = near ? 0.9f : 0.1f;
  }
  int64_t positives = 0, negatives = 0, tp = 0, fp = 0;
  for (size_t i = 0; i < n; ++i) {
    const bool pos = t.scores[0][i] >= 0.5f;
    if (t.labels[i]) {
      ++positives;
      tp += pos;
    } else {
      ++negatives;
      fp += pos;
    }
  }
  const double tpr = static_cast<double>(tp) / positives, fpr = static_cast<double>(fp) / negatives;
  ASSERT_DOUBLE_EQ(tpr, 1.0);
  ASSERT_NEAR(fpr, 120.0 / 630.0, 1e-12);  // far from negligible per frame
  EventStats stats;
  stats.mean_length = 10;
  stats.min_length = 10;
  stats.lengths = std::vector<double>(20, 10.0);
  stats.frequency = static_cast<double>(positives) / static_cast<double>(n);
  for (double correlation : {0.0, 0.5}) {
    stats.correlation = correlation;
    for (double stride : {1.0, 2.0, 3.0}) {
      for (int x : {1, 2}) {
        SCOPED_TRACE(::testing::Message()
                     << "c " << correlation << " stride " << stride << " x " << x);
        const TraceReplay r = ReplayTrace(t, 0, 0.5, stride, x);
        EXPECT_EQ(r.events, 20);
        EXPECT_DOUBLE_EQ(r.score.precision, 1.0);
        EXPECT_DOUBLE_EQ(r.score.recall, 1.0);
        const EventPrediction model = PredictEvents(tpr, fpr, stats, stride, x);
        EXPECT_GT(model.false_reports_per_gap, 0.2);
        EXPECT_LT(model.precision, 0.85);
        EXPECT_LT(model.f1, r.score.f1 - 0.05);
      }
    }
  }
}

// -------------------------------------------------- ScoreCycles, jackknife

EventCycle Cycle(int64_t detected, int64_t true_reports, int64_t false_reports) {
  EventCycle c;
  c.detected = detected;
  c.true_reports = true_reports;
  c.false_reports = false_reports;
  return c;
}

TEST(TraceModelCycles, ScoreCyclesByHand) {
  // 3 events, 2 runs: 3 of 6 detections, 3 true of 5 reports.
  const std::vector<EventCycle> cycles = {Cycle(2, 2, 0), Cycle(1, 1, 1), Cycle(0, 0, 1)};
  const CycleScore s = ScoreCycles(cycles, 2);
  EXPECT_DOUBLE_EQ(s.recall, 0.5);
  EXPECT_DOUBLE_EQ(s.precision, 0.6);
  EXPECT_DOUBLE_EQ(s.f1, 0.6 / 1.1);
  const CycleScore none = ScoreCycles({}, 1);
  EXPECT_EQ(none.recall, 0);
  EXPECT_EQ(none.precision, 0);
  EXPECT_EQ(none.f1, 0);
  const CycleScore silent = ScoreCycles({Cycle(0, 0, 0), Cycle(0, 0, 0)}, 3);
  EXPECT_EQ(silent.precision, 0);
  EXPECT_EQ(silent.f1, 0);
  EXPECT_NE(InputErrorOf([&] { ScoreCycles(cycles, 0); }).find("run"), std::string::npos);
}

TEST(TraceModelCycles, JackknifeByHand) {
  // Leaving out each cycle of the case above (2 runs):
  //   without 1: recall 1/4, precision 1/3 -> F1 2/7
  //   without 2: recall 2/4, precision 2/3 -> F1 4/7
  //   without 3: recall 3/4, precision 3/4 -> F1 3/4
  // mean 15/28; deviations -7/28, 1/28, 6/28; SE = sqrt((n-1)/n * sum dev^2).
  const std::vector<EventCycle> cycles = {Cycle(2, 2, 0), Cycle(1, 1, 1), Cycle(0, 0, 1)};
  EXPECT_NEAR(JackknifeF1Se(cycles, 2), std::sqrt(2.0 / 3.0 * (49.0 + 1.0 + 36.0) / 784.0), 1e-12);
  // Identical cycles: every leave-one-out F1 is the same.
  EXPECT_NEAR(JackknifeF1Se(std::vector<EventCycle>(5, Cycle(1, 2, 1)), 1), 0.0, 1e-15);
  EXPECT_NEAR(JackknifeF1Se(std::vector<EventCycle>(4, Cycle(3, 4, 2)), 4), 0.0, 1e-15);
  // Fewer than two cycles: no spread to measure.
  EXPECT_EQ(JackknifeF1Se({Cycle(1, 1, 0)}, 1), 0);
  EXPECT_EQ(JackknifeF1Se({}, 1), 0);
  // Two cycles, one run: without the first F1(1/1 detected, 1/2 precision) = 2/3,
  // without the second F1(0, 0) = 0 -> SE = sqrt(1/2 * 2 * (1/3)^2) = 1/3.
  EXPECT_NEAR(JackknifeF1Se({Cycle(0, 0, 0), Cycle(1, 1, 1)}, 1), 1.0 / 3.0, 1e-12);
}

// ------------------------------------------------------------ per-fold F1

TEST(TraceModelReplay, FoldF1SeparatesFoldsOfDifferentQuality) {
  // Three folds of 200 frames. Folds 0 and 1 have an event of 10 frames in
  // every 40 (5 each); fold 2 has none. The classifier is perfect in fold 0
  // and misses events 2 and 4 of fold 1 entirely, with no false positives.
  ScoreTrace t;
  t.columns = BranchKeys({5});
  t.scores.resize(1);
  for (int64_t f = 1; f <= 600; ++f) {
    const int fold = static_cast<int>((f - 1) / 200);
    const int64_t in_fold = (f - 1) % 200;
    const bool label = fold < 2 && in_fold % 40 >= 15 && in_fold % 40 < 25;
    const int64_t event = in_fold / 40;
    const bool missed = fold == 1 && (event == 1 || event == 3);
    t.frames.push_back(f);
    t.labels.push_back(label ? 1 : 0);
    t.folds.push_back(fold);
    t.scores[0].push_back(label && !missed ? 0.8f : 0.2f);
  }
  const TraceReplay r = ReplayTrace(t, 0, 0.5, 3, 2);  // 10 frames: 3-4 samples at stride 3
  EXPECT_EQ(r.events, 10);
  EXPECT_EQ(r.phases, 3);
  EXPECT_DOUBLE_EQ(r.score.recall, 0.8);
  EXPECT_DOUBLE_EQ(r.score.precision, 1.0);
  ASSERT_EQ(r.fold_f1.size(), 2u);  // fold 2 has no events
  EXPECT_DOUBLE_EQ(r.fold_f1[0], 1.0);
  EXPECT_DOUBLE_EQ(r.fold_f1[1], 0.75);  // recall 3/5, precision 1
  EXPECT_NEAR(r.fold_sd, 0.25 / std::sqrt(2.0), 1e-12);

  // All folds alike: no spread.
  ScoreTrace even = t;
  for (size_t i = 0; i < even.rows(); ++i) even.scores[0][i] = even.labels[i] ? 0.8f : 0.2f;
  const TraceReplay e = ReplayTrace(even, 0, 0.5, 3, 2);
  EXPECT_EQ(e.fold_f1, (std::vector<double>{1.0, 1.0}));
  EXPECT_EQ(e.fold_sd, 0);
  // One fold with events: one F1, no SD.
  ScoreTrace one = even;
  std::fill(one.folds.begin(), one.folds.end(), 0);
  const TraceReplay o = ReplayTrace(one, 0, 0.5, 3, 2);
  EXPECT_EQ(o.fold_f1.size(), 1u);
  EXPECT_EQ(o.fold_sd, 0);
}

// The folds' variance with the events dealt at random: against every deal
// of six cycles to folds of 2 and 4 events (15 of them, equally likely).
TEST(TraceModelCycles, FoldNullVarianceIsTheMeanOverDeals) {
  const std::vector<EventCycle> cycles = {Cycle(2, 2, 0), Cycle(0, 0, 1), Cycle(2, 3, 0),
                                          Cycle(1, 1, 2), Cycle(2, 2, 0), Cycle(0, 0, 0)};
  double exact = 0;
  int deals = 0;
  for (size_t a = 0; a < cycles.size(); ++a) {
    for (size_t b = a + 1; b < cycles.size(); ++b) {
      std::vector<EventCycle> first, second;
      for (size_t i = 0; i < cycles.size(); ++i)
        (i == a || i == b ? first : second).push_back(cycles[i]);
      const double f1 = ScoreCycles(first, 2).f1, f2 = ScoreCycles(second, 2).f1;
      exact += (f1 - f2) * (f1 - f2) / 2;  // the sample variance of two values
      ++deals;
    }
  }
  exact /= deals;
  ASSERT_EQ(deals, 15);
  ASSERT_GT(exact, 0.01);
  EXPECT_NEAR(FoldNullVariance(cycles, {2, 4}, 2, 20000, 7), exact, 0.03 * exact);
  // Seeded: the same deals give the same figure.
  EXPECT_EQ(FoldNullVariance(cycles, {2, 4}, 2), FoldNullVariance(cycles, {2, 4}, 2));
  // Cycles alike: every deal gives folds alike.
  EXPECT_NEAR(FoldNullVariance(std::vector<EventCycle>(6, Cycle(1, 2, 1)), {3, 3}, 2), 0, 1e-15);
  // One fold: no spread.
  EXPECT_EQ(FoldNullVariance(cycles, {6}, 2), 0);
  EXPECT_NE(InputErrorOf([&] {
              FoldNullVariance(cycles, {2, 3}, 2);
            }).find("6 cycles"),
            std::string::npos);
  EXPECT_NE(InputErrorOf([&] {
              FoldNullVariance(cycles, {6, 0}, 2);
            }).find(">= 1 event"),
            std::string::npos);
}

}  // namespace
}  // namespace mainstream

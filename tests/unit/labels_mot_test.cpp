#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "mainstream/core/error.h"
#include "mainstream/core/random.h"
#include "mainstream/labels/events.h"
#include "mainstream/labels/mot.h"
#include "testing/testing.h"

namespace fs = std::filesystem;

namespace mainstream {
namespace {

using testing::TempDir;

using testing::InputErrorOf;

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << "message: " << (haystack)

TEST(MotBoxes, ParsesMot15Mot17AndMinimalLines) {
  std::vector<MotBox> b = ParseMotBoxes(
      "1,9,499,158,31.03,75.17,1,-4.1554,-7.3591,0\n"  // MOT15: world coordinates
      "\n"
      "2,3,10,20,5,40,0,7,0.25\n"  // MOT17: class 7, visibility 0.25
      "3,4,1.5,2.5,3,4\n",         // minimal
      "gt.txt");
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].frame, 1);
  EXPECT_EQ(b[0].id, 9);
  EXPECT_DOUBLE_EQ(b[0].FeetX(), 499 + 31.03 / 2);
  EXPECT_DOUBLE_EQ(b[0].FeetY(), 158 + 75.17);
  EXPECT_EQ(b[0].cls, -1);
  EXPECT_EQ(b[0].line, 1);
  EXPECT_EQ(b[1].conf, 0);
  EXPECT_EQ(b[1].cls, 7);
  EXPECT_DOUBLE_EQ(b[1].visibility, 0.25);
  EXPECT_EQ(b[1].line, 3);
  EXPECT_EQ(b[2].conf, 1);
  EXPECT_DOUBLE_EQ(b[2].h, 4);
}

TEST(MotBoxes, ErrorsNameFileLineAndField) {
  EXPECT_CONTAINS(InputErrorOf([] { ParseMotBoxes("1,1,0,0,5,5,1\n2,1,0,0,abc,5,1\n", "gt.txt"); }),
                  "gt.txt:2: field 5 (w): expected a positive number, got 'abc'");
  EXPECT_CONTAINS(InputErrorOf([] { ParseMotBoxes("1,1,0,0,5,-5\n", "gt.txt"); }),
                  "gt.txt:1: field 6 (h): expected a positive number, got '-5'");
  EXPECT_CONTAINS(InputErrorOf([] { ParseMotBoxes("0,1,0,0,5,5\n", "gt.txt"); }),
                  "gt.txt:1: field 1 (frame): expected an integer >= 1, got '0'");
  EXPECT_CONTAINS(InputErrorOf([] { ParseMotBoxes("1,1,0,0,5\n", "gt.txt"); }),
                  "gt.txt:1: expected 6 to 10 comma-separated fields");
  EXPECT_CONTAINS(
      InputErrorOf([] { ParseMotBoxes("1,7,0,0,5,5\n2,7,0,0,5,5\n\n1,7,3,3,5,5\n", "gt.txt"); }),
      "gt.txt:4: a second box for id 7 in frame 1 (the first is on line 1)");
  // Detections with id -1 may repeat.
  EXPECT_EQ(ParseMotBoxes("1,-1,0,0,5,5\n1,-1,9,9,5,5\n", "det.txt").size(), 2u);
  // Frames written as floats are accepted when integral.
  EXPECT_EQ(ParseMotBoxes("3.0,1,0,0,5,5\n", "gt.txt")[0].frame, 3);
  EXPECT_CONTAINS(InputErrorOf([] { ParseMotBoxes("3.5,1,0,0,5,5\n", "gt.txt"); }),
                  "field 1 (frame)");
}

TEST(SeqInfo, ParsesAndValidates) {
  SeqInfo s = ParseSeqInfo(
      "; "
      "comment\n[Sequence]\nname=PETS09-S2L1\nimDir=img1\nframeRate=7\nseqLength=795\nimWidth=768\n"
      "imHeight=576\nimExt=.jpg\n",
      "seqinfo.ini");
  EXPECT_EQ(s.name, "PETS09-S2L1");
  EXPECT_EQ(s.length, 795);
  EXPECT_EQ(s.width, 768);
  EXPECT_EQ(s.height, 576);
  EXPECT_DOUBLE_EQ(s.frame_rate, 7);
  EXPECT_CONTAINS(InputErrorOf([] { ParseSeqInfo("[Sequence]\nname=x\n", "s.ini"); }),
                  "s.ini: [Sequence] has no seqLength");
  EXPECT_CONTAINS(InputErrorOf([] { ParseSeqInfo("[Other]\nseqLength=3\n", "s.ini"); }),
                  "s.ini: no [Sequence] section");
  EXPECT_CONTAINS(InputErrorOf([] { ParseSeqInfo("[Sequence]\nseqLength=many\n", "s.ini"); }),
                  "s.ini:2: seqLength: expected a positive integer, got 'many'");
  EXPECT_CONTAINS(InputErrorOf([] { ParseSeqInfo("[Sequence]\nseqLength\n", "s.ini"); }),
                  "s.ini:2: expected 'key=value'");
}

TEST(SeqInfo, FoundBesideTheFileOrInItsParent) {
  TempDir tmp;
  testing::WriteText(tmp / "seq" / "gt" / "gt.txt", "1,1,0,0,5,5\n");
  EXPECT_FALSE(FindSeqInfo(tmp / "seq" / "gt" / "gt.txt").has_value());
  testing::WriteText(tmp / "seq" / "seqinfo.ini", "[Sequence]\nseqLength=4\n");
  EXPECT_EQ(FindSeqInfo(tmp / "seq" / "gt" / "gt.txt"), tmp / "seq" / "seqinfo.ini");
  testing::WriteText(tmp / "seq" / "gt" / "seqinfo.ini", "[Sequence]\nseqLength=5\n");
  EXPECT_EQ(FindSeqInfo(tmp / "seq" / "gt" / "gt.txt"), tmp / "seq" / "gt" / "seqinfo.ini");
}

TEST(Region, RectangleIncludesItsBoundary) {
  Region r = Region::Rectangle(10, 20, 30, 40);
  EXPECT_TRUE(r.Contains({10, 20}));
  EXPECT_TRUE(r.Contains({30, 40}));
  EXPECT_TRUE(r.Contains({20, 30}));
  EXPECT_FALSE(r.Contains({9.999, 30}));
  EXPECT_FALSE(r.Contains({20, 40.001}));
  EXPECT_FALSE(r.is_polygon());
  EXPECT_EQ(r.ToString(), "--roi 10,20,30,40");
}

TEST(Region, ConcavePolygonAndBoundary) {
  // An L shape: the square [0,10]^2 minus [5,10]x[5,10].
  Region l = ParsePolygon("0,0;10,0;10,5;5,5;5,10;0,10");
  EXPECT_TRUE(l.Contains({2, 2}));
  EXPECT_TRUE(l.Contains({8, 2}));
  EXPECT_TRUE(l.Contains({2, 8}));
  EXPECT_FALSE(l.Contains({8, 8}));  // the notch
  EXPECT_TRUE(l.Contains({7, 5}));   // on the inner edge
  EXPECT_TRUE(l.Contains({5, 5}));   // the reflex vertex
  EXPECT_TRUE(l.Contains({0, 10}));  // a vertex
  EXPECT_TRUE(l.Contains({0, 3}));   // on an outer edge
  EXPECT_FALSE(l.Contains({-0.01, 3}));
  EXPECT_FALSE(l.Contains({5.01, 9}));
  // Ray through a vertex at the same height must not double count.
  Region diamond = ParsePolygon("5,0;10,5;5,10;0,5");
  EXPECT_TRUE(diamond.Contains({3, 5}));
  EXPECT_FALSE(diamond.Contains({-1, 5}));
  EXPECT_FALSE(diamond.Contains({11, 5}));
  EXPECT_FALSE(diamond.Contains({1, 1}));
  EXPECT_EQ(ParsePolygon(diamond.ToString().substr(10)).ToString(), diamond.ToString());
}

// Winding-number reference for points away from the boundary.
bool InsideByAngles(const std::vector<Point2>& v, Point2 p) {
  double total = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    const Point2& a = v[i];
    const Point2& b = v[(i + 1) % v.size()];
    total += std::atan2((a.x - p.x) * (b.y - p.y) - (a.y - p.y) * (b.x - p.x),
                        (a.x - p.x) * (b.x - p.x) + (a.y - p.y) * (b.y - p.y));
  }
  return std::fabs(total) > M_PI;
}

double DistanceToBoundary(const std::vector<Point2>& v, Point2 p) {
  double best = 1e18;
  for (size_t i = 0; i < v.size(); ++i) {
    const Point2& a = v[i];
    const Point2& b = v[(i + 1) % v.size()];
    double dx = b.x - a.x, dy = b.y - a.y;
    double t = std::clamp(((p.x - a.x) * dx + (p.y - a.y) * dy) / (dx * dx + dy * dy), 0.0, 1.0);
    best = std::min(best, std::hypot(a.x + t * dx - p.x, a.y + t * dy - p.y));
  }
  return best;
}

TEST(Region, RandomStarPolygonsMatchWindingNumber) {
  Rng rng(7);
  int checked = 0;
  for (int poly = 0; poly < 40; ++poly) {
    // A star-shaped simple polygon: sorted angles, random radii around (300, 200).
    int n = 3 + static_cast<int>(rng.Index(10));
    std::vector<double> angles;
    for (int i = 0; i < n; ++i) angles.push_back(rng.Uniform(0, 2 * M_PI));
    std::sort(angles.begin(), angles.end());
    std::vector<Point2> v;
    for (double a : angles) {
      double r = rng.Uniform(20, 150);
      v.push_back({300 + r * std::cos(a), 200 + r * std::sin(a)});
    }
    if (rng.Bernoulli(0.5)) std::reverse(v.begin(), v.end());  // either orientation
    Region region = Region::Polygon(v);
    for (int k = 0; k < 300; ++k) {
      Point2 p{rng.Uniform(100, 500), rng.Uniform(0, 400)};
      if (DistanceToBoundary(v, p) < 1e-6) continue;
      ASSERT_EQ(region.Contains(p), InsideByAngles(v, p))
          << "polygon " << poly << " point " << p.x << "," << p.y;
      ++checked;
    }
  }
  EXPECT_GT(checked, 11000);
}

TEST(Region, ParseErrorsNameTheFlag) {
  EXPECT_CONTAINS(InputErrorOf([] { ParseRoi("1,2,3"); }),
                  "--roi: expected 'x0,y0,x1,y1' (4 numbers), got '1,2,3'");
  EXPECT_CONTAINS(InputErrorOf([] { ParseRoi("1,2,x,4"); }),
                  "--roi: 'x' in '1,2,x,4' is not a number");
  EXPECT_CONTAINS(InputErrorOf([] { ParseRoi("30,2,10,4"); }),
                  "--roi: expected x0 < x1 and y0 < y1");
  EXPECT_CONTAINS(InputErrorOf([] { ParsePolygon("0,0;10,0"); }),
                  "--polygon: a polygon needs at least 3 vertices");
  EXPECT_CONTAINS(InputErrorOf([] { ParsePolygon("0,0;10,0;abc"); }),
                  "--polygon: vertex 3 'abc': expected 'x,y'");
  EXPECT_CONTAINS(InputErrorOf([] { ParsePolygon("0,0,10,0,5,5"); }), "--polygon: vertex 1");
  EXPECT_CONTAINS(InputErrorOf([] { ParsePolygon("0,0;5,5;10,10"); }), "encloses no area");
  EXPECT_CONTAINS(InputErrorOf([] { ParseRoi("0,0,1", "--zone"); }),
                  "--zone: expected 'x0,y0,x1,y1'");
  EXPECT_EQ(ParseRoi(" 0, 300 ,768,576 ").ToString(), "--roi 0,300,768,576");
  EXPECT_EQ(ParsePolygon("0,0; 10,0; 5,5;").vertices().size(), 3u);  // trailing ';' is fine
}

TEST(PersonRule, ParsedFromFlagTexts) {
  PersonRuleArgs a;
  PersonRule def = ParsePersonRule(a);
  EXPECT_FALSE(def.region.has_value());
  EXPECT_EQ(def.min_count, 1);
  EXPECT_EQ(def.min_height, 0);
  EXPECT_EQ(def.ToString(), "--min-count 1");

  a.roi = "0,300,768,576";
  a.min_count = "2";
  a.min_height = "80.5";
  a.classes = "1,2,7";
  a.include_ignored = true;
  PersonRule r = ParsePersonRule(a);
  ASSERT_TRUE(r.region.has_value());
  EXPECT_EQ(r.min_count, 2);
  EXPECT_DOUBLE_EQ(r.min_height, 80.5);
  EXPECT_EQ(r.classes, (std::vector<int>{1, 2, 7}));
  EXPECT_EQ(
      r.ToString(),
      "--roi 0,300,768,576 --min-count 2 --min-height 80.5 --classes 1,2,7 --include-ignored");

  PersonRuleArgs both;
  both.roi = "0,0,1,1";
  both.polygon = "0,0;1,0;1,1";
  EXPECT_CONTAINS(InputErrorOf([&] { ParsePersonRule(both); }),
                  "--roi and --polygon are mutually exclusive");
  PersonRuleArgs k;
  k.min_count = "two";
  EXPECT_CONTAINS(InputErrorOf([&] { ParsePersonRule(k); }),
                  "--min-count: expected an integer >= 1, got 'two'");
  k.min_count = "0";
  EXPECT_CONTAINS(InputErrorOf([&] { ParsePersonRule(k); }), "got '0'");
  PersonRuleArgs h;
  h.min_height = "-3";
  EXPECT_CONTAINS(InputErrorOf([&] { ParsePersonRule(h); }),
                  "--min-height: expected a number of pixels >= 0, got '-3'");
  PersonRuleArgs c;
  c.classes = "1,x";
  EXPECT_CONTAINS(InputErrorOf([&] { ParsePersonRule(c); }), "--classes");
  PersonRuleArgs p;
  p.polygon = "0,0;1";
  EXPECT_CONTAINS(InputErrorOf([&] { ParsePersonRule(p); }), "--polygon: vertex 2");
}

// Boxes of a 6-frame sequence; the region is the lower half [0,100]x[50,100].
const char* kToyGt =
    "1,1,10,10,10,30,1\n"   // feet (15, 40): above the region
    "1,2,10,30,10,30,1\n"   // feet (15, 60): inside, height 30
    "2,1,10,30,10,30,1\n"   // feet (15, 60): inside
    "2,2,60,40,10,50,1\n"   // feet (65, 90): inside, height 50
    "2,3,60,10,10,45,1\n"   // top-left outside, feet (65, 55): inside
    "3,1,10,30,10,30,0\n"   // ignored (conf 0)
    "5,4,98,40,6,10,1\n"    // feet (101, 50): just outside on x
    "6,1,95,40,10,10,1\n";  // feet (100, 50): on the corner -> inside

TEST(MotLabels, RuleOnFeetPointHeightCountAndIgnoredBoxes) {
  MotSequence seq = MakeMotSequence(ParseMotBoxes(kToyGt, "toy.txt"), "toy.txt", 6, "test");
  PersonRule rule;
  rule.region = Region::Rectangle(0, 50, 100, 100);
  EXPECT_EQ(MatchCounts(seq, rule), (std::vector<int>{1, 3, 0, 0, 0, 1}));
  EXPECT_EQ(LabelsFromMot(seq, rule), (FrameLabels{1, 1, 0, 0, 0, 1}));
  rule.min_count = 2;
  EXPECT_EQ(LabelsFromMot(seq, rule), (FrameLabels{0, 1, 0, 0, 0, 0}));
  rule.min_count = 1;
  rule.min_height = 40;
  EXPECT_EQ(MatchCounts(seq, rule), (std::vector<int>{0, 2, 0, 0, 0, 0}));
  rule.min_height = 45;  // inclusive: the 45-pixel box still counts
  EXPECT_EQ(MatchCounts(seq, rule), (std::vector<int>{0, 2, 0, 0, 0, 0}));
  rule.min_height = 45.01;
  EXPECT_EQ(MatchCounts(seq, rule), (std::vector<int>{0, 1, 0, 0, 0, 0}));
  rule.min_height = 0;
  rule.include_ignored = true;
  EXPECT_EQ(MatchCounts(seq, rule), (std::vector<int>{1, 3, 1, 0, 0, 1}));
  PersonRule anywhere;  // no region: every considered box
  EXPECT_EQ(MatchCounts(seq, anywhere), (std::vector<int>{2, 3, 0, 0, 1, 1}));
  PersonRule tri;
  tri.region = ParsePolygon("0,50;100,50;0,100");  // lower-left triangle
  EXPECT_EQ(MatchCounts(seq, tri), (std::vector<int>{1, 2, 0, 0, 0, 1}));
}

TEST(MotLabels, ClassFilterUsesTheClassColumn) {
  MotSequence seq = MakeMotSequence(
      ParseMotBoxes("1,1,0,0,5,5,1,1,1\n1,2,0,0,5,5,1,3,1\n2,1,0,0,5,5,1,7,0.5\n", "gt17.txt"),
      "gt17.txt", 2, "test");
  PersonRule rule;
  rule.classes = {1, 7};
  EXPECT_EQ(MatchCounts(seq, rule), (std::vector<int>{1, 1}));
  rule.classes = {3};
  EXPECT_EQ(MatchCounts(seq, rule), (std::vector<int>{1, 0}));
}

TEST(MotLabels, SequenceLengthFromSeqInfoOrFlag) {
  TempDir tmp;
  fs::path gt = tmp / "seq" / "gt" / "gt.txt";
  testing::WriteText(gt, kToyGt);
  std::string no_len = InputErrorOf([&] { LoadMotSequence(gt); });
  EXPECT_CONTAINS(no_len, gt.string() + ": cannot tell the sequence length");
  EXPECT_CONTAINS(no_len, "--frames");
  MotSequence flagged = LoadMotSequence(gt, 8);
  EXPECT_EQ(flagged.num_frames, 8);
  EXPECT_EQ(flagged.boxes.size(), 8u);
  EXPECT_EQ(LabelsFromMot(flagged, PersonRule{}).size(), 8u);

  testing::WriteText(tmp / "seq" / "seqinfo.ini",
                     "[Sequence]\nseqLength=7\nimWidth=100\nimHeight=100\n");
  MotSequence seq = LoadMotSequence(gt);
  EXPECT_EQ(seq.num_frames, 7);
  EXPECT_EQ(seq.frames_from, (tmp / "seq" / "seqinfo.ini").string());
  EXPECT_EQ(LabelsFromMot(seq, PersonRule{}), (FrameLabels{1, 1, 0, 0, 1, 1, 0}));

  // A box beyond the length names its line and where the length came from.
  std::string beyond = InputErrorOf([&] { LoadMotSequence(gt, 5); });
  EXPECT_CONTAINS(
      beyond,
      gt.string() + ":8: frame 6 is beyond the sequence length 5 (from the given frame count)");
  testing::WriteText(tmp / "seq" / "seqinfo.ini", "[Sequence]\nseqLength=4\n");
  EXPECT_CONTAINS(InputErrorOf([&] { LoadMotSequence(gt); }),
                  "(from " + (tmp / "seq" / "seqinfo.ini").string());

  // A region entirely outside the image is an input error, not silent all-zero labels.
  testing::WriteText(tmp / "seq" / "seqinfo.ini",
                     "[Sequence]\nseqLength=7\nimWidth=100\nimHeight=100\n");
  PersonRule far;
  far.region = ParseRoi("500,500,600,600");
  EXPECT_CONTAINS(InputErrorOf([&] { LabelsFromMot(LoadMotSequence(gt), far); }),
                  "--roi 500,500,600,600: the region lies entirely outside the 100x100 image");
  EXPECT_CONTAINS(InputErrorOf([&] { LoadMotSequence(tmp / "missing.txt", 3); }),
                  "missing.txt: cannot open the MOT ground-truth file");
}

// The bundled PETS 2009 S2.L1 ground truth, if present.
TEST(MotLabels, Pets09GroundTruth) {
  const fs::path dir = fs::path(MS_SOURCE_DIR) / ".." / "shared" / "data" / "pets09-s2l1";
  if (!fs::exists(dir / "gt.txt") || !fs::exists(dir / "seqinfo.ini")) {
    GTEST_SKIP() << "no PETS ground truth at " << dir;
  }
  MotSequence seq = LoadMotSequence(dir / "gt.txt");
  EXPECT_EQ(seq.num_frames, 795);
  EXPECT_EQ(seq.boxes.size(), 4650u);
  ASSERT_TRUE(seq.info.has_value());
  EXPECT_EQ(seq.info->width, 768);
  EXPECT_EQ(seq.info->height, 576);

  // Independent reference: re-read the file with sscanf and apply the rule by hand.
  std::ifstream in(dir / "gt.txt");
  std::string line;
  std::vector<int> all(795, 0), lower(795, 0);
  while (std::getline(in, line)) {
    int frame = 0, id = 0;
    double x, y, w, h, conf;
    ASSERT_EQ(
        std::sscanf(line.c_str(), "%d,%d,%lf,%lf,%lf,%lf,%lf", &frame, &id, &x, &y, &w, &h, &conf),
        7);
    if (conf == 0) continue;
    ++all[static_cast<size_t>(frame - 1)];
    const double fx = x + w / 2, fy = y + h;
    if (fx >= 0 && fx <= 768 && fy >= 400 && fy <= 576 && h >= 90)
      ++lower[static_cast<size_t>(frame - 1)];
  }
  PersonRule everyone;
  std::vector<int> counts = MatchCounts(seq, everyone);
  EXPECT_EQ(counts, all);
  EXPECT_EQ(*std::min_element(counts.begin(), counts.end()), 2);  // "2-8 people per frame"
  EXPECT_EQ(*std::max_element(counts.begin(), counts.end()), 8);

  PersonRuleArgs args;
  args.roi = "0,400,768,576";
  args.min_height = "90";
  PersonRule near = ParsePersonRule(args);
  EXPECT_EQ(MatchCounts(seq, near), lower);
  FrameLabels labels = LabelsFromMot(seq, near);
  EventStats stats = EventStatsFromLabels(labels, "pets near");
  EXPECT_NO_THROW(stats.Validate("pets near"));
  EXPECT_GE(stats.lengths.size(), 2u);
  EXPECT_GT(stats.frequency, 0);
  EXPECT_LT(stats.frequency, 1);

  // The example application of docs/labels.md.
  PersonRuleArgs centre;
  centre.roi = "300,300,500,450";
  FrameLabels raw = LabelsFromMot(seq, ParsePersonRule(centre));
  EXPECT_EQ(
      SummarizeLabels(raw),
      "795 frames, 227 positive (28.6%), 11 events, length mean 20.6 / min 10 / max 31 frames");
  EXPECT_EQ(
      SummarizeLabels(SmoothLabels(raw, 2, 3)),
      "795 frames, 228 positive (28.7%), 10 events, length mean 22.8 / min 10 / max 45 frames");
}

}  // namespace
}  // namespace mainstream

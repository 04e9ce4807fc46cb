#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "mainstream/core/error.h"
#include "mainstream/labels/label_file.h"
#include "testing/testing.h"

namespace fs = std::filesystem;

namespace mainstream {
namespace {

using testing::TempDir;

// The message of the InputError that `f` throws (fails the test otherwise).
using testing::InputErrorOf;

TEST(LabelFile, ParsesRowsInOrder) {
  FrameLabels l = ParseLabelFile("frame,label\n1,0\n2,1\n3,1\n4,0\n", "labels.csv");
  EXPECT_EQ(l, (FrameLabels{0, 1, 1, 0}));
  EXPECT_EQ(CountPositives(l), 2);
}

TEST(LabelFile, ToleratesCrlfBomBlanksAndSpaces) {
  FrameLabels l =
      ParseLabelFile("\xEF\xBB\xBF Frame , Label \r\n\r\n1, 1\r\n 2 ,0\r\n\n3,1", "x.csv");
  EXPECT_EQ(l, (FrameLabels{1, 0, 1}));
}

TEST(LabelFile, WriteReadRoundTripIsAtomicAndExact) {
  TempDir tmp;
  fs::path f = tmp / "sub" / "labels.csv";
  FrameLabels l{0, 0, 1, 1, 1, 0, 1};
  WriteLabelFile(f, l);
  EXPECT_EQ(testing::ReadText(f), "frame,label\n1,0\n2,0\n3,1\n4,1\n5,1\n6,0\n7,1\n");
  EXPECT_EQ(ReadLabelFile(f), l);
  // A failed write (bad value) leaves the previous file untouched and no temporaries.
  FrameLabels bad{0, 2, 1};
  std::string msg = InputErrorOf([&] { WriteLabelFile(f, bad); });
  EXPECT_NE(msg.find("label of frame 2 is 2"), std::string::npos) << msg;
  EXPECT_EQ(ReadLabelFile(f), l);
  int entries = 0;
  for (const auto& e : fs::directory_iterator(f.parent_path())) entries += e.is_regular_file();
  EXPECT_EQ(entries, 1);
}

TEST(LabelFile, UnknownValueNamesFileLineAndValue) {
  std::string msg =
      InputErrorOf([] { ParseLabelFile("frame,label\n1,0\n2,1\n3,yes\n", "app/labels.csv"); });
  EXPECT_NE(msg.find("app/labels.csv:4:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'yes'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected 0 or 1"), std::string::npos) << msg;
  // Numbers other than 0/1, and "1.0", are unknown values too.
  EXPECT_NE(InputErrorOf([] {
              ParseLabelFile("frame,label\n1,2\n", "l.csv");
            }).find("l.csv:2: unknown label '2'"),
            std::string::npos);
  EXPECT_NE(InputErrorOf([] { ParseLabelFile("frame,label\n1,1.0\n", "l.csv"); }).find("'1.0'"),
            std::string::npos);
}

TEST(LabelFile, FramesMustStartAtOneAndBeContiguous) {
  std::string gap = InputErrorOf([] { ParseLabelFile("frame,label\n1,0\n2,1\n\n4,1\n", "l.csv"); });
  EXPECT_NE(gap.find("l.csv:5: expected frame 3, got 4"), std::string::npos) << gap;
  std::string zero = InputErrorOf([] { ParseLabelFile("frame,label\n0,0\n", "l.csv"); });
  EXPECT_NE(zero.find("l.csv:2: frame '0' is not a positive integer"), std::string::npos) << zero;
  std::string dup = InputErrorOf([] { ParseLabelFile("frame,label\n1,0\n1,1\n", "l.csv"); });
  EXPECT_NE(dup.find("l.csv:3: expected frame 2, got 1"), std::string::npos) << dup;
  std::string start = InputErrorOf([] { ParseLabelFile("frame,label\n2,0\n", "l.csv"); });
  EXPECT_NE(start.find("expected frame 1, got 2"), std::string::npos) << start;
  std::string text = InputErrorOf([] { ParseLabelFile("frame,label\nabc,0\n", "l.csv"); });
  EXPECT_NE(text.find("l.csv:2: frame 'abc'"), std::string::npos) << text;
}

TEST(LabelFile, StructuralErrors) {
  std::string no_header = InputErrorOf([] { ParseLabelFile("1,0\n2,1\n", "l.csv"); });
  EXPECT_NE(no_header.find("l.csv:1: expected the header 'frame,label', got '1,0'"),
            std::string::npos)
      << no_header;
  std::string fields = InputErrorOf([] { ParseLabelFile("frame,label\n1,0,7\n", "l.csv"); });
  EXPECT_NE(fields.find("l.csv:2: expected 2 fields 'frame,label', got 3"), std::string::npos)
      << fields;
  std::string one = InputErrorOf([] { ParseLabelFile("frame,label\n1\n", "l.csv"); });
  EXPECT_NE(one.find("l.csv:2: expected 2 fields"), std::string::npos) << one;
  EXPECT_NE(InputErrorOf([] { ParseLabelFile("", "l.csv"); }).find("l.csv: empty label file"),
            std::string::npos);
  EXPECT_NE(
      InputErrorOf([] { ParseLabelFile("frame,label\n\n", "l.csv"); }).find("l.csv: no frames"),
      std::string::npos);
}

TEST(LabelFile, UnreadableFilesAreInputErrorsNamingThem) {
  TempDir tmp;
  std::string missing = InputErrorOf([&] { ReadLabelFile(tmp / "nope.csv"); });
  EXPECT_NE(missing.find("nope.csv: cannot open the label file"), std::string::npos) << missing;
  std::string dir = InputErrorOf([&] { ReadLabelFile(tmp.path()); });
  EXPECT_NE(dir.find("is a directory"), std::string::npos) << dir;
  testing::WriteText(tmp / "bad.csv", "frame,label\n1,0\n2,maybe\n");
  std::string bad = InputErrorOf([&] { ReadLabelFile(tmp / "bad.csv"); });
  EXPECT_NE(bad.find((tmp / "bad.csv").string() + ":3:"), std::string::npos) << bad;
}

TEST(LabelFile, FrameCountCheckNamesBothCounts) {
  FrameLabels l(790, 0);
  EXPECT_NO_THROW(CheckLabelFrameCount(l, "labels.csv", 790, "vtest.avi"));
  std::string msg = InputErrorOf([&] { CheckLabelFrameCount(l, "labels.csv", 795, "vtest.avi"); });
  EXPECT_EQ(msg, "labels.csv: has labels for 790 frames, but vtest.avi has 795 frames");
}

TEST(LabelFile, LargeFileRoundTrip) {
  FrameLabels l(100000);
  for (size_t i = 0; i < l.size(); ++i) l[i] = static_cast<uint8_t>((i * 7919 / 13) % 3 == 0);
  EXPECT_EQ(ParseLabelFile(FormatLabelFile(l), "big.csv"), l);
}

}  // namespace
}  // namespace mainstream

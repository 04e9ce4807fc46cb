// MOTChallenge box ground truth to per-frame binary labels by a rule on the
// people in each frame: a region of interest (rectangle or polygon) that the
// feet point (x + w/2, y + h) must lie in, a minimum box height, and a minimum
// number K of such people. See docs/labels.md for the format and examples.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mainstream/labels/label_file.h"

namespace mainstream {

// One line of a MOT file: frame,id,x,y,w,h[,conf[,class,visibility]] (MOT16+)
// or frame,id,x,y,w,h,conf,wx,wy,wz (MOT15, world coordinates ignored).
struct MotBox {
  int64_t frame = 0;
  int64_t id = 0;
  double x = 0, y = 0, w = 0, h = 0;  // top-left corner and size, pixels
  double conf = 1;                    // ground truth: 0 = "ignore this box" (MOT convention)
  int cls = -1;                       // class (9-field MOT16+ files only), else -1
  double visibility = -1;             // visibility ratio (9-field files only), else -1
  int64_t line = 0;                   // line in the file, for messages

  double FeetX() const { return x + w / 2; }
  double FeetY() const { return y + h; }
};

// Parses MOT text (comma-separated, 6 to 10 fields, blank lines skipped).
// Errors read "<origin>:<line>: field N (<name>): expected ..., got '<value>'".
// A repeated (frame, id) pair with id >= 0 is an error.
std::vector<MotBox> ParseMotBoxes(std::string_view text, const std::string& origin);
std::vector<MotBox> ReadMotBoxes(const std::filesystem::path& file);

// The [Sequence] section of a MOTChallenge seqinfo.ini.
struct SeqInfo {
  std::string name;
  int64_t length = 0;     // seqLength (required)
  double frame_rate = 0;  // frameRate, 0 if absent
  int64_t width = 0;      // imWidth, 0 if absent
  int64_t height = 0;     // imHeight, 0 if absent
};
SeqInfo ParseSeqInfo(std::string_view text, const std::string& origin);
SeqInfo ReadSeqInfo(const std::filesystem::path& file);
// seqinfo.ini beside `gt_file` or in its parent directory (MOT layout
// <seq>/gt/gt.txt + <seq>/seqinfo.ini), if either exists.
std::optional<std::filesystem::path> FindSeqInfo(const std::filesystem::path& gt_file);

struct Point2 {
  double x = 0, y = 0;
};

// A region of the image in pixel coordinates: an axis-aligned rectangle or a
// simple polygon. Points on the boundary are inside. A self-intersecting
// polygon uses the even-odd rule.
class Region {
 public:
  // Requires x0 < x1 and y0 < y1.
  static Region Rectangle(double x0, double y0, double x1, double y1);
  // Requires >= 3 vertices enclosing a non-zero area.
  static Region Polygon(std::vector<Point2> vertices);

  bool Contains(Point2 p) const;
  bool is_polygon() const { return polygon_; }
  // The rectangle's 4 corners (x0,y0),(x1,y0),(x1,y1),(x0,y1), or the polygon.
  const std::vector<Point2>& vertices() const { return vertices_; }
  // Bounding box [min_x, min_y, max_x, max_y].
  double min_x() const { return min_x_; }
  double min_y() const { return min_y_; }
  double max_x() const { return max_x_; }
  double max_y() const { return max_y_; }
  // The flag text that recreates it: "--roi x0,y0,x1,y1" / "--polygon x,y;x,y;...".
  std::string ToString() const;

 private:
  bool polygon_ = false;
  std::vector<Point2> vertices_;
  double min_x_ = 0, min_y_ = 0, max_x_ = 0, max_y_ = 0;
};

// "x0,y0,x1,y1"; errors name `flag` and the offending text.
Region ParseRoi(const std::string& text, const std::string& flag = "--roi");
// "x1,y1;x2,y2;x3,y3[;...]"; errors name `flag` and the offending vertex.
Region ParsePolygon(const std::string& text, const std::string& flag = "--polygon");

// Which boxes count as matching people, and how many make a positive frame.
struct PersonRule {
  std::optional<Region> region;  // feet point must lie inside; none: anywhere
  int min_count = 1;             // K: frame is positive when >= K boxes match
  double min_height = 0;         // box height h >= min_height (pixels)
  bool include_ignored = false;  // also count boxes with conf == 0
  std::vector<int> classes;      // allowed classes (9-field files); empty: any

  bool Matches(const MotBox& box) const;
  // Throws InputError if a value is out of range (min_count < 1, ...).
  void Validate() const;
  // The flags that recreate it, e.g. "--roi 0,300,768,576 --min-count 2".
  std::string ToString() const;
};

// The rule as the command line passes it: raw flag texts, empty = not given.
struct PersonRuleArgs {
  std::string roi;               // --roi x0,y0,x1,y1
  std::string polygon;           // --polygon x1,y1;x2,y2;...
  std::string min_count;         // --min-count K (default 1)
  std::string min_height;        // --min-height H (default 0)
  std::string classes;           // --classes 1,2,7 (default: any)
  bool include_ignored = false;  // --include-ignored
};
// Errors name the flag: "--min-count: expected an integer >= 1, got 'two'".
PersonRule ParsePersonRule(const PersonRuleArgs& args);

// Longest sequence accepted (seqLength or --frames): labels hold one entry
// per frame; 10^7 frames is 3.9 days at 30 fps (a label file of ~100 MB).
inline constexpr int64_t kMaxMotFrames = 10'000'000;

// Boxes of one sequence and its length.
struct MotSequence {
  std::string origin;  // the gt file
  std::vector<MotBox> boxes;
  int64_t num_frames = 0;
  std::string frames_from;  // where num_frames came from (for messages)
  std::optional<SeqInfo> info;
};

// Reads `gt_file` and the sequence length: `num_frames` if given (e.g. a
// --frames flag; a warning is logged if seqinfo.ini disagrees), else
// seqLength from FindSeqInfo(gt_file). Throws InputError
// when neither is available, or when a box's frame lies beyond the length
// (naming the line and where the length came from).
MotSequence LoadMotSequence(const std::filesystem::path& gt_file,
                            std::optional<int64_t> num_frames = std::nullopt);
// Same from boxes already parsed.
MotSequence MakeMotSequence(std::vector<MotBox> boxes, const std::string& origin,
                            int64_t num_frames, const std::string& frames_from);

// Matching people per frame (index = frame - 1); frames without boxes are 0.
// If the sequence's image size is known, a region entirely outside the image
// is an InputError.
std::vector<int> MatchCounts(const MotSequence& seq, const PersonRule& rule);
// 1 where MatchCounts >= rule.min_count.
FrameLabels LabelsFromMot(const MotSequence& seq, const PersonRule& rule);

}  // namespace mainstream

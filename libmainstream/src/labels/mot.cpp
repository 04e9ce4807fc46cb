#include "mainstream/labels/mot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>
#include <utility>

#include "mainstream/core/error.h"
#include "mainstream/core/log.h"
#include "mainstream/core/parse.h"
#include "text.h"

namespace fs = std::filesystem;

namespace mainstream {

using labels_internal::ParseInt;
using labels_internal::ParseIntegral;
using labels_internal::ParseNumber;
using labels_internal::Quote;
using labels_internal::SplitFields;
using labels_internal::SplitLines;
using labels_internal::TrimView;

// ---------------------------------------------------------------------------
// MOT boxes

namespace {

constexpr const char* kMotFieldNames[] = {"frame", "id",   "x",     "y",          "w",
                                          "h",     "conf", "class", "visibility", "wz"};

struct MotLine {
  const std::string& origin;
  int64_t line;
  const std::vector<std::string_view>& fields;

  [[noreturn]] void Fail(size_t index, const char* expected) const {
    ThrowInput("{}:{}: field {} ({}): expected {}, got '{}'", origin, line, index + 1,
               kMotFieldNames[index], expected, Quote(fields[index]));
  }
  int64_t Integral(size_t index, int64_t min) const {
    std::optional<int64_t> v = ParseIntegral(fields[index]);
    if (!v || *v < min) Fail(index, min == 1 ? "an integer >= 1" : "an integer");
    return *v;
  }
  double Number(size_t index, bool positive) const {
    std::optional<double> v = ParseNumber(fields[index]);
    if (!v || (positive && !(*v > 0))) Fail(index, positive ? "a positive number" : "a number");
    return *v;
  }
};

}  // namespace

std::vector<MotBox> ParseMotBoxes(std::string_view text, const std::string& origin) {
  std::vector<MotBox> boxes;
  std::map<std::pair<int64_t, int64_t>, int64_t> seen;  // (frame, id) -> line
  int64_t line_no = 0;
  for (std::string_view raw : SplitLines(text)) {
    ++line_no;
    std::string_view line = TrimView(raw);
    if (line.empty()) continue;
    std::vector<std::string_view> fields = SplitFields(line, ',');
    if (fields.size() < 6 || fields.size() > 10) {
      ThrowInput(
          "{}:{}: expected 6 to 10 comma-separated fields "
          "(frame,id,x,y,w,h,conf,class,visibility), got {}: '{}'",
          origin, line_no, fields.size(), Quote(line));
    }
    MotLine f{origin, line_no, fields};
    MotBox b;
    b.line = line_no;
    b.frame = f.Integral(0, 1);
    b.id = f.Integral(1, std::numeric_limits<int64_t>::min());
    b.x = f.Number(2, false);
    b.y = f.Number(3, false);
    b.w = f.Number(4, true);
    b.h = f.Number(5, true);
    if (fields.size() >= 7) b.conf = f.Number(6, false);
    // 8 or 9 fields: MOT16+ class and visibility; 10 fields: MOT15, whose
    // last three are world coordinates (unused).
    if (fields.size() == 8 || fields.size() == 9) {
      b.cls = static_cast<int>(f.Integral(7, std::numeric_limits<int>::min()));
    }
    if (fields.size() == 9) b.visibility = f.Number(8, false);
    if (b.id >= 0) {
      auto [it, inserted] = seen.emplace(std::make_pair(b.frame, b.id), line_no);
      if (!inserted) {
        ThrowInput("{}:{}: a second box for id {} in frame {} (the first is on line {})", origin,
                   line_no, b.id, b.frame, it->second);
      }
    }
    boxes.push_back(b);
  }
  return boxes;
}

std::vector<MotBox> ReadMotBoxes(const fs::path& file) {
  return ParseMotBoxes(labels_internal::ReadWholeFile(file.string(), "MOT ground-truth file"),
                       file.string());
}

// ---------------------------------------------------------------------------
// seqinfo.ini

namespace {
bool SameKey(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}
}  // namespace

SeqInfo ParseSeqInfo(std::string_view text, const std::string& origin) {
  SeqInfo info;
  bool in_sequence = false, seen_section = false, seen_length = false;
  int64_t line_no = 0;
  for (std::string_view raw : SplitLines(text)) {
    ++line_no;
    std::string_view line = TrimView(raw);
    if (line.empty() || line.front() == ';' || line.front() == '#') continue;
    if (line.front() == '[') {
      if (line.back() != ']')
        ThrowInput("{}:{}: malformed section header '{}'", origin, line_no, Quote(line));
      in_sequence = SameKey(TrimView(line.substr(1, line.size() - 2)), "Sequence");
      seen_section |= in_sequence;
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      ThrowInput("{}:{}: expected 'key=value', got '{}'", origin, line_no, Quote(line));
    }
    if (!in_sequence) continue;
    std::string_view key = TrimView(line.substr(0, eq));
    std::string_view value = TrimView(line.substr(eq + 1));
    auto positive_int = [&](const char* name) {
      std::optional<int64_t> v = ParseIntegral(value);
      if (!v || *v < 1) {
        ThrowInput("{}:{}: {}: expected a positive integer, got '{}'", origin, line_no, name,
                   Quote(value));
      }
      return *v;
    };
    if (SameKey(key, "seqLength")) {
      info.length = positive_int("seqLength");
      seen_length = true;
    } else if (SameKey(key, "imWidth")) {
      info.width = positive_int("imWidth");
    } else if (SameKey(key, "imHeight")) {
      info.height = positive_int("imHeight");
    } else if (SameKey(key, "frameRate")) {
      std::optional<double> v = ParseNumber(value);
      if (!v || !(*v > 0)) {
        ThrowInput("{}:{}: frameRate: expected a positive number, got '{}'", origin, line_no,
                   Quote(value));
      }
      info.frame_rate = *v;
    } else if (SameKey(key, "name")) {
      info.name = std::string(value);
    }
  }
  MS_CHECK(seen_section, "{}: no [Sequence] section", origin);
  MS_CHECK(seen_length, "{}: [Sequence] has no seqLength", origin);
  return info;
}

SeqInfo ReadSeqInfo(const fs::path& file) {
  return ParseSeqInfo(labels_internal::ReadWholeFile(file.string(), "seqinfo.ini"), file.string());
}

std::optional<fs::path> FindSeqInfo(const fs::path& gt_file) {
  fs::path dir = gt_file.parent_path();
  std::error_code ec;
  for (const fs::path& candidate :
       {dir / "seqinfo.ini", (dir.empty() ? fs::path("..") : dir.parent_path()) / "seqinfo.ini"}) {
    if (fs::is_regular_file(candidate, ec)) return candidate;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Regions

Region Region::Rectangle(double x0, double y0, double x1, double y1) {
  MS_CHECK(std::isfinite(x0) && std::isfinite(y0) && std::isfinite(x1) && std::isfinite(y1) &&
               x0 < x1 && y0 < y1,
           "rectangle {},{},{},{}: expected x0 < x1 and y0 < y1", x0, y0, x1, y1);
  Region r;
  r.polygon_ = false;
  r.vertices_ = {{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}};
  r.min_x_ = x0;
  r.min_y_ = y0;
  r.max_x_ = x1;
  r.max_y_ = y1;
  return r;
}

namespace {
double SignedArea(const std::vector<Point2>& v) {
  double twice = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    const Point2& a = v[i];
    const Point2& b = v[(i + 1) % v.size()];
    twice += a.x * b.y - b.x * a.y;
  }
  return twice / 2;
}
}  // namespace

Region Region::Polygon(std::vector<Point2> vertices) {
  MS_CHECK(vertices.size() >= 3, "a polygon needs at least 3 vertices, got {}", vertices.size());
  Region r;
  r.polygon_ = true;
  r.min_x_ = r.max_x_ = vertices[0].x;
  r.min_y_ = r.max_y_ = vertices[0].y;
  for (const Point2& p : vertices) {
    MS_CHECK(std::isfinite(p.x) && std::isfinite(p.y), "polygon vertex ({}, {}) is not finite", p.x,
             p.y);
    r.min_x_ = std::min(r.min_x_, p.x);
    r.max_x_ = std::max(r.max_x_, p.x);
    r.min_y_ = std::min(r.min_y_, p.y);
    r.max_y_ = std::max(r.max_y_, p.y);
  }
  MS_CHECK(std::fabs(SignedArea(vertices)) > 0,
           "the polygon encloses no area (are its vertices on one line?)");
  r.vertices_ = std::move(vertices);
  return r;
}

bool Region::Contains(Point2 p) const {
  if (p.x < min_x_ || p.x > max_x_ || p.y < min_y_ || p.y > max_y_) return false;
  if (!polygon_) return true;
  bool inside = false;
  const size_t n = vertices_.size();
  for (size_t i = 0; i < n; ++i) {
    const Point2& a = vertices_[i];
    const Point2& b = vertices_[(i + 1) % n];
    // On the edge a-b: collinear and within its bounding box.
    const double dx = b.x - a.x, dy = b.y - a.y;
    const double cross = dx * (p.y - a.y) - dy * (p.x - a.x);
    const double scale = std::max(1.0, std::hypot(dx, dy));
    if (std::fabs(cross) <= 1e-9 * scale && p.x >= std::min(a.x, b.x) &&
        p.x <= std::max(a.x, b.x) && p.y >= std::min(a.y, b.y) && p.y <= std::max(a.y, b.y)) {
      return true;
    }
    // Even-odd rule: count edges crossed by the ray from p towards +x.
    if ((a.y > p.y) != (b.y > p.y)) {
      const double x_cross = a.x + (p.y - a.y) * dx / dy;
      if (p.x < x_cross) inside = !inside;
    }
  }
  return inside;
}

std::string Region::ToString() const {
  if (!polygon_) return fmt::format("--roi {},{},{},{}", min_x_, min_y_, max_x_, max_y_);
  std::string out = "--polygon ";
  for (size_t i = 0; i < vertices_.size(); ++i) {
    out += fmt::format("{}{},{}", i ? ";" : "", vertices_[i].x, vertices_[i].y);
  }
  return out;
}

Region ParseRoi(const std::string& text, const std::string& flag) {
  std::vector<std::string_view> parts = SplitFields(TrimView(text), ',');
  MS_CHECK(parts.size() == 4, "{}: expected 'x0,y0,x1,y1' (4 numbers), got '{}'", flag,
           Quote(text));
  double v[4];
  for (size_t i = 0; i < 4; ++i) {
    std::optional<double> d = ParseNumber(parts[i]);
    MS_CHECK(d.has_value(), "{}: '{}' in '{}' is not a number", flag, Quote(parts[i]), Quote(text));
    v[i] = *d;
  }
  MS_CHECK(v[0] < v[2] && v[1] < v[3],
           "{}: expected x0 < x1 and y0 < y1 in 'x0,y0,x1,y1', got '{}'", flag, Quote(text));
  return Region::Rectangle(v[0], v[1], v[2], v[3]);
}

Region ParsePolygon(const std::string& text, const std::string& flag) {
  std::vector<std::string_view> parts = SplitFields(TrimView(text), ';');
  if (!parts.empty() && parts.back().empty() && parts.size() > 1) parts.pop_back();  // trailing ';'
  std::vector<Point2> vertices;
  for (size_t i = 0; i < parts.size(); ++i) {
    std::vector<std::string_view> xy = SplitFields(parts[i], ',');
    std::optional<double> x = xy.size() == 2 ? ParseNumber(xy[0]) : std::nullopt;
    std::optional<double> y = xy.size() == 2 ? ParseNumber(xy[1]) : std::nullopt;
    MS_CHECK(x && y,
             "{}: vertex {} '{}': expected 'x,y' with two numbers (vertices are separated by ';')",
             flag, i + 1, Quote(parts[i]));
    vertices.push_back({*x, *y});
  }
  MS_CHECK(vertices.size() >= 3,
           "{}: a polygon needs at least 3 vertices 'x1,y1;x2,y2;x3,y3', got {} in '{}'", flag,
           vertices.size(), Quote(text));
  MS_CHECK(std::fabs(SignedArea(vertices)) > 0, "{}: the polygon '{}' encloses no area", flag,
           Quote(text));
  return Region::Polygon(std::move(vertices));
}

// ---------------------------------------------------------------------------
// Rules

bool PersonRule::Matches(const MotBox& box) const {
  if (!include_ignored && box.conf == 0) return false;
  if (box.h < min_height) return false;
  if (!classes.empty() && std::find(classes.begin(), classes.end(), box.cls) == classes.end())
    return false;
  return !region || region->Contains({box.FeetX(), box.FeetY()});
}

void PersonRule::Validate() const {
  MS_CHECK(min_count >= 1, "--min-count: expected an integer >= 1, got {}", min_count);
  MS_CHECK(std::isfinite(min_height) && min_height >= 0,
           "--min-height: expected a number of pixels >= 0, got {}", min_height);
}

std::string PersonRule::ToString() const {
  std::string out;
  if (region) out += region->ToString() + " ";
  out += fmt::format("--min-count {}", min_count);
  if (min_height > 0) out += fmt::format(" --min-height {}", min_height);
  if (!classes.empty()) {
    out += " --classes ";
    for (size_t i = 0; i < classes.size(); ++i)
      out += fmt::format("{}{}", i ? "," : "", classes[i]);
  }
  if (include_ignored) out += " --include-ignored";
  return out;
}

PersonRule ParsePersonRule(const PersonRuleArgs& args) {
  PersonRule rule;
  const std::string roi = Trim(args.roi), polygon = Trim(args.polygon);
  MS_CHECK(roi.empty() || polygon.empty(),
           "--roi and --polygon are mutually exclusive: give one region, got '{}' and '{}'",
           Quote(roi), Quote(polygon));
  if (!roi.empty()) rule.region = ParseRoi(roi, "--roi");
  if (!polygon.empty()) rule.region = ParsePolygon(polygon, "--polygon");
  if (!Trim(args.min_count).empty()) {
    std::optional<int64_t> k = ParseInt(Trim(args.min_count));
    MS_CHECK(k && *k >= 1 && *k <= 1000000, "--min-count: expected an integer >= 1, got '{}'",
             Quote(args.min_count));
    rule.min_count = static_cast<int>(*k);
  }
  if (!Trim(args.min_height).empty()) {
    std::optional<double> h = ParseNumber(Trim(args.min_height));
    MS_CHECK(h && *h >= 0, "--min-height: expected a number of pixels >= 0, got '{}'",
             Quote(args.min_height));
    rule.min_height = *h;
  }
  if (!Trim(args.classes).empty()) rule.classes = ParseIntList(args.classes, "--classes");
  rule.include_ignored = args.include_ignored;
  rule.Validate();
  return rule;
}

// ---------------------------------------------------------------------------
// Sequences and labels

MotSequence MakeMotSequence(std::vector<MotBox> boxes, const std::string& origin,
                            int64_t num_frames, const std::string& frames_from) {
  MS_CHECK(num_frames >= 1 && num_frames <= kMaxMotFrames,
           "{}: the sequence length must be in [1, {}] frames, got {} (from {})", origin,
           kMaxMotFrames, num_frames, frames_from);
  for (const MotBox& b : boxes) {
    MS_CHECK(b.frame >= 1 && b.frame <= num_frames,
             "{}:{}: frame {} is beyond the sequence length {} (from {})", origin, b.line, b.frame,
             num_frames, frames_from);
  }
  MotSequence seq;
  seq.origin = origin;
  seq.boxes = std::move(boxes);
  seq.num_frames = num_frames;
  seq.frames_from = frames_from;
  return seq;
}

MotSequence LoadMotSequence(const fs::path& gt_file, std::optional<int64_t> num_frames) {
  std::vector<MotBox> boxes = ReadMotBoxes(gt_file);
  std::optional<SeqInfo> info;
  std::optional<fs::path> info_file = FindSeqInfo(gt_file);
  if (info_file) info = ReadSeqInfo(*info_file);
  std::string frames_from;
  if (num_frames) {
    frames_from = "the given frame count";
    if (info && info->length != *num_frames) {
      LogWarn("{}: using the given frame count {}; {} says seqLength={}", gt_file.string(),
              *num_frames, info_file->string(), info->length);
    }
  } else if (info) {
    num_frames = info->length;
    frames_from = info_file->string();
  } else {
    ThrowInput(
        "{}: cannot tell the sequence length: no seqinfo.ini beside it or in its parent directory; "
        "give the frame count (e.g. --frames N)",
        gt_file.string());
  }
  MotSequence seq = MakeMotSequence(std::move(boxes), gt_file.string(), *num_frames, frames_from);
  seq.info = info;
  return seq;
}

std::vector<int> MatchCounts(const MotSequence& seq, const PersonRule& rule) {
  rule.Validate();
  if (rule.region && seq.info && seq.info->width > 0 && seq.info->height > 0) {
    const double w = static_cast<double>(seq.info->width),
                 h = static_cast<double>(seq.info->height);
    const Region& r = *rule.region;
    MS_CHECK(r.max_x() >= 0 && r.min_x() <= w && r.max_y() >= 0 && r.min_y() <= h,
             "{}: the region lies entirely outside the {}x{} image of {}", r.ToString(),
             seq.info->width, seq.info->height, seq.origin);
  }
  std::vector<int> counts(static_cast<size_t>(seq.num_frames), 0);
  for (const MotBox& b : seq.boxes) {
    MS_CHECK(b.frame >= 1 && b.frame <= seq.num_frames,
             "{}:{}: frame {} is beyond the sequence length {}", seq.origin, b.line, b.frame,
             seq.num_frames);
    if (rule.Matches(b)) ++counts[static_cast<size_t>(b.frame - 1)];
  }
  return counts;
}

FrameLabels LabelsFromMot(const MotSequence& seq, const PersonRule& rule) {
  std::vector<int> counts = MatchCounts(seq, rule);
  FrameLabels labels(counts.size(), 0);
  for (size_t i = 0; i < counts.size(); ++i) labels[i] = counts[i] >= rule.min_count ? 1 : 0;
  return labels;
}

}  // namespace mainstream

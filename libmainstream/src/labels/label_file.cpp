#include "mainstream/labels/label_file.h"

#include <algorithm>
#include <cctype>

#include "mainstream/core/atomic_file.h"
#include "mainstream/core/error.h"
#include "text.h"

namespace mainstream {

using labels_internal::ParseInt;
using labels_internal::Quote;
using labels_internal::SplitFields;
using labels_internal::SplitLines;
using labels_internal::TrimView;

namespace {
bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}
}  // namespace

FrameLabels ParseLabelFile(std::string_view text, const std::string& origin) {
  FrameLabels labels;
  bool header_seen = false;
  int64_t line_no = 0;
  for (std::string_view raw : SplitLines(text)) {
    ++line_no;
    std::string_view line = TrimView(raw);
    if (line.empty()) continue;
    std::vector<std::string_view> fields = SplitFields(line, ',');
    if (!header_seen) {
      if (fields.size() != 2 || !EqualsIgnoreCase(fields[0], "frame") ||
          !EqualsIgnoreCase(fields[1], "label")) {
        ThrowInput("{}:{}: expected the header '{}', got '{}'", origin, line_no, kLabelFileHeader,
                   Quote(line));
      }
      header_seen = true;
      continue;
    }
    if (fields.size() != 2) {
      ThrowInput("{}:{}: expected 2 fields 'frame,label', got {}: '{}'", origin, line_no,
                 fields.size(), Quote(line));
    }
    const int64_t expected = static_cast<int64_t>(labels.size()) + 1;
    std::optional<int64_t> frame = ParseInt(fields[0]);
    if (!frame || *frame < 1) {
      ThrowInput("{}:{}: frame '{}' is not a positive integer", origin, line_no, Quote(fields[0]));
    }
    if (*frame != expected) {
      ThrowInput("{}:{}: expected frame {}, got {} (frames must start at 1 and be contiguous)",
                 origin, line_no, expected, *frame);
    }
    if (fields[1] == "0") {
      labels.push_back(0);
    } else if (fields[1] == "1") {
      labels.push_back(1);
    } else {
      ThrowInput("{}:{}: unknown label '{}' for frame {}: expected 0 or 1", origin, line_no,
                 Quote(fields[1]), *frame);
    }
  }
  if (!header_seen)
    ThrowInput("{}: empty label file, expected the header '{}'", origin, kLabelFileHeader);
  if (labels.empty()) ThrowInput("{}: no frames after the header '{}'", origin, kLabelFileHeader);
  return labels;
}

FrameLabels ReadLabelFile(const std::filesystem::path& file) {
  return ParseLabelFile(labels_internal::ReadWholeFile(file.string(), "label file"), file.string());
}

std::string FormatLabelFile(const FrameLabels& labels) {
  std::string out = kLabelFileHeader;
  out += '\n';
  out.reserve(out.size() + labels.size() * 8);
  for (size_t i = 0; i < labels.size(); ++i) {
    MS_CHECK(labels[i] <= 1, "label of frame {} is {}, expected 0 or 1", i + 1,
             static_cast<int>(labels[i]));
    out += std::to_string(i + 1);
    out += labels[i] ? ",1\n" : ",0\n";
  }
  return out;
}

void WriteLabelFile(const std::filesystem::path& file, const FrameLabels& labels) {
  WriteFileAtomic(file, FormatLabelFile(labels));
}

void CheckLabelFrameCount(const FrameLabels& labels, const std::string& origin, int64_t expected,
                          const std::string& expected_from) {
  const int64_t have = static_cast<int64_t>(labels.size());
  MS_CHECK(have == expected, "{}: has labels for {} frames, but {} has {} frames", origin, have,
           expected_from, expected);
}

int64_t CountPositives(const FrameLabels& labels) {
  return std::count_if(labels.begin(), labels.end(), [](uint8_t v) { return v != 0; });
}

}  // namespace mainstream

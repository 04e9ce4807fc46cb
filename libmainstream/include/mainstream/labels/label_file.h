// Per-frame label files: CSV with the header "frame,label", one row per
// frame, frames 1-based and contiguous, labels 0 or 1. See docs/labels.md.
//
//   frame,label
//   1,0
//   2,1
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace mainstream {

// labels[i] is the label (0 or 1) of frame i + 1.
using FrameLabels = std::vector<uint8_t>;

inline constexpr const char* kLabelFileHeader = "frame,label";

// Parses label-file text; `origin` names the file in errors, which read
// "<origin>:<line>: <problem>" and quote the offending value. Blank lines are
// skipped, CRLF line ends and a UTF-8 byte-order mark are accepted. Throws
// InputError on a missing header, a wrong field count, a frame that is not the
// next one, a label other than 0/1, or no rows at all.
FrameLabels ParseLabelFile(std::string_view text, const std::string& origin);

// Reads and parses `file`; throws InputError naming the file if it cannot be read.
FrameLabels ReadLabelFile(const std::filesystem::path& file);

// The file text for `labels` (header + one row per frame, '\n' line ends).
// Throws InputError if a value is not 0 or 1.
std::string FormatLabelFile(const FrameLabels& labels);

// Writes `labels` to `file` atomically (an earlier file stays intact on failure).
void WriteLabelFile(const std::filesystem::path& file, const FrameLabels& labels);

// Throws InputError "<origin>: has labels for N frames, but <expected_from>
// has M frames" unless labels.size() == expected.
void CheckLabelFrameCount(const FrameLabels& labels, const std::string& origin, int64_t expected,
                          const std::string& expected_from);

// Number of frames labelled 1.
int64_t CountPositives(const FrameLabels& labels);

}  // namespace mainstream

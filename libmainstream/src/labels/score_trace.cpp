#include "mainstream/labels/score_trace.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "mainstream/core/error.h"
#include "mainstream/core/sha256.h"
#include "text.h"

namespace fs = std::filesystem;

namespace mainstream {

using labels_internal::ParseInt;
using labels_internal::ParseNumber;
using labels_internal::Quote;
using labels_internal::SplitFields;
using labels_internal::SplitLines;
using labels_internal::TrimView;

int ScoreTrace::Column(const std::string& key) const {
  auto it = std::find(columns.begin(), columns.end(), key);
  return it == columns.end() ? -1 : static_cast<int>(it - columns.begin());
}

int ScoreTrace::num_folds() const {
  int n = 0;
  for (int f : folds) n = std::max(n, f + 1);
  return n;
}

std::vector<std::pair<size_t, size_t>> ScoreTrace::Segments() const {
  std::vector<std::pair<size_t, size_t>> out;
  size_t begin = 0;
  for (size_t i = 1; i <= frames.size(); ++i) {
    if (i == frames.size() || frames[i] != frames[i - 1] + 1) {
      out.emplace_back(begin, i);
      begin = i;
    }
  }
  if (frames.empty()) out.clear();
  return out;
}

std::vector<FrameInterval> ScoreTrace::Events() const {
  std::vector<FrameInterval> events;
  for (const auto& [begin, end] : Segments()) {
    for (size_t i = begin; i < end; ++i) {
      if (!labels[i]) continue;
      if (i == begin || !labels[i - 1]) events.push_back({frames[i], frames[i]});
      events.back().end = frames[i];
    }
  }
  return events;
}

void ScoreTrace::Validate(const std::string& origin) const {
  const size_t n = frames.size();
  MS_CHECK(n > 0, "{}: the score trace has no frames", origin);
  MS_CHECK(labels.size() == n && folds.size() == n, "{}: {} frames but {} labels and {} folds",
           origin, n, labels.size(), folds.size());
  MS_CHECK(scores.size() == columns.size() && !columns.empty(),
           "{}: {} score columns for {} candidates (at least one needed)", origin, scores.size(),
           columns.size());
  for (size_t i = 0; i < n; ++i) {
    MS_CHECK(frames[i] >= 1 && (i == 0 || frames[i] > frames[i - 1]),
             "{}: row {}: frame {} must be >= 1 and after frame {}", origin, i + 1, frames[i],
             i ? frames[i - 1] : 0);
    MS_CHECK(labels[i] <= 1, "{}: row {}: label must be 0 or 1", origin, i + 1);
    MS_CHECK(folds[i] >= 0 && folds[i] <= 1000, "{}: row {}: fold must be in [0, 1000], got {}",
             origin, i + 1, folds[i]);
  }
  for (size_t c = 0; c < scores.size(); ++c) {
    MS_CHECK(std::find(columns.begin(), columns.begin() + static_cast<long>(c), columns[c]) ==
                 columns.begin() + static_cast<long>(c),
             "{}: column {} appears twice: columns must be unique", origin, columns[c]);
    MS_CHECK(scores[c].size() == n, "{}: column {} has {} scores for {} frames", origin, columns[c],
             scores[c].size(), n);
    for (size_t i = 0; i < n; ++i) {
      const float s = scores[c][i];
      MS_CHECK(std::isfinite(s) && s >= 0 && s <= 1,
               "{}: frame {}: score {} of column {} is not in [0, 1]", origin, frames[i], s,
               columns[c]);
    }
  }
}

std::string FormatScoreTrace(const ScoreTrace& t) {
  t.Validate("score trace");
  std::string out = "frame,label,fold";
  for (const std::string& c : t.columns) out += "," + c;
  out += '\n';
  out.reserve(out.size() + t.rows() * (12 + 9 * t.columns.size()));
  for (size_t i = 0; i < t.rows(); ++i) {
    out += fmt::format("{},{},{}", t.frames[i], t.labels[i], t.folds[i]);
    for (const auto& col : t.scores) out += fmt::format(",{:.6g}", col[i]);
    out += '\n';
  }
  return out;
}

ScoreTrace ParseScoreTrace(std::string_view text, const std::string& origin) {
  ScoreTrace t;
  bool header = false;
  int64_t line_no = 0;
  for (std::string_view raw : SplitLines(text)) {
    ++line_no;
    std::string_view line = TrimView(raw);
    if (line.empty()) continue;
    std::vector<std::string_view> fields = SplitFields(line, ',');
    if (!header) {
      if (fields.size() < 4 || fields[0] != "frame" || fields[1] != "label" ||
          fields[2] != "fold") {
        ThrowInput("{}:{}: expected the header 'frame,label,fold,bp<b>,...', got '{}'", origin,
                   line_no, Quote(line));
      }
      for (size_t c = 3; c < fields.size(); ++c) {
        std::optional<int64_t> b;
        const std::string_view prefix = fields[c].substr(0, 2);
        if (fields[c].size() > 2 && (prefix == "bp" || prefix == "mc"))
          b = ParseInt(fields[c].substr(2));
        if (!b || *b < 0 || *b > 100000) {
          ThrowInput(
              "{}:{}: column '{}' is not 'bp<branchpoint>' (a branch) or 'mc<branchpoint>' (a "
              "microclassifier)",
              origin, line_no, Quote(fields[c]));
        }
        const std::string key = CandidateKey(
            prefix == "mc" ? CandidateKind::kMicro : CandidateKind::kBranch, static_cast<int>(*b));
        if (t.Column(key) >= 0) {
          ThrowInput("{}:{}: column '{}' appears twice: columns must be unique", origin, line_no,
                     Quote(fields[c]));
        }
        t.columns.push_back(key);
      }
      t.scores.resize(t.columns.size());
      header = true;
      continue;
    }
    if (fields.size() != 3 + t.columns.size()) {
      ThrowInput("{}:{}: expected {} fields, got {}: '{}'", origin, line_no, 3 + t.columns.size(),
                 fields.size(), Quote(line));
    }
    std::optional<int64_t> frame = ParseInt(fields[0]);
    if (!frame || *frame < 1 || (!t.frames.empty() && *frame <= t.frames.back())) {
      ThrowInput("{}:{}: frame '{}' must be a positive integer after frame {}", origin, line_no,
                 Quote(fields[0]), t.frames.empty() ? 0 : t.frames.back());
    }
    if (fields[1] != "0" && fields[1] != "1") {
      ThrowInput("{}:{}: label '{}' of frame {} must be 0 or 1", origin, line_no, Quote(fields[1]),
                 *frame);
    }
    std::optional<int64_t> fold = ParseInt(fields[2]);
    if (!fold || *fold < 0 || *fold > 1000) {
      ThrowInput("{}:{}: fold '{}' of frame {} must be an integer in [0, 1000]", origin, line_no,
                 Quote(fields[2]), *frame);
    }
    t.frames.push_back(*frame);
    t.labels.push_back(fields[1] == "1" ? 1 : 0);
    t.folds.push_back(static_cast<int>(*fold));
    for (size_t c = 0; c < t.columns.size(); ++c) {
      std::optional<double> s = ParseNumber(fields[3 + c]);
      if (!s || *s < 0 || *s > 1) {
        ThrowInput("{}:{}: score '{}' of column {} (frame {}) must be a number in [0, 1]", origin,
                   line_no, Quote(fields[3 + c]), t.columns[c], *frame);
      }
      t.scores[c].push_back(static_cast<float>(*s));
    }
  }
  if (!header)
    ThrowInput("{}: empty score trace, expected the header 'frame,label,fold,bp<b>,...'", origin);
  t.Validate(origin);
  return t;
}

ScoreTrace ReadScoreTrace(const fs::path& file) {
  return ParseScoreTrace(labels_internal::ReadWholeFile(file.string(), "score trace"),
                         file.string());
}

ScoreTrace LoadPackageTrace(const MPackage& pkg) {
  MS_CHECK(pkg.trace.has_value(), "package '{}' has no score trace", pkg.app);
  const TraceRef& ref = *pkg.trace;
  const std::string manifest = (pkg.dir / kMPackageManifest).string();
  const fs::path file = pkg.dir / ref.file;
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) {
    ThrowInput(
        "{}: $.trace.file: {} does not exist (copy the whole package directory, or retrain it)",
        manifest, file.string());
  }
  const std::string hash = Sha256File(file);
  if (hash != ref.sha256) {
    ThrowInput(
        "{}: $.trace.sha256: {} hashes to {}... but the manifest records {}...: the trace does not "
        "match "
        "its package (was one of them replaced?)",
        manifest, file.string(), hash.substr(0, 12), ref.sha256.substr(0, 12));
  }
  ScoreTrace t = ReadScoreTrace(file);
  if (static_cast<int64_t>(t.rows()) != ref.rows) {
    ThrowInput("{}: $.trace.rows: the manifest records {} rows but {} has {}", manifest, ref.rows,
               file.string(), t.rows());
  }
  for (size_t i = 0; i < pkg.candidates.size(); ++i) {
    if (t.Column(pkg.candidates[i].key()) < 0) {
      ThrowInput("{}: $.candidates[{}]: {} has no score column {} for this candidate", manifest, i,
                 file.string(), pkg.candidates[i].key());
    }
  }
  return t;
}

}  // namespace mainstream

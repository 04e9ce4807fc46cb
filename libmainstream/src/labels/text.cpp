#include "text.h"

#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "mainstream/core/error.h"

namespace mainstream::labels_internal {

std::vector<std::string_view> SplitLines(std::string_view text) {
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    size_t stop = nl == std::string_view::npos ? text.size() : nl;
    std::string_view line = text.substr(start, stop - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return lines;
}

std::string_view TrimView(std::string_view s) {
  size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string_view::npos) return {};
  size_t b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

std::vector<std::string_view> SplitFields(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t pos = text.find(sep, start);
    out.push_back(TrimView(
        text.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start)));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

std::string Quote(std::string_view s, size_t max) {
  if (s.size() <= max) return std::string(s);
  return std::string(s.substr(0, max)) + "...";
}

std::optional<int64_t> ParseInt(std::string_view s) {
  if (s.empty()) return std::nullopt;
  int64_t v = 0;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, v);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

std::optional<double> ParseNumber(std::string_view s) {
  if (s.empty()) return std::nullopt;
  if (s.front() == '+') s.remove_prefix(1);  // from_chars rejects a leading '+'
  double v = 0;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, v);
  if (ec != std::errc() || ptr != end || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<int64_t> ParseIntegral(std::string_view s) {
  if (auto i = ParseInt(s)) return i;
  auto d = ParseNumber(s);
  if (!d || *d != std::floor(*d) || std::fabs(*d) > 9e15) return std::nullopt;
  return static_cast<int64_t>(*d);
}

std::string ReadWholeFile(const std::string& file, const char* what) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec))
    ThrowInput("{}: is a directory, expected the {}", file, what);
  std::ifstream in(file, std::ios::binary);
  if (!in) ThrowInput("{}: cannot open the {}", file, what);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) ThrowInput("{}: cannot read the {}", file, what);
  return ss.str();
}

}  // namespace mainstream::labels_internal

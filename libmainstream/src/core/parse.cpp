#include "mainstream/core/parse.h"

#include <cmath>
#include <stdexcept>

#include "mainstream/core/error.h"

namespace mainstream {

std::string Trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

std::pair<std::string, std::string> ParseAssignment(const std::string& text,
                                                    const std::string& flag,
                                                    const std::string& expected) {
  const auto eq = text.find('=');
  std::string name = eq == std::string::npos ? "" : Trim(text.substr(0, eq));
  std::string value = eq == std::string::npos ? "" : Trim(text.substr(eq + 1));
  if (name.empty() || value.empty())
    ThrowInput("{}: expected {}, got \"{}\"", flag, expected, text);
  return {std::move(name), std::move(value)};
}

std::vector<std::string> SplitList(const std::string& text, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t pos = text.find(sep, start);
    std::string part =
        Trim(text.substr(start, pos == std::string::npos ? std::string::npos : pos - start));
    if (!part.empty()) out.push_back(part);
    if (pos == std::string::npos) break;
    start = pos + 1;
  }
  return out;
}

namespace {
long ParseLong(const std::string& s, const std::string& flag) {
  try {
    size_t pos = 0;
    long v = std::stol(s, &pos);
    if (pos != s.size()) throw std::invalid_argument(s);
    return v;
  } catch (const std::exception&) {
    ThrowInput("{}: '{}' is not an integer", flag, s);
  }
}
}  // namespace

std::vector<int> ParseIntList(const std::string& text, const std::string& flag) {
  std::vector<int> out;
  for (const std::string& part : SplitList(text)) {
    size_t dash = part.find('-', 1);
    if (dash == std::string::npos) {
      out.push_back(static_cast<int>(ParseLong(part, flag)));
    } else {
      long lo = ParseLong(Trim(part.substr(0, dash)), flag);
      long hi = ParseLong(Trim(part.substr(dash + 1)), flag);
      MS_CHECK(lo <= hi, "{}: range '{}' has lo > hi", flag, part);
      MS_CHECK(hi - lo <= 100000, "{}: range '{}' is too long", flag, part);
      for (long v = lo; v <= hi; ++v) out.push_back(static_cast<int>(v));
    }
  }
  MS_CHECK(!out.empty(), "{}: empty list", flag);
  return out;
}

std::vector<double> ParseDoubleList(const std::string& text, const std::string& flag) {
  std::vector<double> out;
  for (const std::string& part : SplitList(text)) {
    try {
      size_t pos = 0;
      double v = std::stod(part, &pos);
      if (pos != part.size() || !std::isfinite(v)) throw std::invalid_argument(part);
      out.push_back(v);
    } catch (const std::exception&) {
      ThrowInput("{}: '{}' is not a number", flag, part);
    }
  }
  MS_CHECK(!out.empty(), "{}: empty list", flag);
  return out;
}

}  // namespace mainstream

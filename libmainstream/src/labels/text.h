// Private helpers of the labels module for line-oriented text formats.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mainstream::labels_internal {

// Lines of `text` without their '\n' / "\r\n" ends; a leading UTF-8 BOM is dropped.
std::vector<std::string_view> SplitLines(std::string_view text);
// Fields separated by `sep`, each trimmed of blanks; empty fields are kept.
std::vector<std::string_view> SplitFields(std::string_view text, char sep);
std::string_view TrimView(std::string_view s);
// The text for an error message, cut to `max` characters.
std::string Quote(std::string_view s, size_t max = 60);

// Whole-string parses (no sign, spaces or trailing characters beyond the value).
std::optional<int64_t> ParseInt(std::string_view s);
std::optional<double> ParseNumber(std::string_view s);  // finite only
// An integer possibly written as a number ("12" or "12.0").
std::optional<int64_t> ParseIntegral(std::string_view s);

std::string ReadWholeFile(const std::string& file, const char* what);

}  // namespace mainstream::labels_internal

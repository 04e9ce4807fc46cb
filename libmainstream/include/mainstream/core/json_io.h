// Reading and validating JSON with errors that point at the offending field:
//   "pkg/mpackage.json: $.candidates[2].tpr: expected a number in [0, 1], got -0.3"
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mainstream/core/error.h"

namespace mainstream {

using Json = nlohmann::json;

// Parses a JSON file; throws InputError naming the file (and line/column on a
// syntax error) when it is missing or malformed.
Json ReadJsonFile(const std::filesystem::path& file);
// Parses JSON text; `origin` names where it came from in error messages.
Json ParseJson(std::string_view text, const std::string& origin);
// Writes `value` pretty-printed to `file` atomically (temp file + rename).
void WriteJsonFileAtomic(const std::filesystem::path& file, const Json& value, int indent = 2);

// A read-only view of one JSON node that knows its file and JSON path.
class JsonView {
 public:
  JsonView(const Json& node, std::string origin, std::string path = "$");

  const Json& raw() const { return *node_; }
  const std::string& path() const { return path_; }
  const std::string& origin() const { return origin_; }

  // Throws InputError "<origin>: <path>: <message>".
  template <typename... Args>
  [[noreturn]] void Fail(fmt::format_string<Args...> f, Args&&... args) const {
    ThrowInput("{}: {}: {}", origin_, path_, fmt::format(f, std::forward<Args>(args)...));
  }

  // Requires this node to be an object with "schema_version" == expected.
  void RequireSchema(int expected, std::string_view what) const;
  // Same for any version in [oldest, newest]; returns the version.
  int RequireSchemaIn(int oldest, int newest, std::string_view what) const;
  // Requires "kind" == kind: a file of another kind (a schedule passed as a
  // profile, say) is named as such instead of failing on some later field.
  void RequireKind(std::string_view kind, std::string_view what) const;

  bool IsObject() const { return node_->is_object(); }
  bool IsArray() const { return node_->is_array(); }
  bool IsNull() const { return node_->is_null(); }
  bool Has(std::string_view key) const;

  JsonView Field(std::string_view key) const;                         // required member
  std::optional<JsonView> OptionalField(std::string_view key) const;  // absent or null -> nullopt
  JsonView At(size_t index) const;
  size_t Size() const;                     // requires an array
  std::vector<JsonView> Elements() const;  // requires an array

  // Scalars of this node.
  double AsNumber() const;  // finite number
  double AsNumberIn(double lo, double hi) const;
  int64_t AsInt() const;
  int64_t AsIntIn(int64_t lo, int64_t hi) const;
  std::string AsString() const;
  std::string AsNonEmptyString() const;
  bool AsBool() const;

  // Shorthands for required members.
  double Number(std::string_view key) const { return Field(key).AsNumber(); }
  double NumberIn(std::string_view key, double lo, double hi) const {
    return Field(key).AsNumberIn(lo, hi);
  }
  int64_t Int(std::string_view key) const { return Field(key).AsInt(); }
  int64_t IntIn(std::string_view key, int64_t lo, int64_t hi) const {
    return Field(key).AsIntIn(lo, hi);
  }
  std::string String(std::string_view key) const { return Field(key).AsString(); }
  bool Bool(std::string_view key) const { return Field(key).AsBool(); }
  std::vector<JsonView> Array(std::string_view key) const { return Field(key).Elements(); }

 private:
  std::string Describe() const;
  const Json* node_;
  std::string origin_;
  std::string path_;
};

}  // namespace mainstream

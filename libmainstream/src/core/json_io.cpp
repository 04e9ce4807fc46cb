#include "mainstream/core/json_io.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include "mainstream/core/atomic_file.h"

namespace mainstream {

namespace {
// Deeper nesting than any file of ours needs; bounding it keeps the
// recursive serializer (error messages) and destructors off deep stacks.
constexpr int kMaxJsonDepth = 64;
}  // namespace

Json ParseJson(std::string_view text, const std::string& origin) {
  auto depth_limit = [&](int depth, Json::parse_event_t, Json&) {
    if (depth > kMaxJsonDepth) {
      ThrowInput("{}: malformed JSON: nested deeper than {} levels", origin, kMaxJsonDepth);
    }
    return true;
  };
  try {
    return Json::parse(text.begin(), text.end(), depth_limit);
  } catch (const Json::exception& e) {
    // Syntax errors and numbers out of range (1e999); nlohmann's message
    // carries "at line L, column C"; drop its "[json.exception...] " prefix.
    std::string what = e.what();
    auto pos = what.find("] ");
    ThrowInput("{}: malformed JSON: {}", origin,
               pos == std::string::npos ? what : what.substr(pos + 2));
  }
}

Json ReadJsonFile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    ThrowInput("{}: cannot open file ({})", file.string(),
               std::filesystem::exists(file) ? "permission denied or not a file" : "no such file");
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ParseJson(ss.str(), file.string());
}

void WriteJsonFileAtomic(const std::filesystem::path& file, const Json& value, int indent) {
  WriteFileAtomic(file, value.dump(indent) + "\n");
}

JsonView::JsonView(const Json& node, std::string origin, std::string path)
    : node_(&node), origin_(std::move(origin)), path_(std::move(path)) {}

std::string JsonView::Describe() const {
  if (node_->is_string()) {
    std::string s = node_->get<std::string>();
    if (s.size() > 60) s = s.substr(0, 57) + "...";
    return fmt::format("\"{}\"", s);
  }
  if (node_->is_structured() && node_->size() > 8)
    return fmt::format("{} of {} elements", node_->type_name(), node_->size());
  std::string s = node_->dump();
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return fmt::format("{} {}", node_->type_name(), s);
}

void JsonView::RequireSchema(int expected, std::string_view what) const {
  RequireSchemaIn(expected, expected, what);
}

int JsonView::RequireSchemaIn(int oldest, int newest, std::string_view what) const {
  const std::string versions = oldest == newest ? fmt::format("version {}", newest)
                                                : fmt::format("versions {} to {}", oldest, newest);
  if (!node_->is_object()) Fail("expected a JSON object ({}), got {}", what, Describe());
  if (!Has("schema_version")) {
    Fail("missing \"schema_version\" (expected {} for a {})", newest, what);
  }
  JsonView v = Field("schema_version");
  if (!v.node_->is_number_integer() || v.node_->get<int64_t>() < oldest ||
      v.node_->get<int64_t>() > newest) {
    v.Fail("unsupported schema_version {} for a {} (this build reads {})", v.node_->dump(), what,
           versions);
  }
  return static_cast<int>(v.node_->get<int64_t>());
}

void JsonView::RequireKind(std::string_view kind, std::string_view what) const {
  if (!node_->is_object()) Fail("expected a JSON object ({}), got {}", what, Describe());
  if (!Has("kind")) Fail("missing \"kind\" (a {} has \"kind\": \"{}\")", what, kind);
  JsonView v = Field("kind");
  if (!v.node_->is_string()) v.Fail("expected the string \"{}\", got {}", kind, v.Describe());
  const std::string got = v.node_->get<std::string>();
  if (got != kind) {
    v.Fail("this file is a \"{}\", not a {} (\"kind\": \"{}\"): check which file was passed", got,
           what, kind);
  }
}

bool JsonView::Has(std::string_view key) const {
  return node_->is_object() && node_->find(std::string(key)) != node_->end();
}

JsonView JsonView::Field(std::string_view key) const {
  if (!node_->is_object()) Fail("expected an object, got {}", Describe());
  auto it = node_->find(std::string(key));
  if (it == node_->end()) Fail("missing required field \"{}\"", key);
  return JsonView(*it, origin_, fmt::format("{}.{}", path_, key));
}

std::optional<JsonView> JsonView::OptionalField(std::string_view key) const {
  if (!node_->is_object()) Fail("expected an object, got {}", Describe());
  auto it = node_->find(std::string(key));
  if (it == node_->end() || it->is_null()) return std::nullopt;
  return JsonView(*it, origin_, fmt::format("{}.{}", path_, key));
}

JsonView JsonView::At(size_t index) const {
  if (!node_->is_array()) Fail("expected an array, got {}", Describe());
  if (index >= node_->size()) Fail("index {} out of range (size {})", index, node_->size());
  return JsonView((*node_)[index], origin_, fmt::format("{}[{}]", path_, index));
}

size_t JsonView::Size() const {
  if (!node_->is_array()) Fail("expected an array, got {}", Describe());
  return node_->size();
}

std::vector<JsonView> JsonView::Elements() const {
  size_t n = Size();
  std::vector<JsonView> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(At(i));
  return out;
}

double JsonView::AsNumber() const {
  if (!node_->is_number()) Fail("expected a number, got {}", Describe());
  double v = node_->get<double>();
  if (!std::isfinite(v)) Fail("expected a finite number, got {}", node_->dump());
  return v;
}

double JsonView::AsNumberIn(double lo, double hi) const {
  double v = AsNumber();
  if (v < lo || v > hi) Fail("expected a number in [{}, {}], got {}", lo, hi, v);
  return v;
}

int64_t JsonView::AsInt() const {
  if (node_->is_number_integer()) return node_->get<int64_t>();
  if (node_->is_number_float()) {
    double v = node_->get<double>();
    if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9e15)
      return static_cast<int64_t>(v);
  }
  Fail("expected an integer, got {}", Describe());
}

int64_t JsonView::AsIntIn(int64_t lo, int64_t hi) const {
  int64_t v = AsInt();
  if (v < lo || v > hi) Fail("expected an integer in [{}, {}], got {}", lo, hi, v);
  return v;
}

std::string JsonView::AsString() const {
  if (!node_->is_string()) Fail("expected a string, got {}", Describe());
  return node_->get<std::string>();
}

std::string JsonView::AsNonEmptyString() const {
  std::string s = AsString();
  if (s.empty()) Fail("expected a non-empty string");
  return s;
}

bool JsonView::AsBool() const {
  if (!node_->is_boolean()) Fail("expected true or false, got {}", Describe());
  return node_->get<bool>();
}

}  // namespace mainstream

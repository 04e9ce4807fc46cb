// Outputs are written to a temporary file beside the target and renamed into
// place, so an interrupted or failed write never leaves a half-written file
// and an earlier result at the same path stays intact until the new one is
// complete.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace mainstream {

// Writes `content` to `file` atomically. Creates parent directories. Throws
// RuntimeError naming the file when any step fails (e.g. disk full).
void WriteFileAtomic(const std::filesystem::path& file, std::string_view content);

// Streaming variant: write through stream(), then Commit(). If destroyed
// without Commit() the temporary file is removed and the target is untouched.
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::filesystem::path file, bool binary = false);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  std::ostream& stream() { return out_; }
  const std::filesystem::path& temp_path() const { return temp_; }
  void Commit();

 private:
  std::filesystem::path file_;
  std::filesystem::path temp_;
  std::ofstream out_;
  bool committed_ = false;
};

// Replaces directory `target` by `staged` (a complete directory beside it):
// the old directory is moved aside, the new one renamed in, then the old one
// removed. If the process dies in between, the old directory is left as
// `<target>.old.*` and the target is either old or new, never a mix.
void ReplaceDirectory(const std::filesystem::path& staged, const std::filesystem::path& target);

// A unique sibling path for staging: "<path>.tmp.<pid>.<counter>".
std::filesystem::path StagingPath(const std::filesystem::path& path);

}  // namespace mainstream

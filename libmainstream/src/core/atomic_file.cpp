#include "mainstream/core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>

#include "mainstream/core/error.h"

namespace fs = std::filesystem;

namespace mainstream {
namespace {
std::atomic<unsigned> g_counter{0};

void FsyncPath(const fs::path& p) {
  int fd = ::open(p.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

void EnsureParent(const fs::path& file) {
  fs::path parent = file.parent_path();
  if (parent.empty()) return;
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec)
    ThrowRuntime("{}: cannot create directory {}: {}", file.string(), parent.string(),
                 ec.message());
}
}  // namespace

fs::path StagingPath(const fs::path& path) {
  fs::path p = path;
  if (p.filename().empty()) p = p.parent_path();
  return fs::path(p.string() + fmt::format(".tmp.{}.{}", ::getpid(), g_counter++));
}

void WriteFileAtomic(const fs::path& file, std::string_view content) {
  AtomicFileWriter w(file, /*binary=*/true);
  w.stream().write(content.data(), static_cast<std::streamsize>(content.size()));
  w.Commit();
}

AtomicFileWriter::AtomicFileWriter(fs::path file, bool binary) : file_(std::move(file)) {
  std::error_code ec;
  if (file_.filename().empty() || fs::is_directory(file_, ec)) {
    ThrowInput("{}: is a directory; give a file name, e.g. {}", file_.string(),
               ((file_.filename().empty() ? file_.parent_path() : file_) / "out.json").string());
  }
  EnsureParent(file_);
  temp_ = StagingPath(file_);
  out_.open(temp_, binary ? std::ios::binary | std::ios::trunc : std::ios::trunc);
  if (!out_) {
    ThrowRuntime("{}: cannot create temporary file {}: {}", file_.string(), temp_.string(),
                 std::strerror(errno));
  }
}

AtomicFileWriter::~AtomicFileWriter() {
  if (!committed_) {
    out_.close();
    std::error_code ec;
    fs::remove(temp_, ec);
  }
}

void AtomicFileWriter::Commit() {
  out_.flush();
  bool ok = static_cast<bool>(out_);
  out_.close();
  ok = ok && !out_.fail();
  if (!ok) {
    std::error_code ec;
    fs::remove(temp_, ec);
    committed_ = true;
    ThrowRuntime("{}: write failed (disk full or I/O error); the previous file, if any, is intact",
                 file_.string());
  }
  FsyncPath(temp_);
  std::error_code ec;
  fs::rename(temp_, file_, ec);
  committed_ = true;
  if (ec) {
    const std::string why = ec.message();  // before remove() overwrites ec
    fs::remove(temp_, ec);
    ThrowRuntime("{}: cannot rename temporary file into place: {}", file_.string(), why);
  }
  if (!file_.parent_path().empty()) FsyncPath(file_.parent_path());
}

void ReplaceDirectory(const fs::path& staged, const fs::path& target) {
  std::error_code ec;
  fs::path old;
  if (fs::exists(target)) {
    old = fs::path(target.string() + fmt::format(".old.{}.{}", ::getpid(), g_counter++));
    fs::rename(target, old, ec);
    if (ec)
      ThrowRuntime("{}: cannot move the previous directory aside: {}", target.string(),
                   ec.message());
  }
  fs::rename(staged, target, ec);
  if (ec) {
    if (!old.empty()) fs::rename(old, target);  // put the previous one back
    ThrowRuntime("{}: cannot move the new directory into place: {}", target.string(), ec.message());
  }
  if (!old.empty()) fs::remove_all(old, ec);
}

}  // namespace mainstream

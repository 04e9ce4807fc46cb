// SHA-256 content hashing, used to tie M-Packages and profiles to the exact
// base model they were built from.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace mainstream {

class Sha256 {
 public:
  Sha256();
  void Update(const void* data, size_t size);
  void Update(std::string_view s) { Update(s.data(), s.size()); }
  std::array<uint8_t, 32> Digest();  // finalizes; object must not be reused
  std::string HexDigest();

 private:
  void Block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

std::string Sha256Hex(std::string_view data);
// Hashes a file's bytes; throws InputError naming the file if it cannot be read.
std::string Sha256File(const std::filesystem::path& file);

}  // namespace mainstream

// msprofile's library half: time every stage of a base on this machine as an
// optimized segment, the whole model as one segment, and decoding plus
// preprocessing of the input stream, and write it all as a Profile
// (mainstream/profile/profile.h).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "mainstream/core/json_io.h"
#include "mainstream/profile/profile.h"

namespace mainstream {

struct ProfileConfig {
  std::filesystem::path base_dir;
  int threads = 1;              // LibTorch threads (explicit; reported in the profile)
  int batch = 1;                // frames per call; latencies are per frame
  int warmup = 5;               // untimed passes
  int repeats = 100;            // timed passes (a frame decoded, preprocessed and run in each)
  std::string input_video;      // decode and run the passes' frames from this video...
  int width = 0, height = 0;    // ...or on a synthetic video of this size (default 640x480)
  int decode_frames = 100;      // frames timed decoding alone (for comparison; extra.decode)
  bool plain_reference = true;  // also time the unoptimized model once (speedup in extra)
  // Also time every stage cold (among at most cold_copies copies of itself
  // which, with a read of a buffer after each run, stream cold_bytes
  // between two runs of one) and probe the memory hierarchy up to
  // probe_bytes: the cost model's cache term (docs/model.md, "Caches").
  bool cold = true;
  int cold_repeats = 5;                    // rounds over the copies
  int cold_copies = 32;                    // copies of a stage at most
  double cold_bytes = 64.0 * (1 << 20);    // reuse distance
  double probe_bytes = 512.0 * (1 << 20);  // largest working set probed
  uint64_t seed = 1;

  // Throws InputError naming the flag.
  void Validate() const;
  Json ToJson() const;
  std::string ToString() const;
};

struct ProfileResult {
  Profile profile;
  std::string summary;  // human-readable table (stages, whole model, sum check)
};

// Loads and checks the base, then measures. Bad input (a corrupt model, a
// base.json that disagrees with it, NaN outputs, an unreadable video) throws
// InputError naming the file; nothing is written here.
ProfileResult RunProfile(const ProfileConfig& config);

class BaseModel;

// msrun's speed probe (docs/runtime.md, "Speed probe"): the base's stages as
// optimized segments, timed again in a few of msprofile's reference passes
// (each stage chained on a fixed input, each alone, the whole model; one
// frame, on the calling thread), so that a run can say how fast the machine
// runs them now beside the profile's speed_reference_ms.
class StageProbe {
 public:
  explicit StageProbe(const BaseModel& base);
  StageProbe(StageProbe&&) noexcept;
  StageProbe& operator=(StageProbe&&) noexcept;
  ~StageProbe();
  // The sum over stages of each stage's median in the chain over `repeats`
  // passes after `warmup` untimed ones (ms per frame): what the profile's
  // speed_reference_ms adds up.
  double MeasureMs(int repeats = 10, int warmup = 2);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Parses "640x480" (flag names the option in errors).
void ParseSize(const std::string& text, const std::string& flag, int* width, int* height);

}  // namespace mainstream

// Seeded, portable random numbers: std::mt19937_64 is fully specified by the
// standard, the distributions below are ours so results do not depend on the
// standard library's distribution implementations.
#pragma once

#include <cstdint>
#include <random>

namespace mainstream {

class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(gen_() >> 11) * (1.0 / 9007199254740992.0); }
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  bool Bernoulli(double p) { return Uniform() < p; }
  // Uniform integer in [0, n).
  uint64_t Index(uint64_t n) {
    return n == 0 ? 0 : static_cast<uint64_t>(Uniform() * static_cast<double>(n)) % n;
  }
  uint64_t Next() { return gen_(); }

 private:
  std::mt19937_64 gen_;
};

// Derives an independent seed for stream `index` of a run seeded with `seed`.
inline uint64_t SubSeed(uint64_t seed, uint64_t index) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (index + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace mainstream

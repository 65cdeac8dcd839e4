// A small deterministic generator (splitmix64 + Box-Muller) so that generated checkpoints are the
// same bytes on every platform and standard library (std::normal_distribution is not).
#pragma once
#include <array>
#include <cmath>
#include <cstdint>

namespace nvfp4 {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += kStep);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double normal() {
    double u1 = uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(1.0 - u1)) * std::cos(6.283185307179586 * u2);
  }
  // Four draws of a normal quantized to 2^16 equiprobable levels (the inverse normal CDF at the
  // level midpoints), one 64-bit step for all four: ~40x cheaper than normal(), for writing
  // synthetic weights in bulk (make-checkpoint), where the tails past |x| = 4.5 do not matter.
  std::array<float, 4> normal4() {
    const std::uint64_t r = next();
    const auto& t = normal_levels();
    return {t[r & 0xFFFF], t[(r >> 16) & 0xFFFF], t[(r >> 32) & 0xFFFF], t[r >> 48]};
  }
  static const std::array<float, 65536>& normal_levels();
  // splitmix64's state only advances by a constant, so n draws can be skipped at once: a writer
  // makes any part of a long stream without drawing what comes before it.
  void skip(std::uint64_t n) { s_ += n * kStep; }
  static constexpr std::uint64_t kStep = 0x9E3779B97F4A7C15ull;

 private:
  std::uint64_t s_;
};

}  // namespace nvfp4

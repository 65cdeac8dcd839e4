// The synthetic weights of one shard ([N, K], the writer's), made a few rows at a time: a shard of
// a 14336 x 4096 projection is never held whole (235 MB of f32), so generating, quantizing and
// writing stay in the cache.
#pragma once
#include <cstdint>
#include <vector>

#include "generator/rng.h"

namespace nvfp4 {

// Random normal levels times gain, rounded to BF16 like a real model's, with a share of 16-element
// blocks planted all-zero. Block b takes five draws from the generator, in order: four for its 16
// weights (16 bits each, an index into the level table), one for the plant (planted when its top
// 53 bits, as uniform() reads them, fall below zero_frac). The draws of block b start b * 5 draws
// after `start` (Rng::skip), so any rows can be made, in any order, with the same values.
class ShardWeights {
 public:
  ShardWeights(const Rng& start, std::int64_t N, std::int64_t K, double gain, double zero_frac);
  static constexpr std::uint64_t kDrawsPerBlock = 5;
  std::int64_t rows_count() const { return N_; }
  std::uint64_t draws() const { return kDrawsPerBlock * static_cast<std::uint64_t>(N_ * K_ / 16); }
  // max |w| over the shard, 1 if every weight is zero (the quantizer's amax), from the draws alone.
  float amax() const;
  // Rows [r0, r0 + n) into out (n * K floats).
  void rows(std::int64_t r0, std::int64_t n, float* out) const;

 private:
  Rng start_;
  std::int64_t N_, K_;
  std::uint64_t zero_below_;  // planted iff (draw >> 11) < zero_below_
  std::vector<float> table_;  // the 2^16 levels times gain, BF16-rounded: non-decreasing
};

}  // namespace nvfp4

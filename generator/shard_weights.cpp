#include "generator/shard_weights.h"

#include <emmintrin.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "generator/encoders.h"

namespace nvfp4 {

ShardWeights::ShardWeights(const Rng& start, std::int64_t N, std::int64_t K, double gain, double zero_frac)
    : start_(start), N_(N), K_(K), zero_below_(static_cast<std::uint64_t>(zero_frac * 0x1.0p53)) {
  const float g = static_cast<float>(gain);
  const auto& levels = Rng::normal_levels();
  table_.resize(levels.size());
  for (std::size_t i = 0; i < levels.size(); ++i) table_[i] = bf16_to_f32(f32_to_bf16(levels[i] * g));
  // amax() reads |w| off the smallest and largest index drawn, which holds only for a
  // non-decreasing table (increasing levels times a positive gain, rounded: it is).
  if (!(g > 0) || !std::is_sorted(table_.begin(), table_.end()))
    throw std::logic_error("ShardWeights: the level table must be non-decreasing (gain > 0)");
}

float ShardWeights::amax() const {
  // The smallest and largest 16-bit index of every unplanted block, eight lanes at a time (SSE2 has
  // only signed 16-bit min/max: indices are offset by 0x8000). |table| is largest at one of them.
  const __m128i flip = _mm_set1_epi16(static_cast<short>(0x8000));
  __m128i lo = _mm_set1_epi16(0x7FFF), hi = _mm_set1_epi16(static_cast<short>(0x8000));
  Rng r = start_;
  bool any = false;
  for (std::int64_t b = 0; b < N_ * K_ / 16; ++b) {
    const std::uint64_t d0 = r.next(), d1 = r.next(), d2 = r.next(), d3 = r.next();
    if ((r.next() >> 11) < zero_below_) continue;
    any = true;
    const __m128i a = _mm_xor_si128(_mm_set_epi64x(static_cast<long long>(d1), static_cast<long long>(d0)), flip);
    const __m128i c = _mm_xor_si128(_mm_set_epi64x(static_cast<long long>(d3), static_cast<long long>(d2)), flip);
    lo = _mm_min_epi16(lo, _mm_min_epi16(a, c));
    hi = _mm_max_epi16(hi, _mm_max_epi16(a, c));
  }
  if (!any) return 1.0f;
  alignas(16) std::int16_t l[8], h[8];
  _mm_store_si128(reinterpret_cast<__m128i*>(l), lo);
  _mm_store_si128(reinterpret_cast<__m128i*>(h), hi);
  const auto index = [](std::int16_t v) { return static_cast<std::size_t>(static_cast<std::uint16_t>(v) ^ 0x8000u); };
  const float a = std::max(std::fabs(table_[index(*std::min_element(l, l + 8))]), std::fabs(table_[index(*std::max_element(h, h + 8))]));
  return a == 0 ? 1.0f : a;
}

void ShardWeights::rows(std::int64_t r0, std::int64_t n, float* out) const {
  Rng r = start_;
  r.skip(kDrawsPerBlock * static_cast<std::uint64_t>(r0 * K_ / 16));
  const float* t = table_.data();
  float* p = out;
  for (std::int64_t blk = 0; blk < n * K_ / 16; ++blk, p += 16) {
    for (int q = 0; q < 16; q += 4) {
      const std::uint64_t d = r.next();
      p[q] = t[d & 0xFFFF];
      p[q + 1] = t[(d >> 16) & 0xFFFF];
      p[q + 2] = t[(d >> 32) & 0xFFFF];
      p[q + 3] = t[d >> 48];
    }
    if ((r.next() >> 11) < zero_below_) std::fill_n(p, 16, 0.0f);
  }
}

}  // namespace nvfp4

#include "optimized/block_scales.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "optimized/codecs.h"

namespace nvfp4::opt {

const ByteMap& identity_map() {
  static const ByteMap m = [] {
    ByteMap r;
    for (int b = 0; b < 256; ++b) r[static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(b);
    return r;
  }();
  return m;
}

ByteMap reconcile_map(float own, float common) {
  if (own == common) return identity_map();
  const float ratio = own / common;
  ByteMap r;
  for (int b = 0; b < 256; ++b) r[static_cast<std::size_t>(b)] = e4m3_satfinite(e4m3_value(static_cast<std::uint8_t>(b)) * ratio);
  return r;
}

double reconcile_error(std::span<const std::uint8_t> scales, const ByteMap& map, float own, float common) {
  if (own == common) return 0;
  std::array<bool, 256> seen{};
  for (std::uint8_t b : scales) seen[b] = true;
  double worst = 0;
  for (int b = 0; b < 256; ++b) {
    const double S = e4m3_value(static_cast<std::uint8_t>(b));
    if (!seen[static_cast<std::size_t>(b)] || S == 0 || std::isnan(S)) continue;
    const double want = S * own, got = static_cast<double>(e4m3_value(map[static_cast<std::size_t>(b)])) * common;
    worst = std::max(worst, std::fabs(got - want) / want);
  }
  return worst;
}

namespace {

// Scatters rows [first, last) of a linear [.., K] block (row r at src + (r - first) K) into the
// swizzled batch at dst.
void scatter_rows(const std::uint8_t* src, std::int64_t first, std::int64_t last, std::uint8_t* dst, const SwizzleMap& s,
                  const RowGroups& g) {
  const std::int64_t K = s.K;
  const std::int64_t* ro = s.rows();
  const std::int64_t* co = s.cols();
  int gi = 0;
  while (gi + 1 < g.count && g.end[static_cast<std::size_t>(gi)] <= first) ++gi;
  // Four consecutive columns (from a multiple of 4) stay together in the layout: co[k + j] = co[k] + j.
  const std::int64_t K4 = K / 4 * 4;
  for (std::int64_t m = first; m < last; ++m) {
    while (gi + 1 < g.count && g.end[static_cast<std::size_t>(gi)] <= m) ++gi;
    const ByteMap& map = *g.map[static_cast<std::size_t>(gi)];
    const std::uint8_t* row = src + (m - first) * K;
    std::uint8_t* out = dst + ro[m];
    for (std::int64_t k = 0; k < K4; k += 4) {
      const std::uint8_t v[4] = {map[row[k]], map[row[k + 1]], map[row[k + 2]], map[row[k + 3]]};
      std::memcpy(out + co[k], v, 4);
    }
    for (std::int64_t k = K4; k < K; ++k) out[co[k]] = map[row[k]];
  }
}

}  // namespace

void swizzle_into(const std::uint8_t* src, std::uint8_t* dst, const SwizzleMap& s, const RowGroups& g) {
  std::memset(dst, 0, static_cast<std::size_t>(s.batch_bytes()));
  scatter_rows(src, 0, s.M, dst, s, g);
}

void swizzle_in_place(std::uint8_t* data, const SwizzleMap& s, const RowGroups& g, std::span<std::uint8_t> scratch) {
  if (s.M != s.Mp || s.K != s.Kp) throw std::logic_error("swizzle_in_place needs M % 128 == 0 and K % 4 == 0");
  const std::size_t band = static_cast<std::size_t>(128 * s.K);
  if (scratch.size() < band) throw std::logic_error("swizzle_in_place: scratch smaller than one 128-row band");
  // A band's bytes stay within the band (see layout_maps.h), so each band is copied out once.
  for (std::int64_t first = 0; first < s.M; first += 128) {
    std::memcpy(scratch.data(), data + first * s.K, band);
    scatter_rows(scratch.data(), first, first + 128, data, s, g);
  }
}

}  // namespace nvfp4::opt

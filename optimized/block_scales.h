// Block-scale transforms of the optimized pipeline: shard reconciliation as a byte map applied on
// the fly, and the 128x4 swizzle written straight into its destination, in place (through one
// 128-row band of scratch) or into a separate parameter.
//
// Reconcile (docs/formats.md#reconciling-shard-scales, vLLM reconcile_nvfp4_moe_w13_scales): a shard whose global scale
// `own` is below the module's common (max) scale gets S' = e4m3_satfinite(float(S) * (own / common)),
// f32 operations in that order. S' depends on the byte S alone, so each shard needs one 256-entry
// table, built once per processing, and applying it costs a load per byte.
#pragma once
#include <array>
#include <cstdint>
#include <span>

#include "optimized/layout_maps.h"

namespace nvfp4::opt {

using ByteMap = std::array<std::uint8_t, 256>;
const ByteMap& identity_map();
ByteMap reconcile_map(float own, float common);
// Worst relative dequantization error |float(S') common - float(S) own| / (float(S) own) over the
// non-zero scale bytes in `scales` (what `nvfp4 verify` reports); 0 when own == common.
double reconcile_error(std::span<const std::uint8_t> scales, const ByteMap& map, float own, float common);

// Which byte map applies to which source rows of one batch: rows [end[i-1], end[i]) use map[i].
struct RowGroups {
  static constexpr int kMax = 4;
  std::array<std::int64_t, kMax> end{};
  std::array<const ByteMap*, kMax> map{};
  std::array<bool, kMax> identity{};  // the map is the identity (the shard needed no reconciling)
  int count = 0;
  void add(std::int64_t end_row, const ByteMap* m, bool is_identity = false) {
    end[static_cast<std::size_t>(count)] = end_row;
    identity[static_cast<std::size_t>(count)] = is_identity;
    map[static_cast<std::size_t>(count++)] = m;
  }
  bool all_identity() const {
    for (int i = 0; i < count; ++i)
      if (!identity[static_cast<std::size_t>(i)]) return false;
    return true;
  }
};

// One batch: src [M, K] linear scales -> dst [Mp, Kp] swizzled, through the row groups' maps, with
// zero padding. src and dst must not overlap.
void swizzle_into(const std::uint8_t* src, std::uint8_t* dst, const SwizzleMap& s, const RowGroups& g);
// The same result with src == dst, for M % 128 == 0 and K % 4 == 0 (the shapes where the swizzled
// value aliases its source): band by band through scratch of 128 * K bytes.
void swizzle_in_place(std::uint8_t* data, const SwizzleMap& s, const RowGroups& g, std::span<std::uint8_t> scratch);

}  // namespace nvfp4::opt

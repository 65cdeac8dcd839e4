// The places a diff report names in a swizzled scale tensor (tools/diff/decode.h), against where
// the reference's own 128x4 swizzle (reference/swizzle.cpp, separate code) puts each byte: every
// (row, k-block) of a shape with several 128-row tiles, several 4-block groups and padding in both.
#include <gtest/gtest.h>

#include <cstring>

#include "core/tensor.h"
#include "reference/swizzle.h"
#include "tools/diff/decode.h"

namespace nvfp4::diff {
namespace {

TEST(Locate, EveryPlaceIsWhereTheReferenceSwizzlePutsIt) {
  const std::int64_t N = 300, Kb = 9;  // Mp = 384 (3 tiles), Kbp = 12 (3 groups)
  Tensor lin = Tensor::zeros(DType::U8, {N, Kb});
  for (std::int64_t m = 0; m < N; ++m)
    for (std::int64_t k = 0; k < Kb; ++k) {
      lin.data()[m * Kb + k] = 1;
      const Tensor s = ref::swizzle_128x4(lin);
      lin.data()[m * Kb + k] = 0;
      ASSERT_EQ(s.size(0), 384);
      ASSERT_EQ(s.size(1), 12);
      const auto* p = static_cast<const std::uint8_t*>(std::memchr(s.data(), 1, static_cast<std::size_t>(s.numel())));
      ASSERT_NE(p, nullptr);
      const std::int64_t at = p - s.data();
      ASSERT_EQ(swizzled_offset(m, k, 12), at) << "row " << m << " k-block " << k;
      ASSERT_EQ(unlocate_swizzled(at, 384, 12), std::make_pair(m, k)) << "offset " << at;
    }
}

}  // namespace
}  // namespace nvfp4::diff

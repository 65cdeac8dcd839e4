// Where a block scale sits in the 128x4 layout (docs/formats.md#the-128x4-block-scale-layout: m = 128 mT + 32 i + j, k = 4 kT + kk,
// stored in the order mT, kT, j, i, kk), so that a report names the engine's index and the
// checkpoint's row and k-block of the same byte. Only for messages: which bytes are compared
// comes from the reference's swizzle.
#pragma once
#include <cstdint>
#include <utility>

namespace nvfp4::diff {

// The flat offset of logical (m, k) in a swizzled [Mp, Kp] tensor.
std::int64_t swizzled_offset(std::int64_t m, std::int64_t k, std::int64_t Kp);
// The logical (m, k) stored at a flat offset.
std::pair<std::int64_t, std::int64_t> unlocate_swizzled(std::int64_t offset, std::int64_t Mp, std::int64_t Kp);

}  // namespace nvfp4::diff

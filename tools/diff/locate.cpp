#include "tools/diff/locate.h"

namespace nvfp4::diff {

std::int64_t swizzled_offset(std::int64_t m, std::int64_t k, std::int64_t Kp) {
  std::int64_t mT = m / 128, i = (m % 128) / 32, j = m % 32, kT = k / 4, kk = k % 4;
  return (((mT * (Kp / 4) + kT) * 32 + j) * 4 + i) * 4 + kk;
}

std::pair<std::int64_t, std::int64_t> unlocate_swizzled(std::int64_t o, std::int64_t /*Mp*/, std::int64_t Kp) {
  std::int64_t kk = o % 4, i = (o / 4) % 4, j = (o / 16) % 32, kT = (o / 512) % (Kp / 4), mT = o / 512 / (Kp / 4);
  return {128 * mT + 32 * i + j, 4 * kT + kk};
}

}  // namespace nvfp4::diff

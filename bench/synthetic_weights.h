// Synthetic NVFP4 weights for the benches, in the layout the optimized GEMM reads (packed E2M1
// rows, 128x4-swizzled E4M3 block scales), and the same matrix for the competitors: dequantized to
// f32 (OpenBLAS sgemm) or as the int8 codes 2 e2m1 (oneDNN's u8s8s32 matmul, the 8-bit baseline).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "optimized/gemm.h"
#include "optimized/layout_maps.h"

namespace nvfp4::bench {

struct SyntheticWeights {
  std::int64_t N = 0, K = 0;
  std::vector<std::uint8_t> packed, scales;
  std::shared_ptr<const opt::SwizzleMap> swizzle;
  opt::GemmWeights w;  // points into the vectors above
  std::size_t bytes() const { return packed.size() + scales.size(); }
};

std::unique_ptr<SyntheticWeights> make_weights(opt::LayoutCache& cache, std::int64_t N, std::int64_t K, std::uint64_t seed);
std::vector<float> dequantized(const SyntheticWeights& s);        // [N][K] e2m1 * S * global
std::vector<std::int8_t> doubled_codes(const SyntheticWeights& s);  // [N][K] 2 e2m1

// Copies that rotate so that each iteration reads weights from DRAM: at least `min_copies` and at
// least `min_bytes` in all.
inline int copies_for(std::size_t bytes_each, int min_copies, std::size_t min_bytes = 150u << 20) {
  const std::size_t n = (min_bytes + bytes_each - 1) / bytes_each;
  return static_cast<int>(n > static_cast<std::size_t>(min_copies) ? n : static_cast<std::size_t>(min_copies));
}

}  // namespace nvfp4::bench

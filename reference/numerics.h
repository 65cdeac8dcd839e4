// The reference's own number conversions for derived data (docs/architecture.md#no-shared-transforms: never shared with
// optimized/ or core/). Written the plainest way: E2M1 by the threshold table upstream's
// Python references use, E4M3 by "scale to the grid, nearbyint, scale back", exact dyadic
// arithmetic for the GEMM oracle.
#pragma once
#include <cstdint>

namespace nvfp4::ref {

float e2m1_value(std::uint8_t code);
// Round to nearest E2M1, ties to even, saturate to ±6 (vLLM/FlashInfer `cast_to_fp4` thresholds);
// the sign is kept (-0.1 -> 0x8); NaN -> 0x7 (CUDA's choice).
std::uint8_t e2m1_quantize(float x);

float e4m3_value(std::uint8_t byte);
// Round to nearest E4M3, ties to even; |x| > 464 and ±Inf -> ±448; NaN -> 0x7F.
std::uint8_t e4m3_satfinite(float x);

// Output and input element types the GEMM supports.
enum class Real { F32, BF16, F16 };
float real_value(const std::uint8_t* p, Real t);  // decode one element
// Encode a value that is exactly representable in t (the oracle has already rounded it).
void real_store(double v, std::uint8_t* p, Real t);

}  // namespace nvfp4::ref

// w4a4 activation quantization with AVX-512, bit for bit the scalar quantize_activation_row
// (optimized/quantize_activation.h): the per-block scale and out_scale are the same f32
// expressions, 16 blocks at a time in the lanes of a vector (e4m3_16 is optimized/codecs.h's
// e4m3_satfinite lane by lane); the 16 element codes go through e2m1_16, its e2m1 lane by lane.
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace nvfp4::opt::avx512 {

// The E2M1 codes of 16 floats (one a byte), as optimized/codecs.h's e2m1 gives them.
__m128i e2m1_16(__m512 x);
// The E4M3 satfinite codes of 16 floats (one in the low byte of each dword), as optimized/codecs.h's
// e4m3_satfinite gives them.
__m512i e4m3_16(__m512 x);
// One row: codes as 2 e2m1 (the integers 0, ±1, .., ±12) and block scales as f32, for K % 16 == 0.
void quantize_row(const float* x, std::int64_t K, float gs, std::int8_t* doubled, float* scales);

}  // namespace nvfp4::opt::avx512

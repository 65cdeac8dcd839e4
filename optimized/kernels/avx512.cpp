// AVX-512 kernels (F, BW, VL, VNNI, VBMI, with FMA and F16C). Compiled with those flags; called
// only when the CPU has them (dispatch.h).
//
// Which kernel runs: w4a4 with fewer than kPanelMinRows activation rows runs lanes along blocks
// (avx512_rows.cpp), w4a16 with fewer than kW4a16PanelMinRows lanes along K (here), and everything
// larger the panel kernels (avx512_panel.cpp), whose packing pass pays for itself from there on.
//
// Lanes along K (w4a16, M < 4): K goes in chunks of 64: the chunk's 32 packed bytes broadcast to
// both halves of a zmm, the upper half's 16-bit words shifted right by 4, leave the code of k = 2j
// in byte j and that of k = 2j + 1 in byte 32 + j (bits 0..3; vpermb reads 6 index bits, so its
// tables repeat every 16 entries). Codes become s8 2 e2m1 via vpermb, then f32 times S / 2 (exact),
// one FMA per element; the activations are permuted the same way once per GEMM (prepare). Weight
// scales decode through F16: an E4M3 byte b (sign clear) shifted left by 7 is the F16 of its value
// times 2^-8.
#include <immintrin.h>

#include <cstring>

#include "optimized/kernels/avx512_panel.h"
#include "optimized/kernels/avx512_quantize.h"
#include "optimized/kernels/avx512_rows.h"
#include "optimized/kernels/dispatch.h"
#include "optimized/kernels/kernels.h"
#include "optimized/kernels/tiles.h"

namespace nvfp4::opt {
namespace {

constexpr std::int64_t kChunk = tiles::kKLaneChunkK;

// A 16-entry byte table repeated to 64 entries for vpermb.
__m512i table64(const std::int8_t (&t)[16]) {
  alignas(64) std::int8_t b[64];
  for (int i = 0; i < 64; ++i) b[i] = t[i % 16];
  return _mm512_load_si512(b);
}
constexpr std::int8_t kDoubledCodes[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};    // 2 e2m1

// The chunk's codes (see above); bytes past the row's end read as code 0.
inline __m512i chunk_codes(const std::uint8_t* p, __mmask32 valid) {
  const __m256i b = _mm256_maskz_loadu_epi8(valid, p);
  const __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(b), b, 1);
  const __m512i shift = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(4), 1);
  return _mm512_srlv_epi16(v, shift);
}

inline __mmask32 valid_bytes(std::int64_t K, std::int64_t c) {
  const std::int64_t n = K / 2 - 32 * c;
  return n >= 32 ? 0xFFFFFFFFu : static_cast<__mmask32>((1u << n) - 1u);
}

// 16 f32 lanes: lane i gets the E4M3 value of s[pick[i]] times 2^-8 (the -0 byte reads +0).
inline __m512 scale_lanes(const std::uint8_t* s, __m256i pick) {
  std::uint32_t u;
  std::memcpy(&u, s, 4);
  u &= 0x7F7F7F7Fu;
  const __m256i v = _mm256_maskz_permutexvar_epi8(0x55555555u, pick, _mm256_castsi128_si256(_mm_cvtsi32_si128(static_cast<int>(u))));
  return _mm512_cvtph_ps(_mm256_slli_epi16(v, 7));
}

// Byte pickers for scale_lanes: the low byte of 16-bit lane i picks s[f(i)].
__m256i picker(int (*f)(int)) {
  alignas(32) std::uint8_t b[32];
  for (int i = 0; i < 16; ++i) {
    b[2 * i] = static_cast<std::uint8_t>(f(i));
    b[2 * i + 1] = 0;
  }
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(b));
}

// Tables and byte pickers, built once per GEMM.
struct Consts {
  __m512i doubled_codes = table64(kDoubledCodes);
  __m256i pick_a = picker([](int i) { return i / 8; }), pick_b = picker([](int i) { return 2 + i / 8; });
};

// From this many activation rows on, packing a panel per 32 weight rows pays for itself; below,
// w4a4 runs lanes along blocks (avx512_rows.cpp) and w4a16 lanes along K (here).
constexpr std::int64_t kPanelMinRows = tiles::kW4a4PanelMinRows;
constexpr std::int64_t kW4a16PanelMinRows = tiles::kW4a16PanelMinRows;

bool use_panels(GemmMode mode, std::int64_t M) { return M >= (mode == GemmMode::W4A4 ? kPanelMinRows : kW4a16PanelMinRows); }

std::size_t prepared_bytes(GemmMode mode, const Activations& a) {
  if (use_panels(mode, a.M)) return avx512::PanelActivations::bytes(mode, a);
  if (mode == GemmMode::W4A4) return avx512::RowsActivations::bytes(a);
  return static_cast<std::size_t>(a.M * a.Kp) * 4;
}

void prepare(GemmMode mode, const Activations& a, Prepared& p, std::int64_t m0, std::int64_t m1) {
  if (use_panels(mode, a.M)) return avx512::PanelActivations::prepare(mode, a, p, m0, m1);
  if (mode == GemmMode::W4A4) return avx512::RowsActivations::prepare(a, p, m0, m1);
  const std::int64_t nch = a.Kp / kChunk;
  float* xp = p.as<float>();
  for (std::int64_t m = m0; m < m1; ++m)
    for (std::int64_t c = 0; c < nch; ++c)
      for (std::int64_t j = 0; j < 32; ++j) {
        xp[m * a.Kp + c * kChunk + j] = a.f[m * a.Kp + c * kChunk + 2 * j];
        xp[m * a.Kp + c * kChunk + 32 + j] = a.f[m * a.Kp + c * kChunk + 2 * j + 1];
      }
}

template <int MT>
void w4a16_tile(const Consts& k, const GemmWeights& w, const Activations& a, const Prepared& p, std::int64_t m0, std::int64_t n,
                float* out) {
  const std::int64_t nch = a.Kp / kChunk;
  const std::uint8_t* row = w.packed + n * w.row_bytes;
  const std::uint8_t* srow = w.scales + w.swizzle->rows()[n];
  const float* xp = p.as<float>() + m0 * a.Kp;
  const __m512 half_s = _mm512_set1_ps(128.0f);  // S * 2^-8 * 128 = S / 2: with the doubled codes, e2m1 * S
  __m512 acc[MT];
  for (int j = 0; j < MT; ++j) acc[j] = _mm512_setzero_ps();
  for (std::int64_t c = 0; c < nch; ++c) {
    const __m512i d = _mm512_permutexvar_epi8(chunk_codes(row + 32 * c, valid_bytes(w.K, c)), k.doubled_codes);
    const __m512 sa = _mm512_mul_ps(scale_lanes(srow + 512 * c, k.pick_a), half_s);
    const __m512 sb = _mm512_mul_ps(scale_lanes(srow + 512 * c, k.pick_b), half_s);
    // Bytes 0..15: even k of blocks 0, 1; 16..31: even k of blocks 2, 3; 32..47 and 48..63: the odd k.
    const __m512 w0 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm512_extracti32x4_epi32(d, 0))), sa);
    const __m512 w1 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm512_extracti32x4_epi32(d, 1))), sb);
    const __m512 w2 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm512_extracti32x4_epi32(d, 2))), sa);
    const __m512 w3 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm512_extracti32x4_epi32(d, 3))), sb);
    for (int j = 0; j < MT; ++j) {
      const float* x = xp + j * a.Kp + c * kChunk;
      acc[j] = _mm512_fmadd_ps(_mm512_loadu_ps(x), w0, acc[j]);
      acc[j] = _mm512_fmadd_ps(_mm512_loadu_ps(x + 16), w1, acc[j]);
      acc[j] = _mm512_fmadd_ps(_mm512_loadu_ps(x + 32), w2, acc[j]);
      acc[j] = _mm512_fmadd_ps(_mm512_loadu_ps(x + 48), w3, acc[j]);
    }
  }
  const std::int64_t col = w.out_col ? w.out_col[n] : n;
  for (int j = 0; j < MT; ++j) out[(m0 + j) * w.N + col] = _mm512_reduce_add_ps(acc[j]) * w.global_scale;
}

void run(GemmMode mode, const GemmWeights& w, const Activations& a, const Prepared& p, float* out, std::int64_t n0, std::int64_t n1) {
  if (use_panels(mode, a.M)) {
    avx512::run_panels(mode, w, a, p, out, n0, n1);
    return;
  }
  if (mode == GemmMode::W4A4) {
    avx512::run_rows(w, a, p, out, n0, n1);
    return;
  }
  const Consts k;  // here M < kW4a16PanelMinRows
  using TileFn = void (*)(const Consts&, const GemmWeights&, const Activations&, const Prepared&, std::int64_t, std::int64_t, float*);
  static constexpr TileFn kTiles[kW4a16PanelMinRows] = {nullptr, w4a16_tile<1>, w4a16_tile<2>, w4a16_tile<3>};
  for (std::int64_t n = n0; n < n1; ++n)
    if (!w.out_col || w.out_col[n] >= 0) kTiles[a.M](k, w, a, p, 0, n, out);
}

}  // namespace

const KernelSet& avx512_kernels() {
  static const KernelSet k{avx512::quantize_row, prepared_bytes, prepare, run};
  return k;
}

}  // namespace nvfp4::opt

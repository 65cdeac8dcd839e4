// AVX-512 panel kernels (see avx512_panel.h).
//
// w4a4, per 16-block and MT x 32 tile: the int32 accumulators start at the panel's -12 * (block sum
// of the row's codes), take 4 vpdpbusd each (one broadcast u8 activation dword against 16 rows'
// 4 s8 codes), then one convert, one multiply by Sw * Sx and one FMA per 16 lanes: the exact block
// sums, scaled, summed in f32 (K/16 terms per output; gemm.h bounds K/4).
// w4a16: the panel's codes become f32 e2m1 * S for 16 blocks (256 K) at a time (32 KiB, held in L1),
// then a 12 x 32 register-blocked FMA kernel with broadcast activations runs over them.
#include "optimized/kernels/avx512_panel.h"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

namespace nvfp4::opt::avx512 {
namespace {

constexpr std::int8_t kDoubledCodes[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};    // 2 e2m1

__m512i table64(const std::int8_t (&t)[16]) {
  alignas(64) std::int8_t b[64];
  for (int i = 0; i < 64; ++i) b[i] = t[i % 16];
  return _mm512_load_si512(b);
}

template <class T>
struct Aligned {  // 64-byte aligned scratch for one thread, grown as needed
  std::vector<T> v;
  T* get(std::size_t n) {
    const std::size_t extra = 64 / sizeof(T);
    if (v.size() < n + extra) v.resize(n + extra);
    auto p = reinterpret_cast<std::uintptr_t>(v.data());
    return reinterpret_cast<T*>((p + 63) / 64 * 64);
  }
};

struct Layout {  // byte offsets of the prepared activations (w4a4)
  std::size_t sx = 0;
};
Layout layout(const Activations& a) { return {static_cast<std::size_t>(a.M * a.Kp)}; }

void write_out(const GemmWeights& w, std::int64_t row0, std::int64_t m, const float* lanes, float post, float* out) {
  for (int r = 0; r < Panel::kRows; ++r) {
    const std::int64_t n = row0 + r;
    if (n >= w.rows) break;
    const std::int64_t col = w.out_col ? w.out_col[n] : n;
    if (col >= 0) out[m * w.N + col] = lanes[r] * post;
  }
}

template <int MT>
void w4a4_tile(const Panel& P, const std::uint8_t* xu, const float* sx, std::int64_t Kp, std::int64_t nb, float (*acc)[Panel::kRows]) {
  __m512 f[MT][2];
  for (int m = 0; m < MT; ++m) f[m][0] = f[m][1] = _mm512_setzero_ps();
  for (std::int64_t b = 0; b < nb; ++b) {
    const __m512i* q0 = P.codes(b, 0);
    const __m512i* q1 = P.codes(b, 1);
    __m512i i0[MT], i1[MT];
    for (int m = 0; m < MT; ++m) {
      i0[m] = _mm512_load_si512(P.corr(b, 0));
      i1[m] = _mm512_load_si512(P.corr(b, 1));
    }
    for (int j = 0; j < 4; ++j) {
      const __m512i w0 = _mm512_load_si512(q0 + j), w1 = _mm512_load_si512(q1 + j);
      for (int m = 0; m < MT; ++m) {
        std::int32_t x4;
        std::memcpy(&x4, xu + m * Kp + 16 * b + 4 * j, 4);
        const __m512i xb = _mm512_set1_epi32(x4);
        i0[m] = _mm512_dpbusd_epi32(i0[m], xb, w0);
        i1[m] = _mm512_dpbusd_epi32(i1[m], xb, w1);
      }
    }
    const __m512 s0 = _mm512_load_ps(P.scales(b, 0)), s1 = _mm512_load_ps(P.scales(b, 1));
    for (int m = 0; m < MT; ++m) {
      const __m512 x = _mm512_set1_ps(sx[m * (Kp / 16) + b]);
      f[m][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i0[m]), _mm512_mul_ps(s0, x), f[m][0]);
      f[m][1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i1[m]), _mm512_mul_ps(s1, x), f[m][1]);
    }
  }
  for (int m = 0; m < MT; ++m) {
    _mm512_storeu_ps(acc[m], f[m][0]);
    _mm512_storeu_ps(acc[m] + 16, f[m][1]);
  }
}

constexpr std::int64_t kW4a16Rows = 12;  // activation rows per w4a16 register tile (12 x 32: 24 accumulators)
constexpr std::int64_t kF32Blocks = 16;  // blocks of f32 panel decoded at a time (256 K x 32 rows = 32 KiB)

// F[(b * 16 + kk) * 32 + row]: e2m1 * S of the panel's rows for blocks [b0, b0 + count), k in panel order.
void decode_f32(const Panel& P, std::int64_t b0, std::int64_t count, float* F) {
  const __m512 half = _mm512_set1_ps(128.0f);  // S * 2^-8 * 128 = S / 2; the codes are doubled
  for (std::int64_t b = 0; b < count; ++b)
    for (int g = 0; g < 2; ++g) {
      const __m512i* q = P.codes(b0 + b, g);
      const __m512 s = _mm512_mul_ps(_mm512_load_ps(P.scales(b0 + b, g)), half);
      for (int j = 0; j < 4; ++j) {
        const __m512i v = _mm512_load_si512(q + j);
        for (int t = 0; t < 4; ++t) {
          const __m512i byte = _mm512_srai_epi32(_mm512_slli_epi32(v, 24 - 8 * t), 24);  // byte t, sign-extended
          _mm512_store_ps(F + (b * 16 + 4 * j + t) * 32 + 16 * g, _mm512_mul_ps(_mm512_cvtepi32_ps(byte), s));
        }
      }
    }
}

// x: the activation tile ([k][kW4a16Rows], see prepare), already offset to this tile's first row.
template <int MT>
void w4a16_tile(const float* F, std::int64_t k0, std::int64_t nk, const float* x, float (*acc)[Panel::kRows], bool first) {
  __m512 f[MT][2];
  for (int m = 0; m < MT; ++m) {
    f[m][0] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(acc[m]);
    f[m][1] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(acc[m] + 16);
  }
  for (std::int64_t k = 0; k < nk; ++k) {
    const __m512 w0 = _mm512_load_ps(F + k * 32), w1 = _mm512_load_ps(F + k * 32 + 16);
    for (int m = 0; m < MT; ++m) {
      const __m512 xb = _mm512_set1_ps(x[(k0 + k) * kW4a16Rows + m]);
      f[m][0] = _mm512_fmadd_ps(xb, w0, f[m][0]);
      f[m][1] = _mm512_fmadd_ps(xb, w1, f[m][1]);
    }
  }
  for (int m = 0; m < MT; ++m) {
    _mm512_storeu_ps(acc[m], f[m][0]);
    _mm512_storeu_ps(acc[m] + 16, f[m][1]);
  }
}

template <int MAX, class Fn>
void by_tiles(std::int64_t M, Fn fn) {  // fn(m0, tile) with tile a compile-time constant in [1, MAX]
  std::int64_t m0 = 0;
  for (; m0 + MAX <= M; m0 += MAX) fn(m0, std::integral_constant<int, MAX>{});
  const std::int64_t r = M - m0;
  if constexpr (MAX > 1) {
    if (r >= MAX / 2 && MAX / 2 >= 1) {
      fn(m0, std::integral_constant<int, MAX / 2>{});
      m0 += MAX / 2;
    }
  }
  for (; m0 < M; ++m0) fn(m0, std::integral_constant<int, 1>{});
}

}  // namespace

void pack_panel(GemmMode mode, const GemmWeights& w, std::int64_t n0, Panel& p) {
  const __m512i lut = table64(kDoubledCodes);
  const std::int64_t chunks = (w.K + 127) / 128, nb = (w.K + 15) / 16;
  p.blocks = chunks * 8;
  const std::int64_t* ro = w.swizzle->rows();
  const __m512i twelve = _mm512_set1_epi8(12);
  thread_local std::vector<std::uint8_t> zero_row;  // stands in for rows past the end
  if (static_cast<std::int64_t>(zero_row.size()) < w.row_bytes + 64) zero_row.assign(static_cast<std::size_t>(w.row_bytes + 64), 0);
  for (int g = 0; g < 2; ++g) {
    const std::int64_t first = n0 + 16 * g;
    const std::uint8_t* row[16];
    for (int i = 0; i < 16; ++i) row[i] = first + i < w.rows ? w.packed + (first + i) * w.row_bytes : zero_row.data();
    for (std::int64_t cc = 0; cc < chunks; ++cc) {
      const std::int64_t valid = std::min<std::int64_t>(64, w.K / 2 - 64 * cc);
      // 16 row streams at once are more than the hardware prefetcher follows: fetch ahead by hand.
      for (int i = 0; i < 16; ++i) _mm_prefetch(reinterpret_cast<const char*>(row[i] + 64 * (cc + 4)), _MM_HINT_T0);
      __m512i t[16];
      if (valid == 64) {
        for (int i = 0; i < 16; ++i) t[i] = _mm512_loadu_si512(row[i] + 64 * cc);
      } else {
        const __mmask64 mask = (__mmask64{1} << valid) - 1;
        for (int i = 0; i < 16; ++i) t[i] = _mm512_maskz_loadu_epi8(mask, row[i] + 64 * cc);
      }
      transpose16x16(t);  // t[j]: lane r = row r's packed bytes 4j .. 4j + 3 (codes of k = 8j .. 8j + 7)
      for (int j = 0; j < 8 && cc * 8 + j < nb; ++j) {
        std::uint8_t* dst = p.at(cc * 8 + j, g);
        __m512i q[4];
        q[0] = _mm512_permutexvar_epi8(t[2 * j], lut);
        q[1] = _mm512_permutexvar_epi8(t[2 * j + 1], lut);
        q[2] = _mm512_permutexvar_epi8(_mm512_srli_epi16(t[2 * j], 4), lut);
        q[3] = _mm512_permutexvar_epi8(_mm512_srli_epi16(t[2 * j + 1], 4), lut);
        for (int i = 0; i < 4; ++i) _mm512_store_si512(dst + 64 * i, q[i]);
        if (mode == GemmMode::W4A4) {
          __m512i c = _mm512_setzero_si512();
          for (int i = 0; i < 4; ++i) c = _mm512_dpbusd_epi32(c, twelve, q[i]);
          _mm512_store_si512(dst + 256, _mm512_sub_epi32(_mm512_setzero_si512(), c));
        }
      }
    }
    // Scales. In the 128x4 layout, rows first .. first + 15 (first % 16 == 0) keep their 4 blocks of
    // a column group as the dword at 4 * ((first % 128) / 32) of 16 consecutive 16-byte groups: 256
    // contiguous bytes per 4 blocks, all inside the padded buffer (rows past the end read its zero
    // padding). Two permutes pick the 16 dwords out of 4 loads.
    const std::int64_t pick = (first % 128) / 32;
    const std::uint8_t* base = w.scales + ro[first] - 4 * pick;
    const __m512i idx = _mm512_add_epi32(_mm512_set_epi32(28, 24, 20, 16, 12, 8, 4, 0, 28, 24, 20, 16, 12, 8, 4, 0),
                                         _mm512_set1_epi32(static_cast<int>(pick)));
    for (std::int64_t c4 = 0; c4 < (nb + 3) / 4; ++c4) {
      const std::uint8_t* q = base + 512 * c4;
      for (int l = 0; l < 4; ++l) _mm_prefetch(reinterpret_cast<const char*>(q + 512 * 4 + 64 * l), _MM_HINT_T0);
      const __m512i lo = _mm512_permutex2var_epi32(_mm512_loadu_si512(q), idx, _mm512_loadu_si512(q + 64));
      const __m512i hi = _mm512_permutex2var_epi32(_mm512_loadu_si512(q + 128), idx, _mm512_loadu_si512(q + 192));
      const __m512i s4 = _mm512_mask_blend_epi32(0xFF00, lo, hi);
      for (int kk = 0; kk < 4 && 4 * c4 + kk < nb; ++kk) {
        const __m512i byte = _mm512_and_si512(_mm512_srli_epi32(s4, 8 * kk), _mm512_set1_epi32(0x7F));  // -0 reads +0
        const __m256i h = _mm256_slli_epi16(_mm512_cvtepi32_epi16(byte), 7);  // E4M3 b as F16 of value * 2^-8
        _mm512_store_ps(reinterpret_cast<float*>(p.at(4 * c4 + kk, g) + 320), _mm512_cvtph_ps(h));
      }
    }
  }
}

void PanelActivations::prepare(GemmMode mode, const Activations& a, Prepared& p) {
  const std::int64_t nb = a.Kp / 16;
  if (mode == GemmMode::W4A16) {
    // [tile of kW4a16Rows rows][k][kW4a16Rows], k in panel order: each k's broadcasts come from one
    // line (rows Kp floats apart would all fall in the same L1 sets). Rows past M are zero.
    const std::int64_t tiles = (a.M + kW4a16Rows - 1) / kW4a16Rows;
    p.resize(static_cast<std::size_t>(tiles * a.Kp * kW4a16Rows) * 4);
    float* x = p.as<float>();
    for (std::int64_t m = 0; m < tiles * kW4a16Rows; ++m)
      for (std::int64_t b = 0; b < nb; ++b)
        for (int t = 0; t < 16; ++t) {
          const std::int64_t k = 16 * b + (t < 8 ? 2 * t : 2 * (t - 8) + 1);
          x[((m / kW4a16Rows) * a.Kp + 16 * b + t) * kW4a16Rows + m % kW4a16Rows] = m < a.M ? a.f[m * a.Kp + k] : 0.0f;
        }
    return;
  }
  const Layout l = layout(a);
  p.resize(l.sx + static_cast<std::size_t>(a.M * nb) * 4);
  std::uint8_t* xu = p.as<std::uint8_t>();
  float* sx = p.as<float>(l.sx);
  for (std::int64_t m = 0; m < a.M; ++m)
    for (std::int64_t b = 0; b < nb; ++b) {
      const std::int8_t* q = a.q + m * a.Kp + 16 * b;
      std::uint8_t* u = xu + m * a.Kp + 16 * b;
      for (int t = 0; t < 8; ++t) {
        u[t] = static_cast<std::uint8_t>(q[2 * t] + 12);
        u[8 + t] = static_cast<std::uint8_t>(q[2 * t + 1] + 12);
      }
      sx[m * nb + b] = a.s[m * nb + b];
    }
}

void run_panels(GemmMode mode, const GemmWeights& w, const Activations& a, const Prepared& p, float* out, std::int64_t n0,
                std::int64_t n1) {
  thread_local Aligned<std::uint8_t> panel_buf;
  thread_local Aligned<float> f32_buf, acc_buf;
  Panel P;
  P.data = panel_buf.get(Panel::bytes(w.K));
  float(*acc)[Panel::kRows] = reinterpret_cast<float(*)[Panel::kRows]>(acc_buf.get(static_cast<std::size_t>(a.M * Panel::kRows)));
  const std::int64_t nb = (w.K + 15) / 16;  // blocks that hold weights; the rest of the panel is padding
  // w4a4 streams every activation row once per panel: in blocks of rows that stay in L2 (~1 MiB),
  // at the price of packing each panel once per block. (w4a16 walks its activations 256 K at a
  // time, which already fits.)
  const std::int64_t mb =
      mode == GemmMode::W4A4 ? std::clamp<std::int64_t>((std::int64_t{1} << 20) / (a.Kp + a.Kp / 4) / 4 * 4, 4, a.M) : a.M;
  for (std::int64_t mlo = 0; mlo < a.M; mlo += mb) {
    const std::int64_t mhi = std::min(a.M, mlo + mb);
    for (std::int64_t row0 = n0; row0 < n1; row0 += Panel::kRows) {
      pack_panel(mode, w, row0, P);
      if (mode == GemmMode::W4A4) {
        const Layout l = layout(a);
        const float post = w.alpha * 64.0f;  // 4 from the doubled codes, 2^-8 from the scale decode
        by_tiles<4>(mhi - mlo, [&](std::int64_t t0, auto tile) {
          constexpr int MT = decltype(tile)::value;
          const std::int64_t m0 = mlo + t0;
          w4a4_tile<MT>(P, p.as<std::uint8_t>() + m0 * a.Kp, p.as<float>(l.sx) + m0 * (a.Kp / 16), a.Kp, nb, acc + m0);
          for (int m = 0; m < MT; ++m) write_out(w, row0, m0 + m, acc[m0 + m], post, out);
        });
      } else {
        float* F = f32_buf.get(static_cast<std::size_t>(kF32Blocks * 16 * Panel::kRows));
        for (std::int64_t b0 = 0; b0 < nb; b0 += kF32Blocks) {
          const std::int64_t count = std::min(kF32Blocks, nb - b0);
          decode_f32(P, b0, count, F);
          by_tiles<kW4a16Rows>(a.M, [&](std::int64_t m0, auto tile) {
            constexpr int MT = decltype(tile)::value;
            w4a16_tile<MT>(F, 16 * b0, 16 * count, p.as<float>() + (m0 / kW4a16Rows) * a.Kp * kW4a16Rows + m0 % kW4a16Rows, acc + m0,
                           b0 == 0);
          });
        }
        for (std::int64_t m = 0; m < a.M; ++m) write_out(w, row0, m, acc[m], w.global_scale, out);
      }
    }
  }
}

}  // namespace nvfp4::opt::avx512

// AVX-512 panel kernels (see avx512_panel.h).
//
// w4a4, per 16-block and MT x 32 tile: the int32 accumulators start at -12 * (block sum of the
// activation row's codes), take 4 vpdpbusd each (16 rows' 4 u8 codes against one broadcast s8
// activation dword), then one convert, one multiply by Sw * Sx and one FMA per 16 lanes: the exact
// block sums, scaled, summed in f32 (K/16 terms per output; gemm.h bounds K/4). That is 7 ALU
// instructions per 256 multiply-adds on the 2 vector ports: a ceiling of ~146 FLOP per cycle;
// the loop measures ~34 cycles per 4 x 32 x 16 tile step against 28 (bench/analysis.md).
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
constexpr std::int8_t kOffsetCodes[16] = {12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0};  // 2 e2m1 + 12

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

// The prepared w4a4 activations: per row, the s8 codes 2 e2m1(x) in panel order; per row and block,
// Sx and -12 * (sum of the block's codes), which undoes the panel's +12 offset of the weight codes.
struct W4a4Rows {
  const std::int8_t* codes;
  const float* scales;
  const std::int32_t* corr;
  std::int64_t stride_k, stride_b;  // elements from one row to the next
  static std::size_t bytes(const Activations& a) { return static_cast<std::size_t>(a.M * a.Kp + 3 * a.M * (a.Kp / 16) * 4); }
  W4a4Rows(const Activations& a, const Prepared& p)
      : codes(p.as<std::int8_t>()),
        scales(p.as<float>(static_cast<std::size_t>(a.M * a.Kp))),
        corr(p.as<std::int32_t>(static_cast<std::size_t>(a.M * a.Kp + a.M * (a.Kp / 16) * 4))),
        stride_k(a.Kp),
        stride_b(a.Kp / 16) {}
  W4a4Rows at(std::int64_t m, std::int64_t b) const {  // rows from m, blocks from b
    W4a4Rows r = *this;
    r.codes += m * stride_k + 16 * b;
    r.scales += m * stride_b + b;
    r.corr += 2 * (m * stride_b + b);
    return r;
  }
};

template <int MT>
void w4a4_tile(const Panel& P, const W4a4Rows& x, std::int64_t nb, float (*acc)[Panel::kRows], bool first) {
  __m512 f[MT][2];
  for (int m = 0; m < MT; ++m) {
    f[m][0] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(acc[m]);
    f[m][1] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(acc[m] + 16);
  }
  for (std::int64_t b = 0; b < nb; ++b) {
    const __m512i* q0 = P.codes(b, 0);
    const __m512i* q1 = P.codes(b, 1);
    __m512i i0[MT], i1[MT];
    for (int m = 0; m < MT; ++m) {  // broadcast loads, no ALU work (two copies, so that the compiler does not share one load and move it)
      i0[m] = _mm512_set1_epi32(x.corr[2 * (m * x.stride_b + b)]);
      i1[m] = _mm512_set1_epi32(x.corr[2 * (m * x.stride_b + b) + 1]);
    }
    for (int j = 0; j < 4; ++j) {
      const __m512i w0 = _mm512_load_si512(q0 + j), w1 = _mm512_load_si512(q1 + j);
      for (int m = 0; m < MT; ++m) {
        std::int32_t x4;
        std::memcpy(&x4, x.codes + m * x.stride_k + 16 * b + 4 * j, 4);
        const __m512i xb = _mm512_set1_epi32(x4);
        i0[m] = _mm512_dpbusd_epi32(i0[m], w0, xb);
        i1[m] = _mm512_dpbusd_epi32(i1[m], w1, xb);
      }
    }
    const __m512 s0 = _mm512_load_ps(P.scales(b, 0)), s1 = _mm512_load_ps(P.scales(b, 1));
    for (int m = 0; m < MT; ++m) {
      const __m512 sx = _mm512_set1_ps(x.scales[m * x.stride_b + b]);
      f[m][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i0[m]), _mm512_mul_ps(s0, sx), f[m][0]);
      f[m][1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i1[m]), _mm512_mul_ps(s1, sx), f[m][1]);
    }
  }
  for (int m = 0; m < MT; ++m) {
    _mm512_storeu_ps(acc[m], f[m][0]);
    _mm512_storeu_ps(acc[m] + 16, f[m][1]);
  }
}

constexpr std::int64_t kW4a16Rows = tiles::kPanelW4a16TileM;  // activation rows per w4a16 register tile (12 x 32: 24 accumulators)
constexpr int kW4a4Rows = tiles::kPanelW4a4TileM;
constexpr std::int64_t kF32Blocks = tiles::kPanelF32Blocks;  // blocks of f32 panel decoded at a time (256 K x 32 rows = 32 KiB)

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
  // The activations (12 floats per k) run ahead into L1 by kAhead floats: from a few hundred rows on
  // they stream from L3, and the hardware prefetchers, restarting at each 4 KiB page of a tile's
  // 12 KiB chunk, left the broadcasts waiting: alone, this loop took 11.9-13.2 TSC cycles per k with
  // its activations beyond L2 against 9.3-10.2 with them in L1 (its 24 FMAs: ~9.6 at this host's
  // clock), 10.5-10.8 with this (bench/measurements.md, "w4a16 activations fetched ahead"). The
  // first kAhead at the tile's start; past the last k, a prefetch (which never faults) reads ahead
  // into the tile's next K or the next tile.
  constexpr std::int64_t kAhead = 384;
  for (std::int64_t i = 0; i < kAhead; i += 16) _mm_prefetch(reinterpret_cast<const char*>(x + k0 * kW4a16Rows + i), _MM_HINT_T0);
  for (std::int64_t k = 0; k < nk; ++k) {
    _mm_prefetch(reinterpret_cast<const char*>(x + (k0 + k) * kW4a16Rows + kAhead), _MM_HINT_T0);
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

// fn(m0, tile), tile a compile-time constant: tiles of MAX rows, then the rest (fewer than MAX) in
// tiles of P = tiles::tail_piece(MAX), P / 2, .., 1 rows, each where the rest's binary digits have
// it. Single rows for the whole rest (as before 2026-12-08, after one half tile) read the decoded
// f32 panel once per row: w4a16 at M = 4 took 1.5x as long, at 8 1.3x, the avx512 path's M = 16
// (12 + 4) 1.4x (bench/measurements.md, "Tail tiles"). A tile of exact size per remainder measured
// no faster and would be MAX - 1 functions, each a class for verify's path rows (path_rows.h).
template <int P, class Fn>
void pieces(std::int64_t r, std::int64_t& m0, Fn& fn) {
  if (r & P) {
    fn(m0, std::integral_constant<int, P>{});
    m0 += P;
  }
  if constexpr (P > 1) pieces<P / 2>(r, m0, fn);
}
template <int MAX, class Fn>
void by_tiles(std::int64_t M, Fn fn) {
  std::int64_t m0 = 0;
  for (; m0 + MAX <= M; m0 += MAX) fn(m0, std::integral_constant<int, MAX>{});
  if constexpr (MAX > 1) pieces<tiles::tail_piece(MAX)>(M - m0, m0, fn);
}

}  // namespace

RowGroup::RowGroup(const GemmWeights& w_, std::int64_t first_) : w(w_), first(first_) {
  thread_local std::vector<std::uint8_t> zero_row;  // stands in for rows past the end
  if (static_cast<std::int64_t>(zero_row.size()) < w.row_bytes + 64) zero_row.assign(static_cast<std::size_t>(w.row_bytes + 64), 0);
  for (int i = 0; i < 16; ++i) row[i] = first + i < w.rows ? w.packed + (first + i) * w.row_bytes : zero_row.data();
}

void pack_panel(GemmMode mode, const GemmWeights& w, std::int64_t n0, std::int64_t cc0, std::int64_t cc1, Panel& p) {
  const __m512i lut = table64(mode == GemmMode::W4A4 ? kOffsetCodes : kDoubledCodes);
  const std::int64_t nb = (w.K + 15) / 16;
  p.blocks = (cc1 - cc0) * 8;
  for (int g = 0; g < 2; ++g) {
    const RowGroup rg(w, n0 + 16 * g);
    for (std::int64_t cc = cc0; cc < cc1; ++cc) {
      __m512i t[16];
      rg.chunk(cc, t);  // t[j]: lane r = row r's packed bytes 4j .. 4j + 3 (codes of k = 8j .. 8j + 7)
      for (int j = 0; j < 8 && cc * 8 + j < nb; ++j) {
        std::uint8_t* dst = p.at((cc - cc0) * 8 + j, g);
        __m512i q[4];
        q[0] = _mm512_permutexvar_epi8(t[2 * j], lut);
        q[1] = _mm512_permutexvar_epi8(t[2 * j + 1], lut);
        q[2] = _mm512_permutexvar_epi8(_mm512_srli_epi16(t[2 * j], 4), lut);
        q[3] = _mm512_permutexvar_epi8(_mm512_srli_epi16(t[2 * j + 1], 4), lut);
        for (int i = 0; i < 4; ++i) _mm512_store_si512(dst + 64 * i, q[i]);
      }
    }
    for (std::int64_t c4 = 2 * cc0; c4 < std::min(2 * cc1, (nb + 3) / 4); ++c4) {
      const __m512i s4 = rg.scale_dwords(c4);
      for (int kk = 0; kk < 4 && 4 * c4 + kk < nb; ++kk)
        _mm512_store_ps(reinterpret_cast<float*>(p.at(4 * (c4 - 2 * cc0) + kk, g) + 256), scale_values(s4, kk));
    }
  }
}

std::size_t PanelActivations::bytes(GemmMode mode, const Activations& a) {
  if (mode == GemmMode::W4A4) return W4a4Rows::bytes(a);
  const std::int64_t tiles = (a.M + kW4a16Rows - 1) / kW4a16Rows;
  return static_cast<std::size_t>(tiles * a.Kp * kW4a16Rows) * 4;
}

void PanelActivations::prepare(GemmMode mode, const Activations& a, Prepared& p, std::int64_t m0, std::int64_t m1) {
  const std::int64_t nb = a.Kp / 16;
  if (mode == GemmMode::W4A16) {
    // [tile of kW4a16Rows rows][k][kW4a16Rows], k in panel order: each k's broadcasts come from one
    // line (rows Kp floats apart would all fall in the same L1 sets). Rows past M are zero.
    const std::int64_t tiles = (a.M + kW4a16Rows - 1) / kW4a16Rows;
    float* x = p.as<float>();
    for (std::int64_t m = m0; m < (m1 == a.M ? tiles * kW4a16Rows : m1); ++m)
      for (std::int64_t b = 0; b < nb; ++b)
        for (int t = 0; t < 16; ++t) {
          const std::int64_t k = 16 * b + (t < 8 ? 2 * t : 2 * (t - 8) + 1);
          x[((m / kW4a16Rows) * a.Kp + 16 * b + t) * kW4a16Rows + m % kW4a16Rows] = m < a.M ? a.f[m * a.Kp + k] : 0.0f;
        }
    return;
  }
  const W4a4Rows x(a, p);
  auto* codes = const_cast<std::int8_t*>(x.codes);
  auto* scales = const_cast<float*>(x.scales);
  auto* corr = const_cast<std::int32_t*>(x.corr);
  const __m128i order = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);  // panel order
  const __m128i twelve = _mm_set1_epi8(12);
  for (std::int64_t m = m0; m < m1; ++m)
    for (std::int64_t b = 0; b < nb; ++b) {
      const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a.q + m * a.Kp + 16 * b));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(codes + m * a.Kp + 16 * b), _mm_shuffle_epi8(q, order));
      const __m128i sums = _mm_sad_epu8(_mm_add_epi8(q, twelve), _mm_setzero_si128());  // sum of (code + 12) per 8 bytes
      const std::int32_t sum = _mm_cvtsi128_si32(sums) + _mm_extract_epi32(sums, 2) - 16 * 12;
      scales[m * nb + b] = a.s[m * nb + b];
      corr[2 * (m * nb + b)] = corr[2 * (m * nb + b) + 1] = -12 * sum;
    }
}

void run_panels(GemmMode mode, const GemmWeights& w, const Activations& a, const Prepared& p, float* out, std::int64_t n0,
                std::int64_t n1) {
  thread_local Aligned<std::uint8_t> panel_buf;
  thread_local Aligned<float> f32_buf, acc_buf;
  const std::int64_t chunks = (w.K + 127) / 128;
  // The panel is packed kChunks x 128 K at a time (20 KiB), so that the tiles read it from L1 and
  // only the activations stream from L2; each tile keeps its sums in acc between K chunks.
  constexpr std::int64_t kChunks = tiles::kPanelChunksPerPass;
  Panel P;
  P.data = panel_buf.get(Panel::bytes(kChunks * 128));
  float(*acc)[Panel::kRows] = reinterpret_cast<float(*)[Panel::kRows]>(acc_buf.get(static_cast<std::size_t>(a.M * Panel::kRows)));
  const std::int64_t nb = (w.K + 15) / 16;  // blocks that hold weights; the rest of the last chunk is padding
  // w4a4 streams every activation row's chunk once per panel chunk: in blocks of rows that stay in L2
  // (~1 MiB), at the price of packing each panel once per block. (w4a16 reads its activations 256 K
  // at a time, 12 rows at a time, which the L2 prefetchers follow from L3; blocking it measured slower.)
  const std::int64_t mb = mode == GemmMode::W4A4
                              ? std::max<std::int64_t>(kW4a4Rows, tiles::kPanelRowBlockBytes / (a.Kp + a.Kp / 16 * 12) / kW4a4Rows * kW4a4Rows)
                              : a.M;
  for (std::int64_t mlo = 0; mlo < a.M; mlo += mb) {
    const std::int64_t mhi = std::min(a.M, mlo + mb);
    for (std::int64_t row0 = n0; row0 < n1; row0 += Panel::kRows) {
      for (std::int64_t cc0 = 0; cc0 < chunks; cc0 += kChunks) {
        const std::int64_t cc1 = std::min(chunks, cc0 + kChunks);
        // No prefetch of the next panel here: RowGroup::chunk fetches 4 chunks ahead, and a burst of
        // one prefetch per 64 bytes of the next panel per pass (1024 per panel) stalled the core on
        // its line fill buffers: 5-15% slower at M = 4-32, hot and cold (bench/measurements.md,
        // "... the next panel's prefetch dropped").
        pack_panel(mode, w, row0, cc0, cc1, P);
        const std::int64_t b0 = 8 * cc0, count = std::min(nb, 8 * cc1) - b0;
        if (mode == GemmMode::W4A4) {
          const W4a4Rows x(a, p);
          by_tiles<kW4a4Rows>(mhi - mlo, [&](std::int64_t t0, auto tile) {
            constexpr int MT = decltype(tile)::value;
            w4a4_tile<MT>(P, x.at(mlo + t0, b0), count, acc + mlo + t0, cc0 == 0);
          });
        } else {
          float* F = f32_buf.get(static_cast<std::size_t>(kF32Blocks * 16 * Panel::kRows));
          for (std::int64_t d0 = 0; d0 < count; d0 += kF32Blocks) {
            const std::int64_t dn = std::min(kF32Blocks, count - d0);
            decode_f32(P, d0, dn, F);
            by_tiles<kW4a16Rows>(mhi - mlo, [&](std::int64_t t0, auto tile) {
              constexpr int MT = decltype(tile)::value;
              const std::int64_t m0 = mlo + t0;
              w4a16_tile<MT>(F, 16 * (b0 + d0), 16 * dn, p.as<float>() + (m0 / kW4a16Rows) * a.Kp * kW4a16Rows + m0 % kW4a16Rows,
                             acc + m0, b0 + d0 == 0);
            });
          }
        }
      }
      // w4a4: 4 from the doubled codes, 2^-8 from the scale decode
      const float post = mode == GemmMode::W4A4 ? w.alpha * 64.0f : w.global_scale;
      write_panel_rows(w, row0, mlo, mhi, acc[mlo], post, out);
    }
  }
}

}  // namespace nvfp4::opt::avx512

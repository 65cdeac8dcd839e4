#include "checks/certified_product.h"

#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "checks/gemm_vs_oracle.h"
#include "reference/numerics.h"

namespace nvfp4::checks {

namespace {

constexpr int kLanes = 16;  // lane j sums the products at k = j (mod 16), in order of k
// A pass multiplies up to 2 weight rows by up to 2 activation rows: 16 accumulators, the two rows'
// decoded weights and one activation row's values in 28 of the 32 AVX-512 registers; each decoded
// block serves 2 activation rows and each loaded activation block 2 weight rows.
constexpr int kTile = 2;

// Per weight row n and activation row r of a pass, the 16 lane sums of x_k w_k and of |x_k w_k|.
// xd, xa: the activation rows' values and magnitudes as doubles (exact: see the header), K each;
// ef: the 16 E2M1 values; sf: the 256 E4M3 values (NaN bytes refused before). w_k = ef[code] *
// sf[scale] is exact in float (2 + 4 significant bits), so every product is exact in double and
// each lane step rounds once.
struct TileSums {
  double s[kTile][kTile][kLanes], a[kTile][kTile][kLanes];  // [n][r][lane]
};
struct Pass {
  const std::uint8_t* code[kTile];
  const std::uint8_t* scale[kTile];
  const double* xd[kTile];
  const double* xa[kTile];
  int nw = 0, rows = 0;
};

// The lane arithmetic in plain C++: what the SIMD paths must equal (the tests run all three), and
// the path a caller may force; Auto does not take it (see LanePath).
void lanes_portable(const Pass& p, std::int64_t K, const float* ef, const float* sf, TileSums& out) {
  std::memset(&out, 0, sizeof out);
  for (std::int64_t b = 0; b < K / 16; ++b)
    for (int n = 0; n < p.nw; ++n) {
      double w[kLanes], wa[kLanes];
      const float S = sf[p.scale[n][b]];
      for (int j = 0; j < kLanes; ++j) {
        w[j] = static_cast<double>(ef[p.code[n][b * 16 + j] & 0xF] * S);
        wa[j] = std::fabs(w[j]);
      }
      for (int r = 0; r < p.rows; ++r)
        for (int j = 0; j < kLanes; ++j) {
          out.s[n][r][j] += p.xd[r][b * 16 + j] * w[j];
          out.a[n][r][j] += p.xa[r][b * 16 + j] * wa[j];
        }
    }
}

// The same sums on AVX-512F: lanes 0-7 in one register, 8-15 in another. An FMA rounds once, as
// the portable loop's multiply (exact) and add do, so both give the same doubles.
template <int NW, int R>
__attribute__((target("avx512f"))) void lanes_avx512_tile(const Pass& p, std::int64_t K, const float* ef, const float* sf, TileSums& out) {
  const __m512 e2m1 = _mm512_loadu_ps(ef);
  __m512d s[NW][R][2], a[NW][R][2];
  for (int n = 0; n < NW; ++n)
    for (int r = 0; r < R; ++r) s[n][r][0] = s[n][r][1] = a[n][r][0] = a[n][r][1] = _mm512_setzero_pd();
  for (std::int64_t b = 0; b < K / 16; ++b) {
    __m512d w[NW][2], wa[NW][2];
    for (int n = 0; n < NW; ++n) {
      const __m512i ci = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p.code[n] + b * 16)));
      const __m512 wf = _mm512_mul_ps(_mm512_permutexvar_ps(ci, e2m1), _mm512_set1_ps(sf[p.scale[n][b]]));  // index bits 0-3: code & 0xF
      w[n][0] = _mm512_cvtps_pd(_mm512_castps512_ps256(wf));
      w[n][1] = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(wf), 1)));
      wa[n][0] = _mm512_abs_pd(w[n][0]), wa[n][1] = _mm512_abs_pd(w[n][1]);
    }
    for (int r = 0; r < R; ++r) {
      const __m512d x0 = _mm512_loadu_pd(p.xd[r] + b * 16), x1 = _mm512_loadu_pd(p.xd[r] + b * 16 + 8);
      const __m512d y0 = _mm512_loadu_pd(p.xa[r] + b * 16), y1 = _mm512_loadu_pd(p.xa[r] + b * 16 + 8);
      for (int n = 0; n < NW; ++n) {
        s[n][r][0] = _mm512_fmadd_pd(x0, w[n][0], s[n][r][0]);
        s[n][r][1] = _mm512_fmadd_pd(x1, w[n][1], s[n][r][1]);
        a[n][r][0] = _mm512_fmadd_pd(y0, wa[n][0], a[n][r][0]);
        a[n][r][1] = _mm512_fmadd_pd(y1, wa[n][1], a[n][r][1]);
      }
    }
  }
  for (int n = 0; n < NW; ++n)
    for (int r = 0; r < R; ++r) {
      _mm512_storeu_pd(out.s[n][r], s[n][r][0]), _mm512_storeu_pd(out.s[n][r] + 8, s[n][r][1]);
      _mm512_storeu_pd(out.a[n][r], a[n][r][0]), _mm512_storeu_pd(out.a[n][r] + 8, a[n][r][1]);
    }
}

void lanes_avx512(const Pass& p, std::int64_t K, const float* ef, const float* sf, TileSums& out) {
  if (p.nw == 2) return p.rows == 2 ? lanes_avx512_tile<2, 2>(p, K, ef, sf, out) : lanes_avx512_tile<2, 1>(p, K, ef, sf, out);
  return p.rows == 2 ? lanes_avx512_tile<1, 2>(p, K, ef, sf, out) : lanes_avx512_tile<1, 1>(p, K, ef, sf, out);
}

// The same sums on AVX2 + FMA for one weight row at a time: lanes 0-3, 4-7, 8-11, 12-15 in four
// registers, 16 accumulators per activation row; activation rows in turn over the decoded block.
// E2M1 through an 8-entry table of magnitudes (codes & 7) with the sign (bit 3) moved to bit 31.
__attribute__((target("avx2,fma"))) void lanes_avx2(const Pass& p, std::int64_t K, const float* ef, const float* sf, TileSums& out) {
  const __m256 mag8 = _mm256_loadu_ps(ef);  // ef[0..7]: +0, 0.5, 1, 1.5, 2, 3, 4, 6
  const __m256i seven = _mm256_set1_epi32(7);
  for (int n = 0; n < p.nw; ++n)
    for (int r = 0; r < p.rows; ++r) {
      __m256d s[4], a[4];
      for (int i = 0; i < 4; ++i) s[i] = a[i] = _mm256_setzero_pd();
      for (std::int64_t b = 0; b < K / 16; ++b) {
        const __m256 S = _mm256_set1_ps(sf[p.scale[n][b]]);
        __m256d w[4], wa[4];
        for (int h = 0; h < 2; ++h) {
          const __m256i c = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p.code[n] + b * 16 + 8 * h)));
          const __m256 v = _mm256_permutevar8x32_ps(mag8, _mm256_and_si256(c, seven));
          const __m256 sign = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_srli_epi32(_mm256_and_si256(c, _mm256_set1_epi32(8)), 3), 31));
          const __m256 wf = _mm256_mul_ps(_mm256_xor_ps(v, sign), S);
          w[2 * h] = _mm256_cvtps_pd(_mm256_castps256_ps128(wf));
          w[2 * h + 1] = _mm256_cvtps_pd(_mm256_extractf128_ps(wf, 1));
        }
        const __m256d abs_mask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7FFFFFFFFFFFFFFF));
        for (int i = 0; i < 4; ++i) wa[i] = _mm256_and_pd(w[i], abs_mask);
        const double* x = p.xd[r] + b * 16;
        const double* y = p.xa[r] + b * 16;
        for (int i = 0; i < 4; ++i) {
          s[i] = _mm256_fmadd_pd(_mm256_loadu_pd(x + 4 * i), w[i], s[i]);
          a[i] = _mm256_fmadd_pd(_mm256_loadu_pd(y + 4 * i), wa[i], a[i]);
        }
      }
      for (int i = 0; i < 4; ++i) _mm256_storeu_pd(out.s[n][r] + 4 * i, s[i]), _mm256_storeu_pd(out.a[n][r] + 4 * i, a[i]);
    }
}

// The 16 lanes in a fixed tree of 4 levels: lane j + step into lane j.
double reduce(double* l) {
  for (int step = kLanes / 2; step >= 1; step /= 2)
    for (int j = 0; j < step; ++j) l[j] += l[j + step];
  return l[0];
}

std::uint32_t bits(float f) { return std::bit_cast<std::uint32_t>(f); }

}  // namespace

bool lane_path_available(LanePath p) {
  if (p == LanePath::Avx512) return __builtin_cpu_supports("avx512f");
  if (p == LanePath::Avx2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return true;
}

CertifiedProduct certified_gemm(const Tensor& x, const ref::LogicalWeight& w, GemmMode mode, const ref::GemmScalars& sc, LanePath path) {
  if (x.dtype() != DType::F32) throw std::invalid_argument("certified_gemm: x must be F32 (BF16 and F16 outputs take ref::gemm_exact)");
  if (path == LanePath::Auto) {
    if (!lane_path_available(LanePath::Avx512) && !lane_path_available(LanePath::Avx2)) {
      // No SIMD lanes: the oracle itself is faster than the portable lanes (LanePath).
      CertifiedProduct r;
      r.y = ref::gemm_exact(x, w, mode, sc, &r.mag);
      r.exact_elements = r.y.numel();
      return r;
    }
    path = lane_path_available(LanePath::Avx512) ? LanePath::Avx512 : LanePath::Avx2;
  }
  if (!lane_path_available(path)) throw std::invalid_argument("certified_gemm: this CPU lacks the lane path's instructions");
  const ref::GemmOperands o = ref::gemm_operands(x, w, mode, sc);
  const std::int64_t M = o.M, N = w.N, K = o.K, B = K / 16;
  // The activations as doubles and their magnitudes: exact, each an f32 or an E2M1 x E4M3 value.
  std::vector<double> xa(o.x.size());
  for (std::size_t i = 0; i < xa.size(); ++i) xa[i] = std::fabs(o.x[i]);
  float ef[16], sf[256];
  for (int c = 0; c < 16; ++c) ef[c] = ref::e2m1_value(static_cast<std::uint8_t>(c));
  for (int b = 0; b < 256; ++b) sf[b] = ref::e4m3_value(static_cast<std::uint8_t>(b));  // NaN bytes: refused by gemm_operands

  // The bound. Every term passes through at most B - 1 lane additions, 4 reduction levels and the
  // multiply by post: n = B + 4 roundings, gamma(n) < c = (B + 6) u while (B + 6) u < 1/2.
  const double u = std::ldexp(1.0, -53), c = static_cast<double>(B + 6) * u;
  const double post = o.post, post_abs = std::fabs(post);

  CertifiedProduct r;
  r.y = Tensor::empty(DType::F32, {M, N});
  r.mag.assign(static_cast<std::size_t>(M * N), 0.0);
  float* y = r.y.data_as<float>();
  std::vector<std::int64_t> open;  // elements m * N + n the bound left open
  TileSums ts;
  for (std::int64_t n0 = 0; n0 < N; n0 += kTile) {
    Pass p;
    p.nw = static_cast<int>(std::min<std::int64_t>(kTile, N - n0));
    for (int i = 0; i < p.nw; ++i) {
      p.code[i] = &w.codes[static_cast<std::size_t>((n0 + i) * K)];
      p.scale[i] = &w.scales[static_cast<std::size_t>((n0 + i) * B)];
    }
    for (std::int64_t m0 = 0; m0 < M; m0 += kTile) {
      p.rows = static_cast<int>(std::min<std::int64_t>(kTile, M - m0));
      for (int i = 0; i < p.rows; ++i) {
        p.xd[i] = &o.x[static_cast<std::size_t>((m0 + i) * K)];
        p.xa[i] = &xa[static_cast<std::size_t>((m0 + i) * K)];
      }
      if (path == LanePath::Avx512)
        lanes_avx512(p, K, ef, sf, ts);
      else if (path == LanePath::Avx2)
        lanes_avx2(p, K, ef, sf, ts);
      else
        lanes_portable(p, K, ef, sf, ts);
      for (int i = 0; i < p.nw; ++i)
        for (int j = 0; j < p.rows; ++j) {
          const std::size_t e = static_cast<std::size_t>((m0 + j) * N + n0 + i);
          const double S = reduce(ts.s[i][j]), A = reduce(ts.a[i][j]);
          if (A == 0 || post == 0) {
            // Every product 0 (A has no underflow: a nonzero product is at least 2^-159), or a zero
            // factor after the sum: the oracle's result is +0 whatever the signs, and its magnitude
            // sum 0. (The interval below would leave these open where d is -0: -0 - 0 and -0 + 0
            // round to different zeros.)
            y[e] = 0.0f;
            continue;
          }
          // |post| A: A's own sum is off by at most c A, so A <= A_fl / (1 - c); the product rounds
          // once more; (1 + 4c), rounded, then one step up covers both with room.
          const double mag = std::nextafter(post_abs * A * (1 + 4 * c), std::numeric_limits<double>::infinity());
          r.mag[e] = mag;
          const double d = post * S;  // |d - post S_exact| <= c |post| A_exact <= c mag
          // [lo, hi] holds post S_exact with room for lo's and hi's own roundings (|d| u each).
          const double room = 2 * c * mag + std::ldexp(std::fabs(d), -51);
          const float lo = static_cast<float>(d - room), hi = static_cast<float>(d + room);
          if (bits(lo) == bits(hi))
            y[e] = lo;
          else
            open.push_back(static_cast<std::int64_t>(e));
        }
    }
  }
  // Grouped by weight row, for the oracle below.
  std::stable_sort(open.begin(), open.end(), [N](std::int64_t a, std::int64_t b) { return a % N < b % N; });
  // The open elements from the exact oracle: per weight row, only the activation rows open on it
  // (the oracle's rows are independent: w4a16 takes x as it is, and w4a4's quantization has a
  // scale per row and block of 16), so each open element costs one exact dot product of K.
  for (std::size_t i = 0; i < open.size();) {
    const std::int64_t n = open[i] % N;
    std::size_t j = i;
    while (j < open.size() && open[j] % N == n) ++j;
    Tensor xs = Tensor::empty(DType::F32, {static_cast<std::int64_t>(j - i), K});
    for (std::size_t t = i; t < j; ++t)
      std::memcpy(xs.data_as<float>() + (t - i) * static_cast<std::size_t>(K), x.data_as<float>() + (open[t] / N) * K,
                  static_cast<std::size_t>(K) * sizeof(float));
    std::vector<double> mag1;
    const Tensor y1 = ref::gemm_exact(xs, select_rows(w, {n}), mode, sc, &mag1);
    for (std::size_t t = i; t < j; ++t) {
      y[open[t]] = y1.data_as<float>()[t - i];
      r.mag[static_cast<std::size_t>(open[t])] = mag1[t - i];
    }
    r.exact_elements += static_cast<std::int64_t>(j - i);
    i = j;
  }
  return r;
}

}  // namespace nvfp4::checks

#include "reference/gemm.h"

#include <Eigen/Dense>
#include <boost/multiprecision/cpp_int.hpp>
#include <algorithm>
#include <cmath>
#include <memory>
#include <cstdio>
#include <limits>
#include <stdexcept>

#include "core/error.h"
#include "reference/exact_sum.h"
#include "reference/numerics.h"
#include "reference/quantize_activation.h"

namespace nvfp4::ref {

Real real_of(DType d) {
  switch (d) {
    case DType::F32: return Real::F32;
    case DType::BF16: return Real::BF16;
    case DType::F16: return Real::F16;
    default: throw Error(ErrorKind::BadInput, "", "x", "input dtype must be F32, BF16 or F16, not " + std::string(dtype_name(d)));
  }
}

namespace {

using boost::multiprecision::cpp_int;

struct Format { int p, emin, emax; };  // precision (with the implicit bit), min normal exp, max exp
Format format_of(Real t) {
  switch (t) {
    case Real::F32: return {24, -126, 127};
    case Real::BF16: return {8, -126, 127};
    default: return {11, -14, 15};
  }
}

// Rounds v * 2^e to the nearest value of format f, ties to even; the result is exact in double.
double round_once(cpp_int v, int e, Format f) {
  if (v == 0) return 0.0;
  bool neg = v < 0;
  if (neg) v = -v;
  int nb = static_cast<int>(boost::multiprecision::msb(v)) + 1;
  int lead = e + nb - 1;                        // exponent of the leading bit
  int q = std::max(lead, f.emin) - (f.p - 1);   // quantum of the result's binade
  double r;
  if (q <= e) {
    r = std::ldexp(static_cast<double>(v), e);  // already on the grid (fits: nb <= p)
  } else {
    int shift = q - e;
    cpp_int quo = v >> shift;
    cpp_int rem = v - (quo << shift);
    cpp_int half = cpp_int(1) << (shift - 1);
    if (rem > half || (rem == half && (quo & 1) != 0)) ++quo;
    r = std::ldexp(static_cast<double>(quo), q);
  }
  if (r >= std::ldexp(1.0, f.emax + 1)) r = std::numeric_limits<double>::infinity();
  return neg ? -r : r;
}

// The activations' per-element values (checked, and quantized for w4a4) and the factor after the
// sum, so exact and Eigen paths share no arithmetic beyond this.
struct Operands {
  std::int64_t M, N, K;
  std::vector<double> x;  // x [M, K], each element exactly representable
  double post = 1.0;      // alpha for w4a4, 1 for w4a16
};

// e2m1(code) * e4m3(S) * gs for every (code, S), indexed S * 16 + code (one block's 16 values
// together): at most 2 + 4 + 24 significant bits, exact in double.
std::vector<double> weight_values(float gs) {
  std::vector<double> t(16 * 256);
  for (int c = 0; c < 16; ++c)
    for (int b = 0; b < 256; ++b)
      t[static_cast<std::size_t>(b * 16 + c)] =
          static_cast<double>(e2m1_value(static_cast<std::uint8_t>(c))) * e4m3_value(static_cast<std::uint8_t>(b)) * gs;
  return t;
}

Operands operands(const Tensor& x, const LogicalWeight& w, GemmMode mode, const GemmScalars& s) {
  if (x.dim() != 2 || x.size(1) != w.K)
    throw Error(ErrorKind::BadInput, "", "x", "shape " + shape_str(x.shape()) + " does not match K = " + std::to_string(w.K));
  Real t = real_of(x.dtype());
  Operands o{x.size(0), w.N, w.K, {}, 1.0};
  o.x.resize(static_cast<std::size_t>(o.M * o.K));
  // Activations outside the GEMM's domain are refused, at the first such element in row-major
  // order:
  // - NaN and Inf in both modes: an engine would propagate them, but w4a4's saturating quantizer
  //   would turn them into finite codes and report a plausible, wrong product;
  // - for w4a16, |x| >= FLT_MAX / (5376 K) (found by fuzz/gemm_differential): a kernel accumulates
  //   x * e2m1 * S in f32 before the global scale, and |e2m1 * S| <= 6 * 448 = 2688, so every
  //   partial sum stays below FLT_MAX / 2 only below that bound.
  const std::size_t es = dtype_bits(x.dtype()) / 8;
  const double limit = mode == GemmMode::W4A16 ? static_cast<double>(std::numeric_limits<float>::max()) / (5376.0 * static_cast<double>(o.K))
                                               : std::numeric_limits<double>::infinity();
  for (std::int64_t i = 0; i < o.M * o.K; ++i) {
    const float v = real_value(x.data() + static_cast<std::size_t>(i) * es, t);
    char b[200];
    if (!std::isfinite(v)) {
      std::snprintf(b, sizeof b, "holds a non-finite value at [%lld, %lld] (NaN and Inf activations are refused in both modes)",
                    static_cast<long long>(i / o.K), static_cast<long long>(i % o.K));
      throw Error(ErrorKind::BadInput, "", "x", b);
    }
    if (std::fabs(static_cast<double>(v)) >= limit) {
      std::snprintf(b, sizeof b, "holds |x| = %.6g at [%lld, %lld], past the w4a16 limit FLT_MAX / (5376 K) = %.6g (f32 accumulation could overflow)",
                    std::fabs(static_cast<double>(v)), static_cast<long long>(i / o.K), static_cast<long long>(i % o.K), limit);
      throw Error(ErrorKind::BadInput, "", "x", b);
    }
  }
  if (mode == GemmMode::W4A16) {
    for (std::int64_t i = 0; i < o.M * o.K; ++i)
      o.x[static_cast<std::size_t>(i)] = real_value(x.data() + static_cast<std::size_t>(i) * es, t);
  } else {
    QuantizedActivation q = quantize_activation(x, s.input_encode_scale);
    for (std::int64_t i = 0; i < o.M * o.K; ++i)
      o.x[static_cast<std::size_t>(i)] = static_cast<double>(e2m1_value(q.codes[static_cast<std::size_t>(i)])) *
                                         e4m3_value(q.scales[static_cast<std::size_t>(i / 16)]);
    o.post = s.alpha;
  }
  return o;
}

}  // namespace

// The exact GEMM, one 16-element block at a time: within a block both operands share a scale, so
// the block's contribution is an integer dot product times one power of two and one small odd
// factor, added to the fixed-width accumulator once per block instead of once per element.
//   weight element  = c_w / 2 * S_w                (c_w = 2 * E2M1 value, an integer in [-12, 12];
//                     S_w = ms_w * 2^es_w, ms_w odd <= 15; the w4a16 global scale joins alpha as
//                     the factor applied after the sum)
//   activation      w4a4: c_x / 2 * S_x            -> a_k = c_x * ms_x, block exponent es_x - 1
//                   w4a16: x_k = m_k * 2^e_k        -> a_k = m_k * 2^(e_k - e_min), exponent e_min
//                   (exact only if every |a_k| < 2^48, i.e. the block's exponents span < 24 bits;
//                   other blocks take the per-element path)
//   block           (sum_k a_k c_w,k) * ms_w * 2^(e_x + es_w - 1)
// |sum| < 16 * 12 * 2^48 < 2^55.6, times ms_w <= 15: < 2^59.5 < 2^60 as add_scaled requires.
namespace {

// The weight's block scales split into (ms_w, es_w), by E4M3 byte: a 256-entry table looked up
// per block (a split per block of N x K/16 would be 16 bytes a block, 16 MB for a 4096 x 4096
// weight, written and faulted in on every call); every byte is checked up front, as a NaN block
// scale has no exact product.
struct ScaleTable { SplitValue s[256]; };
ScaleTable weight_block_scales(const LogicalWeight& w, std::int64_t N, std::int64_t B) {
  ScaleTable t;
  for (int b = 0; b < 256; ++b) {
    const float v = e4m3_value(static_cast<std::uint8_t>(b));
    t.s[b] = std::isfinite(v) ? split(v) : SplitValue{0, INT32_MIN};
  }
  for (std::int64_t i = 0; i < N * B; ++i)
    if (t.s[w.scales[static_cast<std::size_t>(i)]].e == INT32_MIN) {
      char b[128];
      std::snprintf(b, sizeof b, "block [%lld, %lld] has a non-finite E4M3 scale", static_cast<long long>(i / B), static_cast<long long>(i % B));
      throw Error(ErrorKind::BadInput, "", "weight", b);
    }
  return t;
}

// Activations: a_k per element and one exponent per block, or a per-element fallback where the
// block's exponents span too much for a_k to stay below 2^48; and |a_k| for the magnitudes.
// `ad` holds the same a_k as doubles (exact: |a_k| < 2^48) and `narrow` marks the blocks whose
// |a_k| all stay below kNarrow, where the block dot product is exact in double (dot16, reference/exact_sum.h).
struct ActivationBlocks {
  std::vector<SplitValue> xs;
  std::vector<std::int64_t> ax, ax_abs;
  std::vector<double> ad, ad_abs;
  std::vector<int> ex;
  std::vector<std::uint8_t> per_element, narrow;
};
constexpr std::int64_t kNarrow = std::int64_t{1} << 45;

void mark_narrow(ActivationBlocks& a, std::int64_t blocks, bool magnitudes) {
  a.ad.assign(a.ax.begin(), a.ax.end());
  if (magnitudes) a.ad_abs.assign(a.ax_abs.begin(), a.ax_abs.end());
  a.narrow.assign(static_cast<std::size_t>(blocks), 0);
  for (std::int64_t mb = 0; mb < blocks; ++mb) {
    bool n = !a.per_element[static_cast<std::size_t>(mb)];
    for (int k = 0; k < 16 && n; ++k) {
      const std::int64_t v = a.ax[static_cast<std::size_t>(mb * 16 + k)];
      n = (v < 0 ? -v : v) < kNarrow;
    }
    a.narrow[static_cast<std::size_t>(mb)] = n;
  }
}

ActivationBlocks activation_blocks(const Operands& o, std::int64_t M, std::int64_t K, std::int64_t B, bool magnitudes) {
  ActivationBlocks a;
  a.ax.resize(static_cast<std::size_t>(M * K));
  a.ex.resize(static_cast<std::size_t>(M * B));
  a.per_element.assign(static_cast<std::size_t>(M * B), 0);
  a.xs.resize(static_cast<std::size_t>(M * K));
  for (std::int64_t i = 0; i < M * K; ++i) a.xs[static_cast<std::size_t>(i)] = split(o.x[static_cast<std::size_t>(i)]);
  for (std::int64_t mb = 0; mb < M * B; ++mb) {
    const SplitValue* v = &a.xs[static_cast<std::size_t>(mb * 16)];
    int emin = INT32_MAX;
    for (int k = 0; k < 16; ++k)
      if (v[k].m) emin = std::min(emin, v[k].e);
    a.ex[static_cast<std::size_t>(mb)] = emin == INT32_MAX ? 0 : emin;
    for (int k = 0; k < 16 && emin != INT32_MAX; ++k) {
      std::int64_t& ak = a.ax[static_cast<std::size_t>(mb * 16 + k)];
      ak = 0;
      if (!v[k].m) continue;
      const int sh = v[k].e - emin;
      if (sh > 24 || (v[k].m < 0 ? -v[k].m : v[k].m) >= (std::int64_t{1} << (48 - sh))) {
        a.per_element[static_cast<std::size_t>(mb)] = 1;
        break;
      }
      ak = v[k].m * (std::int64_t{1} << sh);
    }
  }
  // |a_k| for the sum of magnitudes: the same block dot products on absolute values, in a second
  // accumulator, so it is exact too (|a_k| |c_w| obeys the same bounds).
  if (magnitudes) {
    a.ax_abs.resize(a.ax.size());
    for (std::size_t i = 0; i < a.ax.size(); ++i) a.ax_abs[i] = a.ax[i] < 0 ? -a.ax[i] : a.ax[i];
  }
  mark_narrow(a, M * B, magnitudes);
  return a;
}

// c_w = 2 * E2M1 value per code, and |c_w|.
struct WeightCodes {
  std::int8_t c[16];
  std::int64_t abs[16];
  double cd[16], abs_d[16];
  WeightCodes() {
    for (int i = 0; i < 16; ++i) {
      c[i] = static_cast<std::int8_t>(2.0f * e2m1_value(static_cast<std::uint8_t>(i)));
      abs[i] = c[i] < 0 ? -c[i] : c[i];
      cd[i] = c[i], abs_d[i] = static_cast<double>(abs[i]);
    }
  }
};

// One weight block (codes `code`, scale S) into every activation row's accumulators: block dot
// products where the block's activations share an exponent, else element by element.
// `fast`: narrow blocks take dot16 on the block's codes decoded once for every row; the int64
// loop (the only path with `fast` off) stays for wider blocks and as the fast path's yardstick.
void add_block(const ActivationBlocks& a, const WeightCodes& wc, const std::uint8_t* code, SplitValue S, std::int64_t M, std::int64_t B,
               std::int64_t b, std::vector<ExactSum>& acc, std::vector<ExactSum>& mag, bool fast) {
  const bool magnitudes = !mag.empty();
  const std::int64_t S_abs = S.m < 0 ? -S.m : S.m;
  double cw[16], cw_abs[16];
  if (fast)
    for (int k = 0; k < 16; ++k) cw[k] = wc.cd[code[k] & 0xF], cw_abs[k] = wc.abs_d[code[k] & 0xF];
  for (std::int64_t m = 0; m < M; ++m) {
    const std::size_t mb = static_cast<std::size_t>(m * B + b);
    ExactSum& am = acc[static_cast<std::size_t>(m)];
    if (fast && a.narrow[mb]) {
      am.add_scaled(static_cast<std::int64_t>(dot16(&a.ad[mb * 16], cw)) * S.m, a.ex[mb] + S.e - 1);
      if (magnitudes)
        mag[static_cast<std::size_t>(m)].add_scaled(static_cast<std::int64_t>(dot16(&a.ad_abs[mb * 16], cw_abs)) * S_abs, a.ex[mb] + S.e - 1);
      continue;
    }
    if (!a.per_element[mb]) {
      const std::int64_t* ax = &a.ax[mb * 16];
      std::int64_t dot = 0;
      for (int k = 0; k < 16; ++k) dot += ax[k] * wc.c[code[k] & 0xF];
      am.add_scaled(dot * S.m, a.ex[mb] + S.e - 1);
      if (magnitudes) {
        const std::int64_t* aa = &a.ax_abs[mb * 16];
        std::int64_t dot_abs = 0;
        for (int k = 0; k < 16; ++k) dot_abs += aa[k] * wc.abs[code[k] & 0xF];
        mag[static_cast<std::size_t>(m)].add_scaled(dot_abs * S_abs, a.ex[mb] + S.e - 1);
      }
      continue;
    }
    for (int k = 0; k < 16; ++k) {
      const SplitValue xk = a.xs[mb * 16 + static_cast<std::size_t>(k)];
      am.add_product(xk, SplitValue{wc.c[code[k] & 0xF] * S.m, S.e - 1});
      if (magnitudes)
        mag[static_cast<std::size_t>(m)].add_product(SplitValue{xk.m < 0 ? -xk.m : xk.m, xk.e}, SplitValue{wc.abs[code[k] & 0xF] * S_abs, S.e - 1});
    }
  }
}

}  // namespace

namespace {

// operands() with the exact oracle's own checks: K within the accumulator's terms, finite block
// scales (their split table, returned) and a finite w4a16 global scale.
Operands exact_operands(const Tensor& x, const LogicalWeight& w, GemmMode mode, const GemmScalars& s, ScaleTable& sw) {
  Operands o = operands(x, w, mode, s);
  if (o.K > ExactSum::kMaxTerms) {
    char b[96];
    std::snprintf(b, sizeof b, "K = %lld exceeds the exact oracle's 2^26 terms", static_cast<long long>(o.K));
    throw Error(ErrorKind::BadInput, "", "x", b);
  }
  sw = weight_block_scales(w, o.N, o.K / 16);
  if (mode == GemmMode::W4A16 && !std::isfinite(w.global_scale)) throw Error(ErrorKind::BadInput, "", "weight", "non-finite global scale");
  return o;
}

Tensor exact_gemm(const Tensor& x, const LogicalWeight& w, GemmMode mode, const GemmScalars& s, std::vector<double>* abs_sum, bool fast) {
  ScaleTable sw;
  const Operands o = exact_operands(x, w, mode, s, sw);
  const Real t = real_of(x.dtype());
  const Format f = format_of(t);
  Tensor y = Tensor::empty(x.dtype(), {o.M, o.N});
  const std::size_t es = dtype_bits(x.dtype()) / 8;
  const std::int64_t M = o.M, N = o.N, K = o.K, B = K / 16;
  const SplitValue post = split(mode == GemmMode::W4A16 ? static_cast<double>(w.global_scale) : o.post);
  const ActivationBlocks a = activation_blocks(o, M, K, B, abs_sum != nullptr);
  const WeightCodes wc;
  if (abs_sum) abs_sum->assign(static_cast<std::size_t>(M * N), 0.0);

  // Each weight block is decoded once and used for every activation row.
  std::vector<ExactSum> acc(static_cast<std::size_t>(M)), mag(abs_sum ? static_cast<std::size_t>(M) : 0);
  for (std::int64_t n = 0; n < N; ++n) {
    for (auto& am : acc) am.clear();
    for (auto& am : mag) am.clear();
    for (std::int64_t b = 0; b < B; ++b)
      add_block(a, wc, &w.codes[static_cast<std::size_t>(n * K + b * 16)], sw.s[w.scales[static_cast<std::size_t>(n * B + b)]], M, B, b, acc, mag, fast);
    // The factor after the sum (alpha, or the w4a16 global scale), then one rounding.
    for (std::int64_t m = 0; m < M; ++m) {
      const cpp_int sum = acc[static_cast<std::size_t>(m)].value();
      const double r = sum == 0 ? 0.0 : round_once(sum * post.m, ExactSum::kBase + post.e, f);
      real_store(r, y.data() + static_cast<std::size_t>(m * o.N + n) * es, t);
      if (abs_sum) {
        // Rounded once to the nearest double, then one step up: an upper bound on |post| sum |x w|.
        const cpp_int am = mag[static_cast<std::size_t>(m)].value();
        const double d = am == 0 ? 0.0 : round_once(am * (post.m < 0 ? -post.m : post.m), ExactSum::kBase + post.e, Format{53, -1022, 1023});
        (*abs_sum)[static_cast<std::size_t>(m * N + n)] = d == 0 ? 0.0 : std::nextafter(d, std::numeric_limits<double>::infinity());
      }
    }
  }
  return y;
}

}  // namespace

Tensor gemm_exact(const Tensor& x, const LogicalWeight& w, GemmMode mode, const GemmScalars& s, std::vector<double>* abs_sum) {
  return exact_gemm(x, w, mode, s, abs_sum, true);
}

GemmOperands gemm_operands(const Tensor& x, const LogicalWeight& w, GemmMode mode, const GemmScalars& s) {
  ScaleTable sw;
  Operands o = exact_operands(x, w, mode, s, sw);
  return {o.M, o.K, std::move(o.x), mode == GemmMode::W4A16 ? static_cast<double>(w.global_scale) : o.post};
}

Tensor gemm_exact_scalar(const Tensor& x, const LogicalWeight& w, GemmMode mode, const GemmScalars& s, std::vector<double>* abs_sum) {
  return exact_gemm(x, w, mode, s, abs_sum, false);
}

// Rows of the weight go through Eigen in chunks of at most 2^15 doubles (256 KiB), in one buffer
// reused from chunk to chunk: memory is bounded by the chunk, not by N x K (a gate_up projection of
// a real model is ~1 GB of doubles), and each chunk is still in cache when Eigen reads it. Each
// activation row is a matrix-vector product (no packing of the weight, which dominates a GEMM with
// a handful of rows).
std::vector<double> gemm_eigen_double(const Tensor& x, const LogicalWeight& w, GemmMode mode, const GemmScalars& s) {
  const Operands o = operands(x, w, mode, s);
  const std::vector<double> tw = weight_values(mode == GemmMode::W4A16 ? w.global_scale : 1.0f);
  using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::Map<const Mat> X(o.x.data(), o.M, o.K);
  const std::int64_t M = o.M, N = o.N, K = o.K, B = K / 16;
  const std::int64_t rows = std::max<std::int64_t>(1, std::min<std::int64_t>(N, (std::int64_t{1} << 15) / std::max<std::int64_t>(K, 1)));
  std::unique_ptr<double[]> wc(new double[static_cast<std::size_t>(rows * K)]);
  std::vector<double> r(static_cast<std::size_t>(M * N));
  Eigen::VectorXd y(rows);
  for (std::int64_t r0 = 0; r0 < N; r0 += rows) {
    const std::int64_t n = std::min(rows, N - r0);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t b = 0; b < B; ++b) {
        const double* block = &tw[static_cast<std::size_t>(w.scales[static_cast<std::size_t>((r0 + i) * B + b)]) * 16];
        const std::uint8_t* code = &w.codes[static_cast<std::size_t>((r0 + i) * K + b * 16)];
        double* dc = &wc[static_cast<std::size_t>(i * K + b * 16)];
        for (int k = 0; k < 16; ++k) dc[k] = block[code[k] & 0xF];
      }
    const Eigen::Map<const Mat> W(wc.get(), n, K);
    for (std::int64_t m = 0; m < M; ++m) {
      y.head(n).noalias() = W * X.row(m).transpose();
      for (std::int64_t j = 0; j < n; ++j) r[static_cast<std::size_t>(m * N + r0 + j)] = y(j) * o.post;
    }
  }
  return r;
}

Tensor gemm_eigen(const Tensor& x, const LogicalWeight& w, GemmMode mode, const GemmScalars& s) {
  std::vector<double> yd = gemm_eigen_double(x, w, mode, s);
  Real t = real_of(x.dtype());
  Format f = format_of(t);
  Tensor y = Tensor::empty(x.dtype(), {x.size(0), w.N});
  const std::size_t es = dtype_bits(x.dtype()) / 8;
  for (std::size_t i = 0; i < yd.size(); ++i) {
    const SplitValue d = split(yd[i]);  // yd[i] finite: a double's 53 bits
    real_store(d.m == 0 ? 0.0 : round_once(cpp_int(d.m), d.e, f), y.data() + i * es, t);
  }
  return y;
}

double eigen_error_bound(double abs_sum, std::int64_t K) {
  return static_cast<double>(K + 2) * std::ldexp(1.0, -53) * abs_sum;
}

std::vector<double> gemm_abs_sum(const Tensor& x, const LogicalWeight& w, GemmMode mode, const GemmScalars& s) {
  std::vector<double> m;
  gemm_exact(x, w, mode, s, &m);
  return m;
}

}  // namespace nvfp4::ref

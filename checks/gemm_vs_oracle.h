// GEMM vs oracle: a GEMM path's output against the exact oracle (reference/gemm.h), element by
// element, each within the bound checks/gemm_bound.h derives from the oracle's exact sum of
// magnitudes. verify, demo, the properties and the fuzz targets all judge GEMMs here; they differ
// only in which inputs they multiply.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "checks/gemm_bound.h"
#include "checks/result.h"
#include "core/pipeline.h"
#include "core/tensor.h"
#include "reference/gemm.h"

namespace nvfp4::checks {

struct KernelCheck {
  GemmArith arith = GemmArith::Blocks;  // of the kernels under test: the bound every element is held to
  std::int64_t bad_M = 0, bad_m = -1, bad_n = -1;  // the first element past its bound: its GEMM's row count, row, column
  double bad_exact = 0, bad_got = 0, bad_bound = 0;
  double max_diff = 0, max_bound = 0;
  double worst_fraction = 0;  // max over elements of |got - exact| / bound
  std::string mismatch;       // got's shape or dtype is not exact's
  bool passed() const { return bad_m < 0 && mismatch.empty(); }
  // "M=9: element [8, 17]: exact E, optimized G, |diff| exceeds the bound B", or "".
  std::string failure() const;
  // One element: got against the exact value, within gemm_error_bound(mode, arith, K, mag, post, out).
  void add(std::int64_t M, std::int64_t m, std::int64_t n, double exact, double got, double mag, GemmMode mode, std::int64_t K,
           double post, DType out = DType::F32);
  // As a check's result: the failure, or `summary` when every element held; values {max_abs_diff,
  // max_bound, worst_fraction_of_bound}.
  Result result(std::string name, std::string summary) const;
};

// The shape and the bound of every element: exact and got [M, N] in the same dtype (F32, BF16 or
// F16); mag: the exact oracle's sums of magnitudes; post: alpha (w4a4) or the weight's global scale
// (w4a16). A shape or dtype mismatch fails with both described.
KernelCheck check_kernel(const Tensor& exact, const Tensor& got, const std::vector<double>& mag, GemmMode mode, GemmArith arith, std::int64_t K,
                         double post);

// The weight rows (output columns) checked where not all of them are: the first and last
// kEdgeColumns (all of them when N <= 2 kEdgeColumns). There sit the first and last 32-row panel,
// the first and last 128-row scale band, and the remainders of every stored-row tile.
inline constexpr std::int64_t kEdgeColumns = 64;
std::vector<std::int64_t> edge_columns(std::int64_t N);
// w restricted to `rows`, in that order.
ref::LogicalWeight select_rows(const ref::LogicalWeight& w, const std::vector<std::int64_t>& rows);

// The random activation rows verify multiplies one projection with in one mode, one GEMM per row
// count M, and their exact products. Every GEMM holds the same two rows first and last (row 0 and,
// from M = 2 on, row M - 1), each checked on every output column; the rows between are further
// random rows, the same ones at the same places in every GEMM, checked on edge_columns. So the exact
// oracle runs on 2 rows x N columns plus (largest M - 2) rows x 2 kEdgeColumns, however many M
// there are, where checking every row of every GEMM would take the sum of the M times N: that
// cost is what kept verify at one GEMM of 2 rows, which reaches one kernel path of several. The
// first and last row sit in the first full tile and in the GEMM's last, smallest tile (the
// remainder that tells the M apart).
struct SampledRows {
  GemmMode mode = GemmMode::W4A16;
  std::int64_t rows = 0, K = 0;  // rows: distinct rows, the largest M
  double post = 1;               // alpha (w4a4) or the weight's global scale (w4a16)
  Tensor pool;                   // [rows, K] F32 normal; rows 0 and 1 the ones checked on every column; shared with later samples of the same K and seed: read only
  Tensor full;                   // exact products of pool rows 0 .. min(rows, 2) - 1, [.., N]
  std::vector<double> full_mag;  // and their sums of magnitudes
  std::vector<std::int64_t> edge_cols;
  Tensor edge;                   // exact products of pool rows 2 .. rows - 1 on edge_cols
  std::vector<double> edge_mag;
};
// The pool for GEMMs of up to `largest_M` rows (row m of the pool is the same for any largest_M),
// and the exact oracle's products on it: ref::gemm_exact's values bit for bit, from certified double
// sums where their bound decides the f32 rounding (checks/certified_product.h).
SampledRows sample_rows(const ref::LogicalWeight& w, GemmMode mode, const ref::GemmScalars& sc, std::int64_t largest_M, std::uint64_t seed);
// The pool's first min(rows, 2) rows: what the reference's Eigen path is checked on.
Tensor full_rows(const SampledRows& s);
// The input of the GEMM of M rows (M <= s.rows): pool rows 0, 2, 3, .., M - 1, then 1.
Tensor gemm_input(const SampledRows& s, std::int64_t M);
// The kernel's output for gemm_input(s, M), [M, N] F32, checked into k.
void check_gemm(KernelCheck& k, const SampledRows& s, std::int64_t M, const Tensor& got);
// Every M of ms through `gemm` (the kernels under test), checked; the failure names the first M
// and element past its bound.
KernelCheck check_gemms(const SampledRows& s, const std::vector<std::int64_t>& ms, GemmArith arith, const std::function<Tensor(const Tensor&)>& gemm);

}  // namespace nvfp4::checks

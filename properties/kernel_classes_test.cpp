// The optimized GEMM tested by its own structure, as XNNPACK tests each microkernel: the shape
// classes come from optimized/kernels/tiles.h (the sizes the kernels loop by), so a new tile size
// or threshold moves the grid with it.
// - Exhaustive grid: every M from 1 to 2 x (largest row tile) + 1 (and past every path threshold
//   plus two tiles), every K from 16 to two of the largest K groups + 16 in steps of 16 (so every
//   K mod 64, 128, 256 and 512 remainder occurs), at an N that has a full panel, a second panel
//   whose second 16-row group is partial, and a remainder for every stored-row tile; and every N
//   class (below, at and past each stored-row tile, thread task and 128-row scale band) across
//   every M at a K of each remainder class of the panel passes.
// - Large sizes: a property draws the same classes (M and K remainders, N past tiles) at sizes
//   where the work is split between threads, activation rows are prepared in parallel and the w4a4
//   panels block their activation rows.
// Every path this CPU can run (forced dispatch, each run counted), both modes, 1 and 2 threads
// (opt::gemm on one, opt::gemm_into a NaN-filled output on two); every output element within
// optimized/gemm.h's bound of the reference's exact oracle.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <vector>

#include "checks/gemm_vs_oracle.h"
#include "generator/rng.h"
#include "optimized/gemm.h"
#include "optimized/kernels/dispatch.h"
#include "optimized/kernels/thread_pool.h"
#include "optimized/kernels/tiles.h"
#include "optimized/layout_maps.h"
#include "properties/kernel_failures.h"
#include "properties/kernel_weights.h"
#include "reference/gemm.h"

namespace nvfp4 {
namespace {

namespace tiles = opt::tiles;

// Every M class: 1 .. 2 x (largest tile) + 1, and past every path threshold by two of its tiles
// and one (the w4a4 panels start at kW4a4PanelMinRows).
std::int64_t max_m_class() {
  return std::max({2 * tiles::largest_tile_m() + 1, tiles::kW4a4PanelMinRows + 2 * std::int64_t{tiles::kPanelW4a4TileM} + 1,
                   tiles::kW4a16PanelMinRows + 2 * std::int64_t{tiles::kPanelW4a16TileM} + 1});
}
std::int64_t max_k_class() { return 2 * tiles::largest_k_group() + tiles::kBlockK; }

// N classes: below, at and past every stored-row tile (rows kernel 4, 2, 1; panel 32 in groups of
// 16; AMX tiles of 16), thread task multiple, and 128-row scale band.
std::vector<std::int64_t> n_classes() {
  std::vector<std::int64_t> n{1};
  for (std::int64_t t : {tiles::kRowsWideRows, std::int64_t{tiles::kPanelGroupRows}, std::int64_t{tiles::kAmxTileN}, std::int64_t{tiles::kPanelRows},
                         2 * std::int64_t{tiles::kPanelRows}, tiles::kTaskRowMultiple, tiles::kScaleBandRows})
    for (std::int64_t v : {t - 1, t, t + 1})
      if (v >= 1 && std::find(n.begin(), n.end(), v) == n.end()) n.push_back(v);
  std::sort(n.begin(), n.end());
  return n;
}

// One full panel, then one whose first group is full and second partial; odd, so every stored-row
// tile (4, 2) leaves a remainder.
std::int64_t grid_n() { return tiles::kPanelRows + tiles::kPanelGroupRows + 5; }

using kernel_test::activations;
using kernel_test::expect_none;
using kernel_test::make_weight;
using kernel_test::Weight;

// The failures of one weight at M rows on every path and thread count, "" when all hold. Each
// forced path must be counted as run.
std::string check_weight(std::int64_t M, const Weight& wt, std::uint64_t seed) {
  const std::int64_t N = wt.w.N, K = wt.w.K;
  const Tensor x = activations(M, K, seed ^ 0x9E3779B97F4A7C15ull);
  std::ostringstream fail;
  const int pool_threads = opt::ThreadPool::global().threads();
  for (GemmMode mode : {GemmMode::W4A16, GemmMode::W4A4}) {
    std::vector<double> mag;
    const Tensor exact = ref::gemm_exact(x, wt.lw, mode, wt.s, &mag);
    const double post = mode == GemmMode::W4A4 ? wt.s.alpha : wt.lw.global_scale;
    for (opt::Isa isa : opt::available_isas())
      for (int threads : {1, 2}) {
        opt::ScopedIsa forced(isa);
        opt::ThreadPool::global().set_threads(threads);
        const std::uint64_t before = opt::kernel_hits(isa);
        // Both entry points on every class: gemm() on 1 thread, gemm_into() on 2, into an output
        // of NaN bytes (0xFF), so that an element it leaves unwritten fails the bound.
        Tensor got = threads == 1 ? opt::gemm(x, wt.w, mode) : Tensor::empty(x.dtype(), {M, N});
        if (threads != 1) {
          std::memset(got.data(), 0xFF, got.nbytes());
          opt::gemm_into(x, wt.w, mode, got);
        }
        const char* where = opt::isa_name(isa);
        if (opt::kernel_hits(isa) != before + 1) {
          fail << where << " " << gemm_mode_name(mode) << ": the forced path did not run\n";
          continue;
        }
        const checks::KernelCheck kc = checks::check_kernel(exact, got, mag, mode, checks::gemm_arith(opt::isa_name(opt::active_isa())), K, post);
        if (!kc.passed())
          fail << where << " " << gemm_mode_name(mode) << " threads=" << threads << " M=" << M << " N=" << N << " K=" << K << " seed=" << seed
               << ": " << kc.failure() << "\n";
      }
  }
  opt::ThreadPool::global().set_threads(pool_threads);
  return fail.str();
}

std::string check_shape(std::int64_t M, std::int64_t N, std::int64_t K, std::uint64_t seed, opt::LayoutCache& cache) {
  return check_weight(M, make_weight(N, K, seed, cache), seed);
}

TEST(KernelClasses, TheGridCoversEveryClassOfTheTileSizes) {
  // The grid's own structure, from the constants, so that a tile change cannot shrink it unseen.
  EXPECT_GE(max_m_class(), tiles::kW4a4PanelMinRows + tiles::kPanelW4a4TileM + 1);
  EXPECT_GE(max_m_class(), 2 * std::int64_t{tiles::kRowsTileM} + 1);
  EXPECT_GE(max_m_class(), 2 * std::int64_t{tiles::kAmxTileM} + 1) << "two AMX tiles and a partial one";
  EXPECT_GE(max_k_class(), 2 * tiles::kPanelChunkK * tiles::kPanelChunksPerPass + 16);
  const std::int64_t n = grid_n();
  EXPECT_GT(n, tiles::kPanelRows);
  EXPECT_GT(n % tiles::kPanelRows, tiles::kPanelGroupRows);
  EXPECT_NE(n % tiles::kRowsWideRows, 0);
  EXPECT_NE(n % 2, 0);
}

// Every (M, K) at grid_n(); one test per mode-independent K step so a failure names its K.
class KernelClassesMK : public ::testing::TestWithParam<std::int64_t> {};

TEST_P(KernelClassesMK, EveryMAtThisKWithinTheBoundOnEveryPath) {
  const std::int64_t K = GetParam();
  opt::LayoutCache cache;
  std::string fails;
  for (std::int64_t M = 1; M <= max_m_class(); ++M) fails += check_shape(M, grid_n(), K, static_cast<std::uint64_t>(M * 1000 + K), cache);
  expect_none(fails, "properties/kernel_classes");
}

std::vector<std::int64_t> k_steps() {
  std::vector<std::int64_t> k;
  for (std::int64_t v = tiles::kBlockK; v <= max_k_class(); v += tiles::kBlockK) k.push_back(v);
  return k;
}
INSTANTIATE_TEST_SUITE_P(Grid, KernelClassesMK, ::testing::ValuesIn(k_steps()),
                         [](const auto& i) { return "K" + std::to_string(i.param); });

// Every N class across every M, at one K per remainder class of a panel pass (a whole pass, a pass
// and a partial 128-K chunk, a pass and a chunk and a partial one).
TEST(KernelClasses, EveryNClassAcrossEveryM) {
  opt::LayoutCache cache;
  const std::int64_t pass = tiles::kPanelChunkK * tiles::kPanelChunksPerPass;
  std::string fails;
  for (std::int64_t K : {pass, pass + tiles::kPanelChunkK + 48})
    for (std::int64_t N : n_classes())
      for (std::int64_t M = 1; M <= max_m_class(); ++M) fails += check_shape(M, N, K, static_cast<std::uint64_t>(N * 7 + M * 131 + K), cache);
  expect_none(fails, "properties/kernel_classes");
}

// Every N class across every K, at one M per path and M remainder (below, at and past the rows
// kernel's wide limit, a rows-kernel tile plus a remainder, past the w4a4 panel threshold by a tile
// and a remainder, which is also a w4a16 panel tile and its tail tiles of 4, 2 and 1 rows; the
// tail of 8 is in the grid above, M = 20..23 and 8..11).
TEST(KernelClasses, EveryNClassAcrossEveryK) {
  opt::LayoutCache cache;
  std::string fails;
  for (std::int64_t M : {std::int64_t{1}, tiles::kRowsWideMaxM + 1, std::int64_t{tiles::kRowsTileM} + 5,
                         tiles::kW4a4PanelMinRows + tiles::kPanelW4a4TileM - 1})
    for (std::int64_t N : n_classes())
      for (std::int64_t K = tiles::kBlockK; K <= max_k_class(); K += tiles::kBlockK)
        fails += check_shape(M, N, K, static_cast<std::uint64_t>(N * 13 + M * 977 + K), cache);
  expect_none(fails, "properties/kernel_classes");
}

// The same classes at large sizes, drawn (seeded, so CI sees the same draws): M by its remainder
// modulo every tile past the w4a4 panel threshold, K by its remainder modulo the largest K group
// over up to 4 groups, N past a panel, a group or a scale band; big enough that the stored rows
// are split between threads and the activation rows are prepared in parallel. (The w4a4 panels'
// activation row blocks, ~1 MiB of rows, take M in the hundreds: KernelsVsOracle.PanelBlockingBoundaries.)
TEST(KernelClasses, LargeShapesOfEveryClassWithinTheBound) {
  Rng g(20261206);
  auto draw = [&](std::int64_t lo, std::int64_t hi) { return lo + static_cast<std::int64_t>(g.next() % static_cast<std::uint64_t>(hi - lo + 1)); };
  const std::int64_t tile = tiles::largest_tile_m();
  const std::int64_t n_base[] = {tiles::kPanelRows, tiles::kScaleBandRows, 3 * tiles::kPanelRows};
  const std::int64_t n_off[] = {-1, 0, 1, tiles::kPanelGroupRows + 1};
  opt::LayoutCache cache;
  std::string fails;
  int split = 0, prepared_in_parallel = 0;
  for (int i = 0; i < 16; ++i) {
    const std::int64_t M = tiles::kW4a4PanelMinRows + draw(2, 10) * tile + draw(0, tile - 1);
    const std::int64_t K = draw(1, 4) * tiles::largest_k_group() + draw(0, tiles::largest_k_group() / tiles::kBlockK - 1) * tiles::kBlockK;
    const std::int64_t N = n_base[draw(0, 2)] + n_off[draw(0, 3)];
    const std::int64_t Kp = (K + tiles::kActivationKPad - 1) / tiles::kActivationKPad * tiles::kActivationKPad;
    split += static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K) >= tiles::kSplitWork;
    prepared_in_parallel += M * Kp >= tiles::kPrepareSplitElems;
    fails += check_shape(M, N, K, g.next(), cache);
  }
  expect_none(fails, "properties/kernel_classes");
  // The draws reach the classes they are for.
  EXPECT_GE(split, 8);
  EXPECT_GE(prepared_in_parallel, 4);
}

// The panels' and AMX tiles' results go out a 32-row panel at a time (avx512::write_panel_rows):
// two vector stores per row where the panel's stored rows are 32 consecutive output columns, one
// store per element otherwise. Both, with and without out_col: panels mapped whole to consecutive
// columns out of order (the vector path through out_col), one mapped reversed and one with a gap
// (the per-element path), a padding panel (nothing written), and a partial last panel, at M on the
// w4a16 panels, the w4a4 panels and AMX tiles, and a remainder of each.
TEST(KernelClasses, PanelsWrittenWholeOrByElementWhereTheirColumnsAre) {
  const std::int64_t P = tiles::kPanelRows, N = 4 * P + 5, K = 3 * tiles::kPanelChunkK + 48;
  std::vector<std::int64_t> cols;
  auto block = [&](std::int64_t first, std::int64_t n, bool reversed) {
    for (std::int64_t i = 0; i < n; ++i) cols.push_back(reversed ? first + n - 1 - i : first + i);
  };
  block(2 * P, P, false);  // consecutive, out of order
  block(0, P, true);       // reversed: element by element
  cols.insert(cols.end(), static_cast<std::size_t>(P), -1);  // padding
  block(P, P, false);      // consecutive
  block(3 * P + 1, P - 1, false);  // a gap at 3P: element by element ...
  cols.push_back(3 * P);
  block(4 * P, 5, false);  // ... and a partial last panel
  ASSERT_EQ(static_cast<std::int64_t>(std::count_if(cols.begin(), cols.end(), [](std::int64_t c) { return c >= 0; })), N);
  opt::LayoutCache cache;
  std::string fails;
  for (std::int64_t M : {tiles::kW4a16PanelMinRows, std::int64_t{tiles::kPanelW4a16TileM} + 3, tiles::kW4a4PanelMinRows,
                         tiles::kW4a4PanelMinRows + 2 * std::int64_t{tiles::kAmxTileM} + 1})
    for (bool mapped : {false, true}) {
      const Weight wt = mapped ? make_weight(N, K, static_cast<std::uint64_t>(M), cache, -1, cols) : make_weight(N, K, static_cast<std::uint64_t>(M), cache);
      fails += check_weight(M, wt, static_cast<std::uint64_t>(M) + 77);
    }
  expect_none(fails, "properties/kernel_classes");
}

}  // namespace
}  // namespace nvfp4

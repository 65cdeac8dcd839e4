// The AMX kernel set (optimized/kernels/amx.cpp) by its own structure, next to the grid that runs
// every path (kernel_classes_test.cpp): BF16 tiles of 16 activation rows x 16 stored rows x 32 K
// (w4a16: three tiles per step, the parts of each activation), activation tiles in pairs then one,
// in blocks of about 1 MiB of them, the weights decoded 512 K per pass, the avx512 kernels below 16
// rows and for w4a16 activations too small to split exactly. Every shape
// runs forced onto the amx path, both modes, 1 and 2 threads, each element within optimized/gemm.h's
// bound of the reference's exact oracle, and proves which kernel ran: amx_tile_gemms() must grow by
// one exactly where the tiles are due (M >= kAmxMinRows; w4a16 only with every nonzero |x| >=
// 2^-80) and stay put elsewhere. Skipped, with
// the reason, where the CPU or the OS offers no AMX.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <vector>

#include "checks/gemm_vs_oracle.h"
#include "optimized/gemm.h"
#include "optimized/kernels/dispatch.h"
#include "optimized/kernels/thread_pool.h"
#include "optimized/kernels/tiles.h"
#include "properties/kernel_failures.h"
#include "properties/kernel_weights.h"
#include "reference/gemm.h"

namespace nvfp4 {
namespace {

namespace tiles = opt::tiles;

bool have_amx() {
  const auto& isas = opt::available_isas();
  return std::find(isas.begin(), isas.end(), opt::Isa::Amx) != isas.end();
}
#define SKIP_WITHOUT_AMX() \
  if (!have_amx()) GTEST_SKIP() << "no amx path here: " << opt::amx_support_text(opt::amx_support())

// The failures of one shape on the amx path ("" when all hold). pad >= 0: stored rows shuffled among
// pad padding rows (trtllm's layout).
// tiny > 0: activation row 0 is all tiny values, the smallest (x[0, 0]) exactly `tiny`, the rest
// tiny times 1 + 24-bit fractions, so that a part flushed to 0 moves the row's outputs by as much as
// the outputs are.
std::string check_amx(std::int64_t M, std::int64_t N, std::int64_t K, std::uint64_t seed, opt::LayoutCache& cache, std::int64_t pad = -1,
                      float tiny = 0) {
  const kernel_test::Weight wt = kernel_test::make_weight(N, K, seed, cache, pad);
  Tensor x = kernel_test::activations(M, K, seed ^ 0x9E3779B97F4A7C15ull);
  if (tiny > 0) {
    float* row = x.data_as<float>();
    for (std::int64_t k = 0; k < K; ++k)
      row[k] = (k % 2 ? -1.0f : 1.0f) * (k == 0 ? tiny : tiny * (1.0f + static_cast<float>((k * 2654435761u) % 16777216u) * 0x1p-24f));
  }
  std::ostringstream fail;
  const int pool_threads = opt::ThreadPool::global().threads();
  opt::ScopedIsa forced(opt::Isa::Amx);
  for (GemmMode mode : {GemmMode::W4A16, GemmMode::W4A4}) {
    std::vector<double> mag;
    const Tensor exact = ref::gemm_exact(x, wt.lw, mode, wt.s, &mag);
    const double post = mode == GemmMode::W4A4 ? wt.s.alpha : wt.lw.global_scale;
    const bool split_exact = tiny == 0 || tiny >= 0x1p-80f;  // amx.cpp, kSplitMin
    const bool tiles_due = M >= tiles::kAmxMinRows && (mode == GemmMode::W4A4 || split_exact);
    for (int threads : {1, 2}) {
      opt::ThreadPool::global().set_threads(threads);
      const std::uint64_t hits = opt::kernel_hits(opt::Isa::Amx), tile_gemms = opt::amx_tile_gemms();
      const Tensor got = opt::gemm(x, wt.w, mode);
      std::ostringstream t;
      if (tiny > 0) t << " row 0 from " << std::hexfloat << tiny;
      const std::string where = gemm_mode_name(mode) + " threads=" + std::to_string(threads) + " M=" + std::to_string(M) +
                                " N=" + std::to_string(N) + " K=" + std::to_string(K) + (pad >= 0 ? " shuffled" : "") + t.str();
      if (opt::kernel_hits(opt::Isa::Amx) != hits + 1) fail << where << ": the forced amx path did not run\n";
      if (opt::amx_tile_gemms() != tile_gemms + (tiles_due ? 1 : 0))
        fail << where << ": AMX tiles " << (tiles_due ? "did not run" : "ran where the avx512 kernels are due") << "\n";
      const checks::KernelCheck kc = checks::check_kernel(exact, got, mag, mode, checks::gemm_arith(opt::isa_name(opt::active_isa())), K, post);
      if (!kc.passed()) fail << where << " seed=" << seed << ": " << kc.failure() << "\n";
    }
  }
  opt::ThreadPool::global().set_threads(pool_threads);
  return fail.str();
}

// M: every count up to one past the threshold (the avx512 kernels, then one tile, then a tile and
// one row), then around two, three and four tiles: a pair whose second tile is partial, a whole
// pair, a pair and a partial single, a pair and a whole single, two pairs.
std::vector<std::int64_t> m_classes() {
  std::vector<std::int64_t> m;
  for (std::int64_t v = 1; v <= tiles::kAmxMinRows + 1; ++v) m.push_back(v);
  const std::int64_t T = tiles::kAmxTileM;
  for (std::int64_t v : {2 * T - 1, 2 * T, 2 * T + 1, 3 * T, 3 * T + 1, 4 * T}) m.push_back(v);
  return m;
}

// K: a tail of one block alone, one whole step, a step and the tail; the same past the 512-K
// decode pass (the accumulators go to memory and come back), past a pass and a chunk, and past two
// passes.
std::vector<std::int64_t> k_classes() {
  const std::int64_t pass = tiles::kPanelChunkK * tiles::kPanelChunksPerPass;
  std::vector<std::int64_t> k;
  for (std::int64_t base : {std::int64_t{0}, tiles::kAmxStepK, pass, pass + tiles::kPanelChunkK, 2 * pass})
    for (std::int64_t tail = 0; tail < tiles::kAmxStepK; tail += 16)
      if (base + tail > 0) k.push_back(base + tail);
  return k;
}

TEST(AmxKernel, TheClassesAreTheKernelsStructure) {
  EXPECT_EQ(tiles::kAmxStepK, tiles::kAmxStepBlocks * tiles::kBlockK);
  const auto m = m_classes(), k = k_classes();
  EXPECT_TRUE(std::count(m.begin(), m.end(), tiles::kAmxMinRows - 1) && std::count(m.begin(), m.end(), tiles::kAmxMinRows + 1));
  for (std::int64_t tail = 16; tail < tiles::kAmxStepK; tail += 16) EXPECT_TRUE(std::count(k.begin(), k.end(), tiles::kAmxStepK + tail)) << tail;
  EXPECT_TRUE(std::count(m.begin(), m.end(), 3 * tiles::kAmxTileM + 1)) << "a pair of tiles, then a partial single";
  EXPECT_NE((tiles::kPanelRows + tiles::kPanelGroupRows + 5) % tiles::kAmxTileN, 0) << "N off the 16-row tile";
}

// Every M class at every K class, at an N of a full panel and a second one whose second group of
// 16 is partial; and N off every tile at the M and K that reach a tile and a partial one.
TEST(AmxKernel, EveryTileClassWithinTheBound) {
  SKIP_WITHOUT_AMX();
  opt::LayoutCache cache;
  std::string fails;
  const std::int64_t N = tiles::kPanelRows + tiles::kPanelGroupRows + 5;
  for (std::int64_t K : k_classes())
    for (std::int64_t M : m_classes()) fails += check_amx(M, N, K, static_cast<std::uint64_t>(M * 1009 + K), cache);
  for (std::int64_t n : {1, 15, 16, 17, 31, 32, 33, 47, 48, 49})
    for (std::int64_t M : {tiles::kAmxMinRows, tiles::kAmxMinRows + 1, 2 * std::int64_t{tiles::kAmxTileM} + 1})
      fails += check_amx(M, n, tiles::kAmxStepK + 48, static_cast<std::uint64_t>(n * 31 + M), cache);
  kernel_test::expect_none(fails, "properties/amx_kernel");
}

// trtllm's stored rows: shuffled, padded, each naming its output column.
TEST(AmxKernel, ShuffledAndPaddedRowsLandOnTheirColumns) {
  SKIP_WITHOUT_AMX();
  opt::LayoutCache cache;
  std::string fails;
  for (std::int64_t M : {tiles::kAmxMinRows, tiles::kAmxMinRows + 1, 2 * std::int64_t{tiles::kAmxTileM} + 1})
    for (std::int64_t pad : {std::int64_t{0}, std::int64_t{7}, std::int64_t{40}}) fails += check_amx(M, 45, 2 * tiles::kAmxStepK + 32, static_cast<std::uint64_t>(M * 7 + pad), cache, pad);
  kernel_test::expect_none(fails, "properties/amx_kernel");
}

// Large enough that gemm() prepares the activation rows on both threads (M x Kp >= kPrepareSplitElems)
// and splits the stored rows: with an odd M each thread's share of rows ends or starts inside a
// tile (33 rows: 17 and 16), and the last range of stored rows is partial.
TEST(AmxKernel, OddRowsPerThreadWithTwoThreads) {
  SKIP_WITHOUT_AMX();
  opt::LayoutCache cache;
  std::string fails;
  const std::int64_t K = 4 * tiles::kPanelChunkK * tiles::kPanelChunksPerPass + 16;  // a 1-block tail
  for (std::int64_t M : {2 * tiles::kAmxTileM + 1, 3 * tiles::kAmxTileM - 1}) {
    ASSERT_GE(M * (K + 48), tiles::kPrepareSplitElems);
    fails += check_amx(M, 3 * tiles::kPanelRows + 5, K, static_cast<std::uint64_t>(M), cache);
  }
  kernel_test::expect_none(fails, "properties/amx_kernel");
}

// The activation tiles go in blocks of about kPanelRowBlockBytes of prepared BF16 (1 KiB per tile
// and 32-K step of one K superblock, three per step in w4a16), each block in pairs and then one: a
// K whose w4a4 blocks hold 9 tiles splits 10 tiles into four pairs and a single, then a partial
// single (w4a16's blocks of 3: a pair and a single three times, then a partial single). Each
// panel takes an odd number of decode passes (7), decoded in turn into two buffers while the tiles
// run over the pass before: the buffers trade places from one block to the next, and the last pass
// of a block decodes the next block's first (a single tile, as the last block here, keeps its
// accumulators in the tile registers across the passes).
TEST(AmxKernel, ActivationBlocksOfAnOddNumberOfTiles) {
  SKIP_WITHOUT_AMX();
  opt::LayoutCache cache;
  const std::int64_t K = 3568, steps = std::min((K + 63) / 64 * 2, tiles::kAmxSuperK / 32);  // a 1-block tail
  ASSERT_EQ(tiles::kPanelRowBlockBytes / (steps * 1024), 9);
  const std::int64_t pass_k = tiles::kPanelChunkK * tiles::kPanelChunksPerPass;
  ASSERT_EQ((K + pass_k - 1) / pass_k % 2, 1) << "an odd number of passes per panel";
  const std::int64_t M = 9 * tiles::kAmxTileM + 6;
  kernel_test::expect_none(check_amx(M, 40, K, 77, cache), "properties/amx_kernel");
}

// K past two superblocks (kAmxSuperK) and a chunk and a block: the accumulators of every panel of
// the range wait in memory from one superblock to the next; two panels per thread range at N = 101.
TEST(AmxKernel, KAcrossSuperblocks) {
  SKIP_WITHOUT_AMX();
  opt::LayoutCache cache;
  const std::int64_t K = 2 * tiles::kAmxSuperK + tiles::kPanelChunkK + 16;
  std::string fails;
  for (std::int64_t M : {tiles::kAmxMinRows, 3 * std::int64_t{tiles::kAmxTileM} + 1})
    fails += check_amx(M, 3 * tiles::kPanelRows + 5, K, static_cast<std::uint64_t>(M + 5), cache);
  kernel_test::expect_none(fails, "properties/amx_kernel");
}

// w4a16's three BF16 parts are exact only while every part and product stays clear of the tile
// unit's flush to zero: tiles from a smallest nonzero |x| of 2^-80 on (its parts reach 2^-103),
// the avx512 kernels below it, down to f32's subnormals. A row of nothing but such values shows
// a flushed part as a wrong result, not a rounding.
TEST(AmxKernel, W4a16SplitsOnlyWhatItSplitsExactly) {
  SKIP_WITHOUT_AMX();
  opt::LayoutCache cache;
  std::string fails;
  for (float tiny : {0x1p-80f, 0x1.fffffep-81f, 0x1p-100f, 0x1p-126f, 0x1p-149f, 0x1p-20f})
    fails += check_amx(tiles::kAmxMinRows + 1, 40, tiles::kAmxStepK + 16, 91, cache, -1, tiny);
  kernel_test::expect_none(fails, "properties/amx_kernel");
}

}  // namespace
}  // namespace nvfp4

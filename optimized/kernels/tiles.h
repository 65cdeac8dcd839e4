// Every size that shapes the optimized GEMM's loops, in one place: the kernels take their tile
// sizes, chunk lengths and path thresholds from here, and the kernel tests
// (optimized/test/kernel_classes_test.cpp) derive their exhaustive grid of shape classes from the
// same numbers, as XNNPACK generates each microkernel's tests from its tile parameters. A new tile
// size or threshold changes the grid with it; a kernel that hard-codes its own size escapes it.
//
// The classes a shape falls into (what a bug confined to one of them needs to be seen):
// - M: below, at and past each path threshold (AVX-512 w4a4: rows kernel below kW4a4PanelMinRows,
//   panels from there; w4a16: lanes along K below kW4a16PanelMinRows), and every remainder of each
//   row tile (rows kernel kRowsTileM / kRowsTileMWide, w4a4 panel tile kPanelW4a4TileM and w4a16
//   panel tile kPanelW4a16TileM, each with its tail tiles of tail_piece(tile) .. 1 rows, AVX2 kAvx2TileM).
// - K: every remainder modulo each K step (scalar: a 16-block; AVX2 kAvx2ChunkK; AVX-512 w4a16
//   lanes kKLaneChunkK; rows kernel kRowsChunkK with its 4-block scale groups; panels kPanelChunkK
//   packed kPanelChunksPerPass at a time, w4a16 decoded kPanelF32Blocks blocks at a time; the
//   AVX-512 activation quantizer's kQuantizeGroupBlocks blocks at a time, the last group partial), and
//   the activation padding to kActivationKPad.
// - N: below, at and past each stored-row tile (rows kernel 4 / 2 / 1 rows, panel 32 rows in two
//   16-row groups, thread tasks of whole kTaskRowMultiple rows, the 128-row band of the swizzled
//   scales).
// - AMX (both modes, from kAmxMinRows): M by pairs of whole tiles of kAmxTileM, a single tile, and
//   the partial last one, within blocks of activation tiles; K by its remainder modulo kAmxStepK (a
//   tail of 1 block), by the decode passes (decoded in turn into two buffers across the blocks: an
//   odd count per block) and by the superblocks of kAmxSuperK; N by the 16-row tile within the
//   32-row panel.
// - threads: one task below kSplitWork (M x rows x K), several from there; activation rows prepared
//   in parallel from kPrepareSplitElems (M x Kp) on.
#pragma once
#include <algorithm>
#include <cstdint>
#include <initializer_list>

namespace nvfp4::opt::tiles {

// gemm.cpp
inline constexpr std::int64_t kActivationKPad = 64;          // activation buffers zero-padded to Kp = roundup(K, 64)
inline constexpr std::int64_t kPrepareSplitElems = 1 << 16;  // M x Kp from which activation rows are prepared in parallel
inline constexpr double kSplitWork = 4e5;                    // M x rows x K below which the stored rows are one task
inline constexpr std::int64_t kTasksPerThread = 8;
inline constexpr std::int64_t kTaskRowMultiple = 32;         // stored rows per task: whole panels

// scalar.cpp: one 16-block at a time, every row and activation row alone.
inline constexpr std::int64_t kBlockK = 16;

// avx2.cpp: 32 K per step (two blocks), kAvx2TileM activation rows per weight row.
inline constexpr std::int64_t kAvx2ChunkK = 32;
inline constexpr std::int64_t kAvx2TileM = 4;

// avx512_quantize.cpp: w4a4 activation blocks whose scales are computed together (one per lane).
inline constexpr std::int64_t kQuantizeGroupBlocks = 16;

// avx512.cpp: which AVX-512 kernel runs.
inline constexpr std::int64_t kW4a4PanelMinRows = 16;   // w4a4: rows kernel below, panels from here
inline constexpr std::int64_t kW4a16PanelMinRows = 4;   // w4a16: lanes along K below (one tile of M rows), panels from here
inline constexpr std::int64_t kKLaneChunkK = 64;        // w4a16 lanes along K: K per step

// avx512_rows.cpp: 256 K (16 blocks, 4 scale groups of 4) per step; kRowsWideRows stored rows at a
// time while M <= kRowsWideMaxM (then kRowsTileMWide activation rows per tile), else 2 and 1 stored
// rows with kRowsTileM activation rows per tile.
inline constexpr std::int64_t kRowsChunkK = 256;
inline constexpr std::int64_t kRowsWideRows = 4;
inline constexpr std::int64_t kRowsWideMaxM = 2;
inline constexpr int kRowsTileMWide = 2;
inline constexpr int kRowsTileM = 8;
// Software prefetch distances of the weight stream, in bytes past the chunk being read: into L1
// and into L2 (no shape class: they move no result, only when bytes arrive).
inline constexpr std::int64_t kRowsPrefetchNearBytes = 8 << 10;
inline constexpr std::int64_t kRowsPrefetchFarBytes = 32 << 10;

// avx512_panel.cpp: 32 stored rows per panel (two 16-row groups), packed 128 K at a time,
// kPanelChunksPerPass chunks per pass (512 K); w4a4 tiles of 4 activation rows, w4a16 tiles of 12
// rows over kPanelF32Blocks blocks decoded to f32 at a time, each then the rest of the rows in
// tiles of tail_piece(tile), its half, .., 1 rows (one of each size, the rest's binary digits);
// w4a4 activation rows in blocks of about kPanelRowBlockBytes.
inline constexpr int kPanelRows = 32;
inline constexpr int kPanelGroupRows = 16;
inline constexpr std::int64_t kPanelChunkK = 128;
inline constexpr std::int64_t kPanelChunksPerPass = 4;
inline constexpr int kPanelW4a4TileM = 4;
inline constexpr int kPanelW4a16TileM = 12;
inline constexpr std::int64_t kPanelF32Blocks = 16;
inline constexpr std::int64_t kPanelRowBlockBytes = std::int64_t{1} << 20;
// The largest tile of the rest after whole tiles of `tile` rows: the largest power of two below it.
inline constexpr int tail_piece(int tile) { return tile <= 2 ? 1 : 2 * tail_piece((tile + 1) / 2); }
static_assert(tail_piece(12) == 8 && tail_piece(4) == 2 && tail_piece(2) == 1 && tail_piece(9) == 8 && tail_piece(8) == 4);

// amx.cpp: w4a4 from kAmxMinRows activation rows on (below, and for w4a16, the avx512 kernels);
// BF16 tiles of kAmxTileM activation rows x kAmxTileN stored rows x kAmxStepK K, activation tiles
// in pairs (then one), activation rows padded to whole tiles, the weights decoded per 32-row panel
// (kPanelRows) kPanelChunksPerPass x kPanelChunkK K at a time, K in superblocks of kAmxSuperK.
inline constexpr std::int64_t kAmxMinRows = 16;
inline constexpr int kAmxTileM = 16;
inline constexpr int kAmxTileN = 16;
inline constexpr std::int64_t kAmxStepBlocks = 2;
inline constexpr std::int64_t kAmxStepK = kAmxStepBlocks * 16;
inline constexpr std::int64_t kAmxSuperK = 4096;  // K per superblock: the activation blocks' K, the accumulators in memory between

// The 128x4 layout: scale rows are padded to bands of 128.
inline constexpr std::int64_t kScaleBandRows = 128;

// The largest activation-row tile of any path, and the K step that contains every other K step.
inline constexpr std::int64_t largest_tile_m() {
  return std::max<std::int64_t>({kAvx2TileM, kRowsTileM, kPanelW4a4TileM, kPanelW4a16TileM, kAmxTileM});
}
inline constexpr std::int64_t largest_k_group() {
  return std::max<std::int64_t>({kBlockK, kAvx2ChunkK, kKLaneChunkK, kRowsChunkK, kPanelChunkK * kPanelChunksPerPass,
                                 kPanelF32Blocks * kBlockK, kActivationKPad, kAmxStepK, kQuantizeGroupBlocks * kBlockK});
}

}  // namespace nvfp4::opt::tiles

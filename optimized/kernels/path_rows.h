// The activation row counts M that take the optimized GEMM down every kernel path and every kind
// of activation-row tile one kernel set has, in both modes, derived from the sizes in tiles.h alone.
// nvfp4 verify multiplies every module at each of them: one M reaches one path and one remainder of
// its tiles, and a bug confined to another (the AVX-512 rows kernel's second tile, M = 9..15; the
// panels, M >= 16) passes a check at that M.
//
// The classes (row_classes), per kernel set:
// - scalar: every activation row is its own pass over a weight row; only a second row can show a
//   row-offset fault.
// - avx2: tiles of kAvx2TileM rows, then a tail of 1..kAvx2TileM-1 rows, each tail its own
//   function picked by the remainder (a wrong pick breaks one remainder): a full tile followed by a
//   tail, and every tail.
// - avx512, w4a4: the rows kernel below kW4a4PanelMinRows, kRowsWideRows weight rows at a time up
//   to kRowsWideMaxM activation rows (tiles of kRowsTileMWide), else 2 and 1 weight rows (tiles of
//   kRowsTileM); the panels from there (tiles of kPanelW4a4TileM, then the rest in tail tiles of
//   tail_piece(tile), its half, .., 1 rows, one of each size: each its own function, so each size a
//   class). w4a16: lanes along K below kW4a16PanelMinRows, one function per M (each its own
//   class), else the panels (tiles of kPanelW4a16TileM, then tail tiles likewise).
// - amx: the avx512 classes, except that from kAmxMinRows on both modes run AMX tiles of kAmxTileM
//   rows in pairs (a full tile, then a partial one; a full pair, then a partial one) instead of the
//   panels, so the w4a16 panels' classes are those reachable below kAmxMinRows.
// Within one loop over tiles, the class wanted is a partial tile after a full one (its rows sit at a
// nonzero offset in the prepared activations: where the rows-kernel bug was) and, for the panels,
// each tail tile size after full tiles; where the loop's range of M holds no such M (the wide rows
// kernel: M <= 2 with tiles of 2; amx's w4a16 panels, M < 16, for tails of 4 and 8), the tile alone.
// The rows kernel's partial tiles are eight table entries (1..8 rows) too, but reaching each would
// take seven GEMMs of 3..15 rows; the exhaustive kernel tests (every M from 1 to 25) cover those.
//
// path_rows picks, among M up to the largest path threshold plus two of the largest tiles (past the
// thresholds every class depends on M modulo a tile only), the set that reaches every class with
// the fewest activation rows in total (then the fewest M): the exact oracle's cost grows with the
// rows. With today's tiles: amx {1, 2, 3, 4, 8, 15, 33}, avx512 {1, 2, 3, 9, 16, 23}, avx2 {1, 2, 7}, scalar {2}.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "optimized/kernels/dispatch.h"

namespace nvfp4::opt {

// One M of the set, and every class it reaches, in words.
struct PathRows {
  std::int64_t M = 0;
  std::vector<std::string> reaches;
};

// The classes of isa's kernels (both modes) that M reaches, in words; empty for M < 1.
std::vector<std::string> row_classes(Isa isa, std::int64_t M);
// Every class isa's kernels have, in words (those no M reaches are left out).
std::vector<std::string> all_row_classes(Isa isa);
// The cheapest set of M that reaches every class, ascending.
std::vector<PathRows> path_rows(Isa isa);

}  // namespace nvfp4::opt

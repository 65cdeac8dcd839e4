#include "optimized/kernels/path_rows.h"

#include <algorithm>
#include <functional>
#include <tuple>

#include "optimized/kernels/tiles.h"

namespace nvfp4::opt {
namespace {

using Hit = std::function<bool(std::int64_t)>;
struct RowClass {
  std::string what;
  Hit hit;
};

// Past the largest threshold every class depends on M modulo one tile, so a class reachable at all
// is reachable below this.
constexpr std::int64_t kMaxM = std::max(tiles::kW4a4PanelMinRows, tiles::kW4a16PanelMinRows) + 2 * tiles::largest_tile_m();

bool reachable(const Hit& h) {
  for (std::int64_t M = 1; M <= kMaxM; ++M)
    if (h(M)) return true;
  return false;
}

void add(std::vector<RowClass>& out, std::string what, Hit h) {
  if (reachable(h)) out.push_back({std::move(what), std::move(h)});
}

std::string n(std::int64_t v) { return std::to_string(v); }

// A loop over tiles of T activation rows, the last one partial (a table entry per size), for M in
// [lo, hi]: a partial tile after a full one; where the range has no such M, the two apart.
void tile_loop(std::vector<RowClass>& out, const std::string& path, std::int64_t lo, std::int64_t hi, std::int64_t T) {
  const Hit both = [=](std::int64_t M) { return M >= lo && M <= hi && M > T && M % T != 0; };
  if (reachable(both)) return add(out, path + ": a full tile of " + n(T) + " rows, then a partial one", both);
  add(out, path + ": a full tile of " + n(T) + " rows", [=](std::int64_t M) { return M >= lo && M <= hi && M >= T; });
  add(out, path + ": a partial tile of fewer than " + n(T) + " rows", [=](std::int64_t M) { return M >= lo && M <= hi && M % T != 0; });
}

// The panels' loop (avx512_panel.cpp, by_tiles): tiles of T rows, then the rest in tiles of
// P = tail_piece(T), P / 2, .., 1 rows, one of each size where the rest's binary digits have it.
// Per tail size, the tile after full tiles (at a nonzero row offset) where the range allows it,
// else the tile alone; and a full tile.
void panel_loop(std::vector<RowClass>& out, const std::string& path, std::int64_t lo, std::int64_t hi, std::int64_t T) {
  auto in = [=](std::int64_t M) { return M >= lo && M <= hi; };
  add(out, path + ": a full tile of " + n(T) + " rows", [=](std::int64_t M) { return in(M) && M >= T; });
  for (std::int64_t p = tiles::tail_piece(static_cast<int>(T)); p >= 1; p /= 2) {
    const Hit has = [=](std::int64_t M) { return in(M) && ((M % T) & p) != 0; };
    const Hit after = [=](std::int64_t M) { return has(M) && M > T; };
    const std::string tile = "a tail tile of " + n(p) + (p == 1 ? " row" : " rows");
    if (reachable(after))
      add(out, path + ": " + tile + " after full tiles of " + n(T), after);
    else
      add(out, path + ": " + tile, has);
  }
}

// The avx512 set's classes; with amx, its GEMMs from kAmxMinRows on run AMX tiles instead of the
// panels, w4a4 and w4a16 alike (amx.cpp: tiles of kAmxTileM rows, the last one partial, its
// padding rows zero, taken in pairs and then one; w4a16 falls back to the panels only for
// activations too small to split, which random rows are not).
void avx512_classes(std::vector<RowClass>& c, bool amx) {
  using namespace tiles;
  tile_loop(c, "avx512 w4a4 rows kernel, " + n(kRowsWideRows) + " weight rows at a time", 1, std::min(kRowsWideMaxM, kW4a4PanelMinRows - 1),
            kRowsTileMWide);
  tile_loop(c, "avx512 w4a4 rows kernel, 2 and 1 weight rows at a time", kRowsWideMaxM + 1, kW4a4PanelMinRows - 1, kRowsTileM);
  static_assert(kAmxMinRows == kW4a4PanelMinRows, "amx takes over the w4a4 panels' range exactly");
  if (amx) {
    tile_loop(c, "amx tiles", kAmxMinRows, kMaxM, kAmxTileM);
    tile_loop(c, "amx pairs of tiles", kAmxMinRows, kMaxM, 2 * kAmxTileM);
  } else {
    panel_loop(c, "avx512 w4a4 panels", kW4a4PanelMinRows, kMaxM, kPanelW4a4TileM);
  }
  // One tile of all M rows, a function per M (avx512.cpp, kTiles[a.M]).
  for (std::int64_t r = 1; r < kW4a16PanelMinRows; ++r)
    add(c, "avx512 w4a16 lanes along K, a tile of " + n(r) + (r == 1 ? " row" : " rows"), [r](std::int64_t M) { return M == r; });
  panel_loop(c, "avx512 w4a16 panels", kW4a16PanelMinRows, amx ? kAmxMinRows - 1 : kMaxM, kPanelW4a16TileM);
}

std::vector<RowClass> classes(Isa isa) {
  using namespace tiles;
  std::vector<RowClass> c;
  switch (isa) {
    case Isa::Scalar:
      add(c, "scalar: a second activation row", [](std::int64_t M) { return M >= 2; });
      break;
    case Isa::Avx2:
      tile_loop(c, "avx2", 1, kMaxM, kAvx2TileM);
      for (std::int64_t r = 1; r < kAvx2TileM; ++r)
        add(c, "avx2: a tail of " + n(r) + (r == 1 ? " row" : " rows"), [r](std::int64_t M) { return M % kAvx2TileM == r; });
      break;
    case Isa::Avx512:
    case Isa::Amx:
      avx512_classes(c, isa == Isa::Amx);
      break;
  }
  return c;
}

}  // namespace

std::vector<std::string> row_classes(Isa isa, std::int64_t M) {
  std::vector<std::string> r;
  if (M < 1) return r;
  for (const auto& c : classes(isa))
    if (c.hit(M)) r.push_back(c.what);
  return r;
}

std::vector<std::string> all_row_classes(Isa isa) {
  std::vector<std::string> r;
  for (const auto& c : classes(isa)) r.push_back(c.what);
  return r;
}

std::vector<PathRows> path_rows(Isa isa) {
  // The cheapest cover, exactly: a search over the sets of classes covered so far (a handful of
  // classes, so a few hundred states), each reached by its cheapest set of M.
  const std::vector<RowClass> c = classes(isa);
  const std::size_t states = std::size_t{1} << c.size();
  std::vector<std::uint32_t> cover(static_cast<std::size_t>(kMaxM) + 1, 0);
  for (std::int64_t M = 1; M <= kMaxM; ++M)
    for (std::size_t i = 0; i < c.size(); ++i)
      if (c[i].hit(M)) cover[static_cast<std::size_t>(M)] |= 1u << i;
  struct Best {
    bool ok = false;
    std::int64_t rows = 0;
    std::vector<std::int64_t> ms;  // ascending
  };
  auto better = [](const Best& a, const Best& b) {
    return !b.ok || std::make_tuple(a.rows, a.ms.size(), a.ms) < std::make_tuple(b.rows, b.ms.size(), b.ms);
  };
  std::vector<Best> best(states);
  best[0].ok = true;
  // Adding an M only adds classes, so every state is final before any larger one is read.
  for (std::size_t s = 0; s < states; ++s) {
    if (!best[s].ok) continue;
    for (std::int64_t M = 1; M <= kMaxM; ++M) {
      const std::size_t t = s | cover[static_cast<std::size_t>(M)];
      if (t == s) continue;
      Best b = best[s];
      b.rows += M;
      b.ms.insert(std::upper_bound(b.ms.begin(), b.ms.end(), M), M);
      if (better(b, best[t])) best[t] = std::move(b);
    }
  }
  std::vector<PathRows> r;
  for (std::int64_t M : best[states - 1].ms) r.push_back({M, row_classes(isa, M)});
  return r;
}

}  // namespace nvfp4::opt

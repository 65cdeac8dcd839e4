// verify's default activation row counts (optimized/kernels/path_rows.h), worked out by hand from
// the loops of each kernel set, so that a change of a tile size or of the search shows here.
#include "optimized/kernels/path_rows.h"

#include <gtest/gtest.h>

#include <set>

namespace nvfp4::opt {
namespace {

std::vector<std::int64_t> ms(Isa isa) {
  std::vector<std::int64_t> r;
  for (const auto& p : path_rows(isa)) r.push_back(p.M);
  return r;
}

TEST(PathRows, HandWorkedSetsPerKernelSet) {
  // scalar: one pass per activation row; only a second row shows a row-offset fault.
  EXPECT_EQ(ms(Isa::Scalar), (std::vector<std::int64_t>{2}));
  // avx2, tiles of 4 rows then a tail function per remainder 1..3: M = 1 (tail 1), 2 (tail 2),
  // 7 (a full tile, then tail 3): 10 rows. Any cover needs remainders 1, 2 and 3 and an M > 4;
  // {5, 6, 7} costs more, {1, 3, 6} as much (the tie goes to the smaller M first).
  EXPECT_EQ(ms(Isa::Avx2), (std::vector<std::int64_t>{1, 2, 7}));
  // avx512: the rows kernel four weight rows at a time for M <= 2 (tiles of 2: M = 1 partial,
  // M = 2 full); two and one weight rows for M 3..15 (tiles of 8: a full tile then a partial one
  // needs M in 9..15, cheapest 9); w4a4 panels from 16 (tiles of 4, a half tile of 2, single
  // rows: M % 4 == 3, cheapest 19); w4a16 lanes along K below 4, a function per M (1, 2 and 3
  // each) and panels from 4 (tiles of 12, a half tile of 6, then singles: M % 12 in 7..11, and
  // 19 % 12 = 7).
  EXPECT_EQ(ms(Isa::Avx512), (std::vector<std::int64_t>{1, 2, 3, 9, 19}));
  // amx: the same below 16; from 16 on both modes run AMX tiles of 16 rows in pairs (a full pair,
  // then a partial one: M > 32 off a multiple of 32, which also is a full tile and then a partial
  // one): 33. The w4a16 panels keep M 4..15, too few for all three of their tile kinds in one
  // GEMM: a full tile of 12 (12..15), a half tile of 6 (M % 12 >= 6: 6..11), single rows (4, 5,
  // 7..11, 13..15). 13 brings the full tile with single rows and the rows kernel's full tile of 8
  // and partial one; 6 the half tile (the cheapest: 9 would do it too).
  EXPECT_EQ(ms(Isa::Amx), (std::vector<std::int64_t>{1, 2, 3, 6, 13, 33}));
}

TEST(PathRows, EveryClassReachedAndNoMSpare) {
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Amx}) {
    SCOPED_TRACE(isa_name(isa));
    const auto all = all_row_classes(isa);
    ASSERT_FALSE(all.empty());
    const auto set = path_rows(isa);
    std::set<std::string> reached;
    for (const auto& p : set) reached.insert(p.reaches.begin(), p.reaches.end());
    EXPECT_EQ(reached, std::set<std::string>(all.begin(), all.end()));
    // Without any one of its M, some class goes unreached.
    for (std::size_t drop = 0; drop < set.size(); ++drop) {
      std::set<std::string> rest;
      for (std::size_t i = 0; i < set.size(); ++i)
        if (i != drop) rest.insert(set[i].reaches.begin(), set[i].reaches.end());
      EXPECT_LT(rest.size(), reached.size()) << "M = " << set[drop].M << " adds nothing";
    }
  }
}

TEST(PathRows, ClassesOfSingleRowCounts) {
  // M = 9 on avx512: the rows kernel's second tile of 8 (rows 8..8 after 0..7), and nothing of
  // w4a16 (past its lanes, short of a full panel tile of 12).
  EXPECT_EQ(row_classes(Isa::Avx512, 9),
            (std::vector<std::string>{"avx512 w4a4 rows kernel, 2 and 1 weight rows at a time: a full tile of 8 rows, then a partial one"}));
  EXPECT_TRUE(row_classes(Isa::Avx512, 0).empty());
  EXPECT_EQ(row_classes(Isa::Amx, 17), (std::vector<std::string>{"amx tiles: a full tile of 16 rows, then a partial one"}));
  EXPECT_EQ(row_classes(Isa::Amx, 33), (std::vector<std::string>{"amx tiles: a full tile of 16 rows, then a partial one",
                                                                  "amx pairs of tiles: a full tile of 32 rows, then a partial one"}));
  EXPECT_TRUE(row_classes(Isa::Amx, 16).empty()) << "16: one whole AMX tile, short of a w4a16 half tile after a full one";
  EXPECT_TRUE(row_classes(Isa::Avx512, 16).empty()) << "16: whole tiles of 4, short of a w4a16 half tile after a full one";
  EXPECT_EQ(row_classes(Isa::Avx2, 4), (std::vector<std::string>{})) << "one full tile, no tail";
}

}  // namespace
}  // namespace nvfp4::opt

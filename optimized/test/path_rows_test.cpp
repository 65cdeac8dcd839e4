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
  // needs M in 9..15, cheapest 9); w4a16 lanes along K below 4, a function per M (1, 2 and 3
  // each). The panels: w4a4 from 16, tiles of 4, then tail tiles of 2 and 1 after them (M % 4 == 3,
  // M >= 16); w4a16 from 4, tiles of 12, then tail tiles of 8, 4, 2, 1 (the rest's binary digits)
  // after them: 12 + 11 = 23 has 8, 2 and 1 (and 23 % 4 == 3 the w4a4 tails), and 4 needs a rest
  // of 4..7 after a full tile: 16 (12 + 4, also a full w4a4 tile). Any cover needs M >= 20 for the
  // tail of 8 after a full tile and another M for the tail of 4 (no rest under 12 has both): 16 and
  // 23 are the cheapest such pair that also holds the w4a4 tails (19 + 20 costs as much; the tie
  // goes to the smaller M first). 9 stays: nothing from 16 on reaches the rows kernel.
  EXPECT_EQ(ms(Isa::Avx512), (std::vector<std::int64_t>{1, 2, 3, 9, 16, 23}));
  // amx: the same below 16; from 16 on both modes run AMX tiles of 16 rows in pairs (a full pair,
  // then a partial one: M > 32 off a multiple of 32, which also is a full tile and then a partial
  // one): 33. The w4a16 panels keep M 4..15: a full tile of 12 (12..15) with tails of 2 and 1 after
  // it (15 = 12 + 2 + 1, which also is the rows kernel's full tile of 8 and a partial one); the
  // tails of 8 and of 4 cannot follow a full tile under 16, so each alone: 8 (8..11) and 4 (4..7),
  // no M with both.
  EXPECT_EQ(ms(Isa::Amx), (std::vector<std::int64_t>{1, 2, 3, 4, 8, 15, 33}));
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
  EXPECT_TRUE(row_classes(Isa::Amx, 16).empty()) << "16: one whole AMX tile";
  EXPECT_EQ(row_classes(Isa::Avx512, 16), (std::vector<std::string>{"avx512 w4a4 panels: a full tile of 4 rows", "avx512 w4a16 panels: a full tile of 12 rows",
                                                                    "avx512 w4a16 panels: a tail tile of 4 rows after full tiles of 12"}))
      << "16: whole tiles of 4; 12 + a tail of 4";
  EXPECT_EQ(row_classes(Isa::Amx, 8), (std::vector<std::string>{"avx512 w4a16 panels: a tail tile of 8 rows"}))
      << "8: the rows kernel's one full tile of 8 (no partial one after it); the w4a16 panels' tail of 8 alone";
  EXPECT_EQ(row_classes(Isa::Avx2, 4), (std::vector<std::string>{})) << "one full tile, no tail";
}

}  // namespace
}  // namespace nvfp4::opt

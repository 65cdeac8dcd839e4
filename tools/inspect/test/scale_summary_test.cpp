// inspect's per-module scale summaries on a checkpoint the generator wrote (`nvfp4 inspect` end to
// end: tools/test/inspect_test.cpp).
#include <gtest/gtest.h>

#include <algorithm>

#include "core/checkpoint.h"
#include "core/module_map.h"
#include "core/test/temp_dir.h"
#include "generator/checkpoint_writer.h"
#include "generator/test/small_model.h"
#include "tools/inspect/scale_summary.h"

namespace nvfp4 {
namespace {

TEST(ScaleSummary, AmaxIsTheQuantizersAndEveryBlockIsCounted) {
  // ModelOpt's export sets s2 = amax / (6 * 448), so the block holding a weight's amax gets scale
  // 448 and the element itself code 6: the dequantized maximum is 6 * 448 * s2 exactly (a fused
  // group shares one amax, hence one s2, when the shard scales are equal).
  TempDir d;
  write_checkpoint(d.path(), generate_checkpoint(small_model()), 1);
  const Checkpoint c = Checkpoint::open(d.path());
  const ModelSpec spec = map_modules(c);
  const auto sums = scale_summaries(c, spec);
  ASSERT_EQ(sums.size(), spec.linears.size() + spec.experts.size());
  for (std::size_t i = 0; i < spec.linears.size(); ++i) {
    const auto& l = spec.linears[i];
    double s2 = 0;
    for (const auto& p : l.prefixes) s2 = std::max(s2, static_cast<double>(c.tensor(p + ".weight_scale_2").get_f32(0)));
    EXPECT_EQ(sums[i].module, l.name);
    EXPECT_EQ(sums[i].amax, 2688.0 * s2) << l.name;
    EXPECT_EQ(sums[i].blocks, l.N() * l.K / 16) << l.name;
    std::int64_t total = 0;
    for (auto n : sums[i].exponents) total += n;
    EXPECT_EQ(total, sums[i].blocks) << l.name;
    EXPECT_GT(sums[i].exponents[15], 0) << "the amax block's 448 is in the top binade: " << l.name;
  }
}

TEST(ScaleSummary, HistogramGlyphs) {
  // 9 levels by share of the largest bucket: v * 9 - 1 over the top, floored.
  std::array<std::int64_t, 16> h{};
  h[1] = 1, h[2] = 9, h[3] = 10, h[4] = 50, h[5] = 100, h[15] = 12;
  // by hand: 0 -> ' ', 1, 9, 10 -> 8/100, 80/100, 89/100 = 0 '.', 50 -> 449/100 = 4 '+', 100 -> 8 '@',
  // nine empty, 12 -> 107/100 = 1 ':'
  EXPECT_EQ(histogram_glyphs(h), " ...+@         :");
  EXPECT_EQ(histogram_glyphs({}), std::string(16, ' '));
}

}  // namespace
}  // namespace nvfp4

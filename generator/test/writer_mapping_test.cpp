// The writer's names and shapes as module mapping reads them: every layout it writes maps to the
// modules it meant (module mapping on hand-written names: core/test/module_map_test.cpp).
#include <gtest/gtest.h>

#include <algorithm>

#include "core/checkpoint.h"
#include "core/module_map.h"
#include "core/test/temp_dir.h"
#include "generator/checkpoint_writer.h"
#include "generator/test/small_model.h"

namespace nvfp4 {
namespace {

TEST(WriterMapping, UnfusedModelOptMapsShardsAndGqaSizes) {
  TempDir d;
  WriterOptions o = small_model();
  write_checkpoint(d.path(), generate_checkpoint(o), 1);
  Checkpoint c = Checkpoint::open(d.path());
  ModelSpec s = map_modules(c);
  EXPECT_EQ(s.format, CkptFormat::ModelOpt);
  ASSERT_EQ(s.linears.size(), 4u);
  const LinearSpec& qkv = s.linears[3];
  EXPECT_EQ(qkv.name, "model.layers.0.self_attn.qkv_proj");
  EXPECT_EQ(qkv.shard_ids, (std::vector<std::string>{"q", "k", "v"}));
  EXPECT_EQ(qkv.shard_rows, (std::vector<std::int64_t>{64, 32, 32}));  // 4 heads, 2 kv heads, dim 16
  EXPECT_FALSE(qkv.fused_on_disk);
  const LinearSpec& gu = s.linears[1];
  EXPECT_EQ(gu.name, "model.layers.0.mlp.gate_up_proj");
  EXPECT_EQ(gu.shard_rows, (std::vector<std::int64_t>{96, 96}));
  EXPECT_EQ(gu.prefixes[0], "model.layers.0.mlp.gate_proj");
  EXPECT_TRUE(std::find(s.passthrough.begin(), s.passthrough.end(), "lm_head.weight") != s.passthrough.end());
}

TEST(WriterMapping, FusedCompressedTensorsShardedMapsWholeTensors) {
  TempDir d;
  WriterOptions o = small_model();
  o.fused = true;
  o.format = CkptFormat::CompressedTensors;
  write_checkpoint(d.path(), generate_checkpoint(o), 3);
  Checkpoint c = Checkpoint::open(d.path());
  EXPECT_EQ(c.file_count(), 3u);
  ModelSpec s = map_modules(c);
  EXPECT_EQ(s.format, CkptFormat::CompressedTensors);
  const LinearSpec& qkv = s.linears[3];
  EXPECT_TRUE(qkv.fused_on_disk);
  EXPECT_EQ(qkv.prefixes, (std::vector<std::string>{"model.layers.0.self_attn.qkv_proj"}));
  EXPECT_EQ(qkv.shard_rows, (std::vector<std::int64_t>{64, 32, 32}));  // split by config.json
}

TEST(WriterMapping, ExpertsGroupW1W3W2) {
  TempDir d;
  WriterOptions o = small_model();
  o.experts = 3;
  write_checkpoint(d.path(), generate_checkpoint(o), 2);
  ModelSpec s = map_modules(Checkpoint::open(d.path()));
  ASSERT_EQ(s.experts.size(), 1u);
  EXPECT_EQ(s.experts[0].name, "model.layers.0.mlp.experts");
  EXPECT_EQ(s.experts[0].E, 3);
  EXPECT_EQ(s.experts[0].H, 64);
  EXPECT_EQ(s.experts[0].I, 96);
  EXPECT_EQ(s.experts[0].prefixes[2][ExpertRole::Down], "model.layers.0.mlp.experts.2.down_proj");
}

}  // namespace
}  // namespace nvfp4

// The reference pipeline on generated checkpoints: parameter names and shapes, per-slot fill,
// format conversion, transactional reload and the trtllm shape guard.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "checks/state.h"
#include "core/test/temp_dir.h"
#include "generator/checkpoint_writer.h"
#include "generator/test/small_model.h"
#include "reference/loading.h"
#include "reference/reference_pipeline.h"

namespace nvfp4::ref {
namespace {

WriterOptions small() {
  WriterOptions o = small_model();
  o.intermediate = 32;
  return o;
}

ReferencePipeline loaded(const std::filesystem::path& d, Backend b = Backend::Cutlass) {
  ReferencePipeline p;
  p.load_weights(Checkpoint::open(d));
  p.process_weights_after_loading(b);
  return p;
}

TEST(ReferencePipeline, LinearParameterNamesAndShapes) {
  TempDir d;
  write_checkpoint(d.path(), generate_checkpoint(small()), 1);
  ReferencePipeline p = loaded(d.path());
  const Module& qkv = p.modules().at("model.layers.0.self_attn.qkv_proj");
  EXPECT_EQ(qkv.names(), (std::vector<std::string>{"weight", "weight_scale", "weight_scale_2", "input_scale", "alpha",
                                                   "input_scale_inv", "weight_global_scale", "weight_scale_interleaved"}));
  EXPECT_EQ(qkv.tensor("weight").shape(), (Shape{128, 32}));           // q 64 + k 32 + v 32 rows, K/2
  EXPECT_EQ(qkv.tensor("weight_scale_2").shape(), (Shape{3}));         // one slot per shard
  EXPECT_EQ(qkv.tensor("weight_scale_interleaved").shape(), (Shape{128, 4}));
  EXPECT_EQ(qkv.tensor("alpha").shape(), (Shape{}));
  // N = 128 and Kb = 4 need no padding: the name weight_scale reads the swizzled bytes too.
  EXPECT_TRUE(qkv.tensor("weight_scale").bitwise_equal(qkv.tensor("weight_scale_interleaved")));
  const Module& down = p.modules().at("model.layers.0.mlp.down_proj");
  EXPECT_EQ(down.tensor("weight_scale_interleaved").shape(), (Shape{128, 4}));  // N = 64 padded to 128, Kb 2 -> 4
  EXPECT_EQ(down.tensor("weight_scale").shape(), (Shape{64, 2}));               // the loaded scales, kept
  float alpha = get_f32(qkv.tensor("alpha"), 0);
  float in = get_f32(qkv.tensor("input_scale"), 0), s2 = get_f32(qkv.tensor("weight_scale_2"), 0);
  EXPECT_EQ(alpha, in * s2);
  EXPECT_EQ(get_f32(qkv.tensor("input_scale_inv"), 0), 1.0f / in);
}

TEST(ReferencePipeline, FusedOnDiskScalarFillsEverySlot) {
  TempDir d;
  WriterOptions o = small();
  o.fused = true;
  GeneratedCheckpoint g = generate_checkpoint(o);
  write_checkpoint(d.path(), g, 1);
  ReferencePipeline p;
  p.load_weights(Checkpoint::open(d.path()));  // before processing: the loaded parameters
  const Module& gu = p.modules().at("model.layers.0.mlp.gate_up_proj");
  float stored = g.tensors.at("model.layers.0.mlp.gate_up_proj.weight_scale_2").get_f32(0);
  for (int slot = 0; slot < 2; ++slot) {
    EXPECT_EQ(get_f32(gu.tensor("weight_scale_2"), slot), stored) << "slot " << slot;
    EXPECT_FALSE(std::isnan(get_f32(gu.tensor("input_scale"), slot))) << "slot " << slot << " left as poison";
  }
}

TEST(ReferencePipeline, CompressedTensorsLoadIntoModelOptNames) {
  TempDir a, b;
  WriterOptions o = small();
  write_checkpoint(a.path(), generate_checkpoint(o), 1);
  o.format = CkptFormat::CompressedTensors;
  write_checkpoint(b.path(), generate_checkpoint(o), 2);
  ReferencePipeline mo = loaded(a.path()), ct = loaded(b.path());
  for (const auto& [name, m] : mo.modules()) {
    const Module& n = ct.modules().at(name);
    EXPECT_EQ(m.names(), n.names()) << name;
    EXPECT_TRUE(m.tensor(m.has("weight") ? "weight" : "w13_weight").bitwise_equal(n.tensor(n.has("weight") ? "weight" : "w13_weight")));
    // The encode scale was written as f32(1/s2) and is read back as f32(1/that): within one ulp.
    float x = get_f32(m.tensor("weight_scale_2"), 0), y = get_f32(n.tensor("weight_scale_2"), 0);
    EXPECT_LE(std::fabs(x - y), std::ldexp(std::fabs(x), -23)) << name;
  }
}

void expect_same(const State& a, const State& b) {
  EXPECT_EQ(first_difference(a, b, Same::Identities, "before", "after the failed reload"), "");
}

TEST(ReferencePipeline, FailedReloadLeavesEverythingAsItWas) {
  TempDir good, bad;
  WriterOptions o = small();
  o.experts = 2;
  write_checkpoint(good.path(), generate_checkpoint(o), 2);
  ReferencePipeline p = loaded(good.path());
  State before = capture(p);
  o.seed = 7;  // different weights, same shapes
  GeneratedCheckpoint g = generate_checkpoint(o);
  Tensor& s = g.tensors.at("model.layers.0.mlp.experts.1.down_proj.weight_scale");
  s = s.clone();
  s.data()[3] = 0x7F;  // a NaN block scale in the last expert, so everything before it loaded fine
  write_checkpoint(bad.path(), g, 2);
  EXPECT_THROW(p.update_weights_from_disk(Checkpoint::open(bad.path())), Error);
  expect_same(before, capture(p));
  // A checkpoint of other shapes is refused the same way.
  TempDir other;
  o.intermediate = 48;
  write_checkpoint(other.path(), generate_checkpoint(o), 1);
  EXPECT_THROW(p.update_weights_from_disk(Checkpoint::open(other.path())), Error);
  expect_same(before, capture(p));
}

TEST(ReferencePipeline, ReloadAcrossLayoutsUpdatesTheSpec) {
  TempDir unfused, fused;
  WriterOptions o = small();
  write_checkpoint(unfused.path(), generate_checkpoint(o), 1);
  o.fused = true;
  write_checkpoint(fused.path(), generate_checkpoint(o), 1);
  ReferencePipeline p = loaded(unfused.path());
  p.update_weights_from_disk(Checkpoint::open(fused.path()));
  for (const auto& l : p.spec().linears)
    EXPECT_EQ(l.fused_on_disk, l.name.ends_with("qkv_proj") || l.name.ends_with("gate_up_proj")) << l.name;
  EXPECT_EQ(first_difference(capture(loaded(fused.path())), capture(p), Same::Bytes, "cold fused", "unfused -> fused"), "");
}

TEST(ReferencePipeline, TrtllmNeedsHiddenMultipleOf64) {
  TempDir d;
  WriterOptions o = small();
  o.hidden = 48;
  o.experts = 1;
  write_checkpoint(d.path(), generate_checkpoint(o), 1);
  ReferencePipeline p;
  p.load_weights(Checkpoint::open(d.path()));
  try {
    p.process_weights_after_loading(Backend::Trtllm);
    FAIL() << "accepted H = 48";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("multiple of 64"), std::string::npos) << e.what();
  }
}

TEST(Coverage, UnloadedOrTwiceLoadedSlotsAreErrors) {
  Coverage c;
  c.expect("input_scale", 3);
  c.mark("input_scale", 0, 1);
  c.mark("input_scale", 2, 1);
  EXPECT_THROW(c.verify("m"), Error);
  c.mark("input_scale", 1, 2);
  try {
    c.verify("m");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("slot/row 2 was loaded 2 times"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace nvfp4::ref

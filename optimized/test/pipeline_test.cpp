// The optimized pipeline on generated checkpoints: names, shapes and aliases, per-slot fill,
// processing once per load, the backend it was built for, and the counted memory contract
// (everything allocated at create_weights, nothing on a reload, storage addresses kept).
#include <gtest/gtest.h>

#include <cmath>
#include <atomic>
#include <cstring>
#include <thread>

#include "core/allocator.h"
#include "core/error.h"
#include "checks/state.h"
#include "core/test/temp_dir.h"
#include "generator/checkpoint_writer.h"
#include "generator/test/small_model.h"
#include "optimized/optimized_pipeline.h"

namespace nvfp4::opt {
namespace {

WriterOptions moe() {
  WriterOptions o = small_model();
  o.intermediate = 80;  // trtllm pads I to 128; 2I = 160 is not a multiple of 128 either
  o.experts = 3;
  return o;
}

float f32(const Tensor& t, std::int64_t i) {
  float v;
  std::memcpy(&v, t.data() + 4 * i, 4);
  return v;
}

TEST(OptimizedPipeline, NamesShapesAndAliasesAfterProcessing) {
  TempDir d;
  write_checkpoint(d.path(), generate_checkpoint(moe()), 1);
  for (Backend b : {Backend::Cutlass, Backend::Trtllm}) {
    OptimizedPipeline p(b);
    p.load_weights(Checkpoint::open(d.path()));
    p.process_weights_after_loading(b);
    const Module& qkv = p.modules().at("model.layers.0.self_attn.qkv_proj");
    EXPECT_EQ(qkv.names(), (std::vector<std::string>{"weight", "weight_scale", "weight_scale_2", "input_scale", "alpha",
                                                     "input_scale_inv", "weight_global_scale", "weight_scale_interleaved"}));
    EXPECT_EQ(qkv.alias_of("weight_scale_interleaved"), "weight_scale");  // N = 128, K/16 = 4: swizzled in place
    const Module& o = p.modules().at("model.layers.0.self_attn.o_proj");
    EXPECT_EQ(o.alias_of("weight_scale_interleaved"), "");                 // N = 64 pads to 128: its own
    EXPECT_EQ(o.tensor("weight_scale_interleaved").shape(), (Shape{128, 4}));
    EXPECT_EQ(o.tensor("weight_scale").shape(), (Shape{64, 4}));
    const Module& x = p.modules().at("model.layers.0.mlp.experts");
    EXPECT_EQ(x.alias_of("w13_blockscale_swizzled"), b == Backend::Trtllm ? "w13_weight_scale" : "");
    if (b == Backend::Trtllm) {
      EXPECT_EQ(x.tensor("w13_weight").shape(), (Shape{3, 256, 32}));  // 2 * roundup(80, 64) rows
      EXPECT_EQ(x.tensor("w2_weight").shape(), (Shape{3, 64, 64}));    // K padded to 128
      EXPECT_EQ(x.tensor("w2_weight_scale").shape(), (Shape{3, 128, 8}));  // H = 64 rows pad to 128 in the 128x4 layout
      EXPECT_TRUE(x.has("g1_scale_c"));
    } else {
      EXPECT_EQ(x.tensor("w13_blockscale_swizzled").shape(), (Shape{3, 256, 4}));
      EXPECT_FALSE(x.has("g1_scale_c"));
    }
    const float in = f32(qkv.tensor("input_scale"), 0), s2 = f32(qkv.tensor("weight_scale_2"), 0);
    EXPECT_EQ(f32(qkv.tensor("alpha"), 0), in * s2);
    EXPECT_EQ(f32(qkv.tensor("input_scale_inv"), 0), 1.0f / in);
  }
}

TEST(OptimizedPipeline, FusedOnDiskScalarFillsEverySlot) {
  TempDir d;
  WriterOptions o = small_model();
  o.fused = true;
  GeneratedCheckpoint g = generate_checkpoint(o);
  write_checkpoint(d.path(), g, 1);
  OptimizedPipeline p(Backend::Cutlass);
  p.load_weights(Checkpoint::open(d.path()));  // loaded, not processed
  const Module& qkv = p.modules().at("model.layers.0.self_attn.qkv_proj");
  const float s2 = g.tensors.at("model.layers.0.self_attn.qkv_proj.weight_scale_2").get_f32(0);
  const float in = g.tensors.at("model.layers.0.self_attn.qkv_proj.input_scale").get_f32(0);
  for (int slot = 0; slot < 3; ++slot) {
    EXPECT_EQ(f32(qkv.tensor("weight_scale_2"), slot), s2) << "slot " << slot;
    EXPECT_EQ(f32(qkv.tensor("input_scale"), slot), in) << "slot " << slot << " (0xFF poison reads as NaN)";
  }
}

TEST(OptimizedPipeline, BuiltForOneBackendAndProcessedOncePerLoad) {
  TempDir d;
  write_checkpoint(d.path(), generate_checkpoint(moe()), 1);
  OptimizedPipeline p(Backend::Trtllm);
  EXPECT_THROW(p.process_weights_after_loading(Backend::Trtllm), Error) << "before load_weights";
  p.load_weights(Checkpoint::open(d.path()));
  try {
    p.process_weights_after_loading(Backend::Cutlass);
    FAIL() << "processed for a backend it did not size its buffers for";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_NE(std::string(e.what()).find("sized its buffers for trtllm"), std::string::npos) << e.what();
  }
  p.process_weights_after_loading(Backend::Trtllm);
  State once = capture(p);
  p.process_weights_after_loading(Backend::Trtllm);  // in-place results are never processed twice
  EXPECT_EQ(first_difference(once, capture(p), Same::Addresses, "processed once", "processed twice"), "");
}

TEST(OptimizedPipeline, TrtllmRefusesAHiddenSizeOffSixtyFourBeforeAllocating) {
  TempDir d;
  WriterOptions o = moe();
  o.hidden = 48;
  write_checkpoint(d.path(), generate_checkpoint(o), 1);
  OptimizedPipeline p(Backend::Trtllm);
  TrackingAllocator::global().reset();
  try {
    p.load_weights(Checkpoint::open(d.path()));
    FAIL() << "accepted H = 48";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("multiple of 64"), std::string::npos) << e.what();
  }
  EXPECT_EQ(TrackingAllocator::global().stats().alloc_count, 0);
  EXPECT_TRUE(p.modules().empty());
}

// Counted, exact: the first load and processing allocate exactly what stays resident (no
// temporaries); a reload, to other weights and back, allocates nothing and moves nothing.
TEST(OptimizedPipeline, MemoryContractAndZeroAllocationReload) {
  TempDir a, b;
  WriterOptions o = moe();
  o.files = 2;
  write_checkpoint(a.path(), generate_checkpoint(o), 2);
  o.seed = 5;
  o.unequal_scales = true;
  write_checkpoint(b.path(), generate_checkpoint(o), 1);
  for (Backend be : {Backend::Cutlass, Backend::Trtllm}) {
    SCOPED_TRACE(backend_name(be));
    auto& alloc = TrackingAllocator::global();
    OptimizedPipeline p(be);
    const Checkpoint ca = Checkpoint::open(a.path()), cb = Checkpoint::open(b.path());
    alloc.reset();
    const AllocStats start = alloc.stats();
    p.load_weights(ca);
    p.process_weights_after_loading(be);
    const AllocStats loaded = alloc.stats();
    EXPECT_EQ(loaded.alloc_bytes, p.resident_bytes()) << "allocated during load + processing vs resident";
    EXPECT_EQ(loaded.live_bytes - start.live_bytes, p.resident_bytes());
    EXPECT_LE(loaded.peak_bytes - start.live_bytes, p.resident_bytes() + p.scratch_bytes());
    EXPECT_GT(p.scratch_bytes(), 0);

    State before = capture(p);
    alloc.reset();
    p.update_weights_from_disk(cb);
    AllocStats reload = alloc.stats();
    EXPECT_EQ(reload.alloc_count, 0);
    EXPECT_EQ(reload.alloc_bytes, 0);
    State after_b = capture(p);
    for (const auto& [name, s] : before) {
      EXPECT_EQ(after_b.at(name).identity, s.identity) << name;
      EXPECT_EQ(after_b.at(name).address, s.address) << name;
    }
    EXPECT_NE(first_difference(before, after_b, Same::Bytes, "A", "B"), "") << "B has other weights";
    alloc.reset();
    p.update_weights_from_disk(ca);
    reload = alloc.stats();
    EXPECT_EQ(reload.alloc_count, 0);
    EXPECT_EQ(first_difference(before, capture(p), Same::Addresses, "A", "A -> B -> A"), "");
  }
}

TEST(OptimizedPipeline, ConcurrentGemmsEqualOneAtATime) {
  // verify multiplies modules from several threads at once; the kernels' shared thread pool once let
  // a second caller overwrite the running job (NaN outputs). Four threads, each a different module
  // and mode, many times over: every result equals the same GEMM run alone.
  TempDir d;
  WriterOptions o = small_model();
  o.hidden = 512;
  o.intermediate = 1024;
  write_checkpoint(d.path(), generate_checkpoint(o), 1);
  OptimizedPipeline p(Backend::Cutlass);
  p.load_weights(Checkpoint::open(d.path()));
  p.process_weights_after_loading(Backend::Cutlass);
  const std::vector<std::pair<std::string, std::int64_t>> targets = {{"model.layers.0.mlp.gate_up_proj", 512},
                                                                     {"model.layers.0.mlp.down_proj", 1024},
                                                                     {"model.layers.0.self_attn.qkv_proj", 512},
                                                                     {"model.layers.0.self_attn.o_proj", 512}};
  std::vector<Tensor> xs, alone;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    Tensor x = Tensor::empty(DType::F32, {3, targets[i].second});
    for (std::int64_t k = 0; k < x.numel(); ++k) x.data_as<float>()[k] = std::sin(static_cast<float>(k * (i + 1)));
    xs.push_back(x);
    alone.push_back(p.gemm({targets[i].first, -1, ""}, x, i % 2 ? GemmMode::W4A4 : GemmMode::W4A16));
  }
  std::atomic<int> differ{0};
  std::vector<std::thread> ts;
  for (std::size_t i = 0; i < targets.size(); ++i)
    ts.emplace_back([&, i] {
      for (int r = 0; r < 50; ++r)
        if (!p.gemm({targets[i].first, -1, ""}, xs[i], i % 2 ? GemmMode::W4A4 : GemmMode::W4A16).bitwise_equal(alone[i])) ++differ;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(differ.load(), 0);
}

}  // namespace
}  // namespace nvfp4::opt

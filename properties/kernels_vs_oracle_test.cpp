// Every kernel path against the reference's exact oracle, on processed pipelines: K with every
// tail (K % 64 = 16, 32, 48, 0; K = 16 * prime), M = 1, 3, 17, N off every tile, inputs at
// misaligned addresses, all three activation dtypes, both modes and backends, expert w13 and w2
// (trtllm's shuffled rows un-permuted); each GEMM is counted on the path that was forced. And
// NaN/Inf activations: refused in both modes with the reference's error.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "checks/gemm_vs_oracle.h"
#include "generator/checkpoint_writer.h"
#include "generator/encoders.h"
#include "core/error.h"
#include "generator/rng.h"
#include "generator/test/small_model.h"
#include "core/module_map.h"
#include "core/test/temp_dir.h"
#include "optimized/kernels/dispatch.h"
#include "optimized/optimized_pipeline.h"
#include "reference/gemm.h"
#include "reference/reference_pipeline.h"

namespace nvfp4 {
namespace {

// x [M, K] of dtype d at a storage offset that misaligns it by `skew` elements.
Tensor input(DType d, std::int64_t M, std::int64_t K, std::uint64_t seed, std::int64_t skew) {
  const std::size_t es = static_cast<std::size_t>(dtype_bits(d) / 8);
  auto storage = Storage::allocate(static_cast<std::size_t>(M * K + skew) * es);
  Tensor x = Tensor::external(d, {M, K}, storage, static_cast<std::size_t>(skew) * es);
  Rng r(seed);
  for (std::int64_t i = 0; i < M * K; ++i) {
    const float v = static_cast<float>(r.normal() * (i % 7 == 0 ? 30.0 : 1.0));
    std::uint8_t* p = x.data() + static_cast<std::size_t>(i) * es;
    if (d == DType::F32) std::memcpy(p, &v, 4);
    else {
      const std::uint16_t h = d == DType::BF16 ? f32_to_bf16(v) : f32_to_f16(v);
      std::memcpy(p, &h, 2);
    }
  }
  return x;
}

struct Model { std::int64_t hidden, intermediate; int experts; Backend backend; };
void PrintTo(const Model& m, std::ostream* os) {
  *os << "H=" << m.hidden << " I=" << m.intermediate << " E=" << m.experts << " " << backend_name(m.backend);
}

class KernelsVsOracle : public ::testing::TestWithParam<Model> {};

TEST_P(KernelsVsOracle, EveryPathWithinTheBoundOnEveryProjection) {
  const Model md = GetParam();
  TempDir d;
  WriterOptions o = small_model();
  o.hidden = md.hidden;
  o.intermediate = md.intermediate;
  o.experts = md.experts;
  o.head_dim = 16;
  o.kv_heads = 1;
  o.unequal_scales = true;
  write_checkpoint(d.path(), generate_checkpoint(o), 1);
  ref::ReferencePipeline r;
  opt::OptimizedPipeline p(md.backend);
  for (Pipeline* q : std::initializer_list<Pipeline*>{&r, &p}) {
    q->load_weights(Checkpoint::open(d.path()));
    q->process_weights_after_loading(md.backend);
  }
  std::vector<GemmTarget> targets;
  for (const auto& l : r.spec().linears) targets.push_back({l.name, -1, ""});
  for (const auto& x : r.spec().experts) targets.insert(targets.end(), {{x.name, 0, "w13"}, {x.name, static_cast<int>(x.E - 1), "w2"}});
  int checked = 0;
  for (const GemmTarget& t : targets)
    for (GemmMode mode : {GemmMode::W4A16, GemmMode::W4A4})
      for (std::int64_t M : {1, 3, 17}) {
        const DType dt = M == 1 ? DType::F32 : M == 3 ? DType::BF16 : DType::F16;
        const auto ops = r.operands(t, mode);
        const Tensor x = input(dt, M, ops.w.K, static_cast<std::uint64_t>(M * 7919 + ops.w.K), M % 3);
        const Tensor exact = r.gemm(t, x, mode);
        const std::vector<double> mag = ref::gemm_abs_sum(x, ops.w, mode, ops.s);
        const double post = mode == GemmMode::W4A4 ? ops.s.alpha : ops.w.global_scale;
        for (opt::Isa isa : opt::available_isas()) {
          SCOPED_TRACE(std::string(opt::isa_name(isa)) + " " + gemm_mode_name(mode) + " " + t.module + " " + t.proj + " M=" +
                       std::to_string(M) + " K=" + std::to_string(ops.w.K));
          opt::ScopedIsa forced(isa);
          const std::uint64_t before = opt::kernel_hits(isa);
          const Tensor got = p.gemm(t, x, mode);
          EXPECT_EQ(opt::kernel_hits(isa), before + 1) << "the forced path did not run";
          const checks::KernelCheck kc = checks::check_kernel(exact, got, mag, mode, checks::gemm_arith(opt::isa_name(opt::active_isa())), ops.w.K, post);
          ASSERT_TRUE(kc.passed()) << kc.failure();
          ++checked;
        }
      }
  EXPECT_GE(checked, static_cast<int>(targets.size() * 6));
}

// hidden = 16 * prime (cutlass) exercises every K tail; trtllm needs hidden % 64 == 0.
INSTANTIATE_TEST_SUITE_P(Shapes, KernelsVsOracle,
                         ::testing::Values(Model{208, 80, 0, Backend::Cutlass}, Model{112, 48, 2, Backend::Cutlass},
                                           Model{48, 16, 1, Backend::Cutlass}, Model{192, 144, 3, Backend::Trtllm},
                                           Model{64, 16, 2, Backend::Trtllm}),
                         [](const auto& i) {
                           return "H" + std::to_string(i.param.hidden) + "_I" + std::to_string(i.param.intermediate) + "_E" +
                                  std::to_string(i.param.experts) + "_" + backend_name(i.param.backend);
                         });

// The panel kernels block K (512 at a time, packed into L1) and, for w4a4, the activation rows (as
// many as fit ~1 MiB of L2: 520 rows at K = 1136). K = 1136 = 16 * 71 gives two whole K blocks and
// a partial one ending mid 128-K chunk; M = 531 gives two row blocks, the second ending in a tile
// remainder of 3. The narrowest projection of that K keeps the exact oracle cheap.
TEST(KernelsVsOracle, PanelBlockingBoundaries) {
  TempDir d;
  WriterOptions o = small_model();
  o.hidden = 1136;
  o.intermediate = 16;
  o.head_dim = 16;
  o.kv_heads = 1;
  write_checkpoint(d.path(), generate_checkpoint(o), 1);
  ref::ReferencePipeline r;
  opt::OptimizedPipeline p(Backend::Cutlass);
  for (Pipeline* q : std::initializer_list<Pipeline*>{&r, &p}) {
    q->load_weights(Checkpoint::open(d.path()));
    q->process_weights_after_loading(Backend::Cutlass);
  }
  const LinearSpec* narrow = nullptr;
  for (const auto& l : r.spec().linears)
    if (l.K == o.hidden && (!narrow || l.N() < narrow->N())) narrow = &l;
  ASSERT_NE(narrow, nullptr);
  const GemmTarget t{narrow->name, -1, ""};
  const std::int64_t M = 531;
  for (GemmMode mode : {GemmMode::W4A16, GemmMode::W4A4}) {
    const auto ops = r.operands(t, mode);
    const Tensor x = input(DType::F32, M, ops.w.K, 71, 1);
    const Tensor exact = r.gemm(t, x, mode);
    const std::vector<double> mag = ref::gemm_abs_sum(x, ops.w, mode, ops.s);
    const double post = mode == GemmMode::W4A4 ? ops.s.alpha : ops.w.global_scale;
    for (opt::Isa isa : opt::available_isas()) {
      SCOPED_TRACE(std::string(opt::isa_name(isa)) + " " + gemm_mode_name(mode) + " " + t.module);
      opt::ScopedIsa forced(isa);
      const Tensor got = p.gemm(t, x, mode);
      const checks::KernelCheck kc = checks::check_kernel(exact, got, mag, mode, checks::gemm_arith(opt::isa_name(opt::active_isa())), ops.w.K, post);
      ASSERT_TRUE(kc.passed()) << kc.failure();
    }
  }
}

TEST(KernelsVsOracle, NonFiniteActivationsRefusedInBothModes) {
  TempDir d;
  write_checkpoint(d.path(), generate_checkpoint(small_model()), 1);
  ref::ReferencePipeline r;
  opt::OptimizedPipeline p(Backend::Cutlass);
  for (Pipeline* q : std::initializer_list<Pipeline*>{&r, &p}) {
    q->load_weights(Checkpoint::open(d.path()));
    q->process_weights_after_loading(Backend::Cutlass);
  }
  const GemmTarget t{"model.layers.0.self_attn.o_proj", -1, ""};
  Tensor x = input(DType::F32, 2, 64, 5, 0);
  x.data_as<float>()[3] = std::numeric_limits<float>::quiet_NaN();
  x.data_as<float>()[40] = INFINITY;
  x.data_as<float>()[64 + 17] = -INFINITY;
  // Refused in both modes by both pipelines with the same one-line error, on every path (w4a4's
  // saturating quantizer used to turn them into a finite, plausible product).
  for (opt::Isa isa : opt::available_isas()) {
    opt::ScopedIsa forced(isa);
    for (GemmMode mode : {GemmMode::W4A16, GemmMode::W4A4}) {
      std::string want, got;
      try { r.gemm(t, x, mode); } catch (const Error& e) { want = e.what(); }
      try { p.gemm(t, x, mode); } catch (const Error& e) { got = e.what(); }
      EXPECT_EQ(want, "x: holds a non-finite value at [0, 3] (NaN and Inf activations are refused in both modes)");
      EXPECT_EQ(got, want) << opt::isa_name(isa) << " " << gemm_mode_name(mode);
    }
  }
}

}  // namespace
}  // namespace nvfp4

// The optimized GEMM against the reference's exact oracle, on pipelines processed from generated
// checkpoints (so it reads real swizzled scales and, on trtllm, shuffled rows): every element
// within the bound derived next to the kernel (optimized/gemm.h). And the w4a4 activation codes
// against the reference's, on inputs aimed at rounding midpoints: the block scale is chosen first
// (a power of two, or an E4M3 tie), then the elements are solved for so that x * out_scale lands
// exactly on the E2M1 ties 0.25, 0.75, ..., 5.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>

#include "checks/gemm_vs_oracle.h"
#include "core/printable.h"
#include "core/test/temp_dir.h"
#include "generator/encoders.h"
#include "optimized/gemm.h"
#include "optimized/kernels/dispatch.h"
#include "optimized/optimized_pipeline.h"
#include "optimized/quantize_activation.h"
#include "properties/generators.h"
#include "reference/gemm.h"
#include "reference/quantize_activation.h"
#include "reference/reference_pipeline.h"

namespace nvfp4 {
namespace {

Tensor as_dtype(const std::vector<float>& v, DType d, std::int64_t M, std::int64_t K) {
  Tensor x = Tensor::empty(d, {M, K});
  for (std::int64_t i = 0; i < M * K; ++i) {
    const float f = v[static_cast<std::size_t>(i)];
    if (d == DType::F32) x.data_as<float>()[i] = f;
    else if (d == DType::BF16) x.data_as<std::uint16_t>()[i] = f32_to_bf16(f);
    else x.data_as<std::uint16_t>()[i] = f32_to_f16(f);
  }
  return x;
}

// One row block of 16 values aimed at midpoints for the global encode scale gs.
void midpoint_block(float* out, float gs) {
  static const float kTies[] = {0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5.0f, 0.5f, 6.0f, 0.0f};
  // S = e4m3(vmax * gs / 6): a power of two 2^a, or the E4M3 tie (1 + 1/16) 2^a.
  const int a = *gen::any_in(-6, 8);
  const bool scale_tie = *rc::gen::weightedElement<bool>({{1, true}, {3, false}});
  const float unit = std::ldexp(1.0f, a) / gs;  // x * out_scale == x / unit when S == 2^a
  const float vmax = 6.0f * (scale_tie ? 1.0625f : 1.0f) * unit;
  const int at = *gen::any_in(0, 16);
  for (int i = 0; i < 16; ++i) {
    const float t = kTies[*gen::any_in<std::size_t>(0, std::size(kTies))];
    out[i] = (*rc::gen::arbitrary<bool>() ? -1.0f : 1.0f) * (i == at ? vmax : t * unit);
  }
}

RC_GTEST_PROP(GemmPipelinesProps, ActivationCodesEqualTheReferencesAtMidpoints, ()) {
  const std::int64_t M = *gen::any_in(1, 4), K = 16 * *gen::any_in(1, 6);
  const bool pow2 = *rc::gen::arbitrary<bool>();
  const float gs = pow2 ? std::ldexp(1.0f, *gen::any_in(-8, 16)) : static_cast<float>(*gen::any_in(1, 1000000)) * 0.01f;
  std::vector<float> v(static_cast<std::size_t>(M * K));
  for (std::int64_t b = 0; b < M * K / 16; ++b) {
    const int kind = *gen::any_in(0, 8);
    float* blk = v.data() + 16 * b;
    if (kind < 5) midpoint_block(blk, gs);
    else
      for (int i = 0; i < 16; ++i) blk[i] = kind == 5 ? 0.0f : static_cast<float>(*gen::any_in(-100000, 100001)) * 1e-4f;
    if (kind == 7) blk[*gen::any_in(0, 16)] = *rc::gen::element(std::numeric_limits<float>::quiet_NaN(), INFINITY, -INFINITY);
  }
  RC_TAG(pow2 ? "gs power of two" : "gs arbitrary");
  const Tensor x = as_dtype(v, DType::F32, M, K);
  const ref::QuantizedActivation want = ref::quantize_activation(x, gs);
  std::vector<std::uint8_t> codes(static_cast<std::size_t>(K)), scales(static_cast<std::size_t>(K / 16));
  for (std::int64_t m = 0; m < M; ++m) {
    opt::quantize_activation_row(v.data() + m * K, K, gs, codes.data(), scales.data());
    for (std::int64_t k = 0; k < K; ++k) {
      const std::size_t i = static_cast<std::size_t>(m * K + k);
      if (codes[static_cast<std::size_t>(k)] != want.codes[i] || scales[static_cast<std::size_t>(k / 16)] != want.scales[i / 16])
        RC_FAIL("x[" + std::to_string(m) + ", " + std::to_string(k) + "] = " + f32_text(v[i]) + " (gs " + f32_text(gs) +
                "): optimized code " + std::to_string(codes[static_cast<std::size_t>(k)]) + " scale " +
                std::to_string(scales[static_cast<std::size_t>(k / 16)]) + ", reference code " + std::to_string(want.codes[i]) +
                " scale " + std::to_string(want.scales[i / 16]));
    }
  }
}

RC_GTEST_PROP(GemmPipelinesProps, OptimizedWithinDerivedBoundOfExactOracle, ()) {
  const PipelineCase c = *gen::pipeline_case();
  TempDir d;
  write_checkpoint(d.path(), generate_checkpoint(c.ckpt), c.ckpt.files);
  ref::ReferencePipeline r;
  opt::OptimizedPipeline o(c.backend);
  for (Pipeline* p : std::initializer_list<Pipeline*>{&r, &o}) {
    p->load_weights(Checkpoint::open(d.path()));
    p->process_weights_after_loading(c.backend);
  }
  // Any projection: a linear module, or any expert's w13 or w2.
  std::vector<GemmTarget> linears, experts;
  for (const auto& l : r.spec().linears) linears.push_back({l.name, -1, ""});
  for (const auto& x : r.spec().experts)
    for (int e = 0; e < x.E; ++e)
      for (const char* proj : {"w13", "w2"}) experts.push_back({x.name, e, proj});
  const bool expert = !experts.empty() && *rc::gen::weightedElement<bool>({{2, true}, {1, false}});
  const GemmTarget t = *rc::gen::elementOf(expert ? experts : linears);
  const bool has_input = c.ckpt.input_scales;
  const GemmMode mode = has_input && *rc::gen::arbitrary<bool>() ? GemmMode::W4A4 : GemmMode::W4A16;
  const DType dt = *rc::gen::element(DType::F32, DType::BF16, DType::F16);
  const auto ops = r.operands(t, mode);
  const std::int64_t N = ops.w.N, K = ops.w.K;
  // The exact oracle sums in multiprecision: keep a case to ~0.3 M multiply-adds.
  const std::int64_t M = std::min<std::int64_t>(*rc::gen::element(1, 3, 17), std::max<std::int64_t>(1, 300000 / (N * K)));
  RC_TAG(gemm_mode_name(mode), backend_name(c.backend), t.expert >= 0 ? t.proj : "linear");
  std::vector<float> v(static_cast<std::size_t>(M * K));
  const double spread = std::pow(10.0, *gen::any_in(-2, 3));
  const float gs = mode == GemmMode::W4A4 ? ops.s.input_encode_scale : 1.0f;
  for (std::int64_t b = 0; b < M * K / 16; ++b) {
    float* blk = v.data() + 16 * b;
    if (mode == GemmMode::W4A4 && *rc::gen::arbitrary<bool>()) midpoint_block(blk, gs);
    else
      for (int i = 0; i < 16; ++i) blk[i] = static_cast<float>(*gen::any_in(-100000, 100001) * 1e-5 * spread);
  }
  const Tensor x = as_dtype(v, dt, M, K);
  const Tensor exact = r.gemm(t, x, mode);
  const std::vector<double> mag = ref::gemm_abs_sum(x, ops.w, mode, ops.s);
  const double post = mode == GemmMode::W4A4 ? ops.s.alpha : ops.w.global_scale;
  for (opt::Isa isa : opt::available_isas()) {  // every kernel path this CPU has, each proven to run
    opt::ScopedIsa forced(isa);
    const std::uint64_t before = opt::kernel_hits(isa);
    const Tensor got = o.gemm(t, x, mode);
    RC_ASSERT(opt::kernel_hits(isa) == before + 1);
    const checks::KernelCheck kc = checks::check_kernel(exact, got, mag, mode, checks::gemm_arith(opt::isa_name(opt::active_isa())), K, post);
    if (!kc.passed())
      RC_FAIL(std::string(opt::isa_name(isa)) + " " + gemm_mode_name(mode) + " " + std::string(dtype_name(dt)) + " " + t.module +
              (t.expert >= 0 ? " expert " + std::to_string(t.expert) + " " + t.proj : "") + " [" + std::to_string(M) + "x" +
              std::to_string(K) + "] . [" + std::to_string(N) + "x" + std::to_string(K) + "]^T, " + kc.failure());
  }
}

}  // namespace
}  // namespace nvfp4

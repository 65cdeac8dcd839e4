// Properties of the reference pipeline over generated checkpoints and operands: per-slot fill
// (fused on disk == unfused), reload idempotence and transactions, layout algebra, reconcile
// error, w4a4 activation codes and the GEMM bound.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "core/error.h"
#include "checks/reconcile.h"
#include "checks/state.h"
#include "core/test/temp_dir.h"
#include "generator/encoders.h"
#include "properties/generators.h"
#include "reference/gemm.h"
#include "reference/quantize_activation.h"
#include "reference/reconcile.h"
#include "reference/reference_pipeline.h"
#include "reference/shuffle.h"
#include "reference/swizzle.h"

namespace nvfp4 {
namespace {

Backend backend_for(const WriterOptions& o) {
  // trtllm needs H % 64 == 0; otherwise the case exercises cutlass.
  bool trt = o.experts > 0 && o.hidden % 64 == 0 && *rc::gen::arbitrary<bool>();
  return trt ? Backend::Trtllm : Backend::Cutlass;
}

State load_processed(const std::filesystem::path& d, Backend b) {
  ref::ReferencePipeline p;
  p.load_weights(Checkpoint::open(d));
  p.process_weights_after_loading(b);
  return capture(p);
}

RC_GTEST_PROP(ReferenceProps, FusedOnDiskEqualsUnfusedBitwise, ()) {
  WriterOptions o = *gen::writer_options();
  o.unequal_scales = false;
  Backend b = backend_for(o);
  RC_TAG(backend_name(b), format_name(o.format));
  TempDir u, f;
  o.fused = false;
  write_checkpoint(u.path(), generate_checkpoint(o), o.files);
  o.fused = true;
  write_checkpoint(f.path(), generate_checkpoint(o), o.files);
  std::string d = first_difference(load_processed(u.path(), b), load_processed(f.path(), b), Same::Bytes, "unfused", "fused-on-disk");
  if (!d.empty()) RC_FAIL(d);
}

RC_GTEST_PROP(ReferenceProps, ReloadIsIdempotentAndWarmEqualsCold, ()) {
  WriterOptions a = *gen::writer_options();
  Backend b = backend_for(a);
  WriterOptions bo = a;
  bo.seed = a.seed + 1;
  bo.unequal_scales = !a.fused && *rc::gen::arbitrary<bool>();
  TempDir da, db;
  write_checkpoint(da.path(), generate_checkpoint(a), a.files);
  write_checkpoint(db.path(), generate_checkpoint(bo), bo.files);
  ref::ReferencePipeline p;
  p.load_weights(Checkpoint::open(da.path()));
  p.process_weights_after_loading(b);
  State once = capture(p);
  for (int i = 0; i < 2; ++i) {
    p.update_weights_from_disk(Checkpoint::open(da.path()));
    std::string d = first_difference(once, capture(p), Same::Identities, "load A", "reload A #" + std::to_string(i + 1));
    if (!d.empty()) RC_FAIL(d);
  }
  p.update_weights_from_disk(Checkpoint::open(db.path()));
  std::string d = first_difference(load_processed(db.path(), b), capture(p), Same::Bytes, "cold B", "warm A->B");
  if (!d.empty()) RC_FAIL(d);
  p.update_weights_from_disk(Checkpoint::open(da.path()));
  d = first_difference(once, capture(p), Same::Identities, "A", "A->B->A");
  if (!d.empty()) RC_FAIL(d);
}

enum class Damage { Truncate, NanScale, MissingTensor, WrongShape, ZeroGlobal };

RC_GTEST_PROP(ReferenceProps, FailedReloadLeavesModulesByteIdentical, ()) {
  WriterOptions o = *gen::writer_options();
  Backend b = backend_for(o);
  TempDir good, bad;
  write_checkpoint(good.path(), generate_checkpoint(o), o.files);
  ref::ReferencePipeline p;
  p.load_weights(Checkpoint::open(good.path()));
  p.process_weights_after_loading(b);
  State before = capture(p);

  o.seed += 99;
  GeneratedCheckpoint g = generate_checkpoint(o);
  Damage dmg = *rc::gen::element(Damage::Truncate, Damage::NanScale, Damage::MissingTensor, Damage::WrongShape, Damage::ZeroGlobal);
  std::vector<std::string> quantized;
  for (const auto& [n, t] : g.tensors)
    if (t.dtype() == DType::F8_E4M3) quantized.push_back(n.substr(0, n.rfind('.')));
  std::string victim = *rc::gen::elementOf(quantized);
  const FormatNames& fn = format_names(o.format);
  RC_TAG(static_cast<int>(dmg));
  if (dmg == Damage::NanScale) {
    Tensor& t = g.tensors.at(victim + "." + fn.weight_scale);
    t = t.clone();
    t.data()[*rc::gen::inRange<std::int64_t>(0, t.numel())] = 0xFF;
  } else if (dmg == Damage::MissingTensor) {
    g.tensors.erase(victim + "." + *rc::gen::element(fn.weight, fn.weight_scale, fn.weight_scale_2));
  } else if (dmg == Damage::WrongShape) {
    Tensor& t = g.tensors.at(victim + "." + fn.weight);
    t = Tensor::zeros(DType::U8, {t.size(0) + 1, t.size(1)});
  } else if (dmg == Damage::ZeroGlobal) {
    Tensor& t = g.tensors.at(victim + "." + fn.weight_scale_2);
    t = Tensor::zeros(t.dtype(), t.shape());
  }
  write_checkpoint(bad.path(), g, o.files);
  if (dmg == Damage::Truncate) {
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(bad.path()))
      if (e.path().extension() == ".safetensors") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    auto f = *rc::gen::elementOf(files);
    std::filesystem::resize_file(f, std::filesystem::file_size(f) - *rc::gen::inRange<std::uintmax_t>(1, 64));
  }
  RC_ASSERT_THROWS_AS(p.update_weights_from_disk(Checkpoint::open(bad.path())), Error);
  std::string d = first_difference(before, capture(p), Same::Identities, "before", "after the failed reload");
  if (!d.empty()) RC_FAIL(d);
}

RC_GTEST_PROP(LayoutProps, SwizzleRoundTripsWithZeroPadding, ()) {
  std::int64_t B = *rc::gen::inRange(1, 4), M = *rc::gen::resize(100, rc::gen::inRange(1, 300)),
               K = *rc::gen::inRange(1, 13);
  Tensor in = Tensor::empty(DType::F8_E4M3, {B, M, K});
  for (std::int64_t i = 0; i < in.numel(); ++i) in.data()[i] = static_cast<std::uint8_t>(1 + *rc::gen::inRange(0, 255));
  Tensor s = ref::swizzle_128x4(in);
  RC_ASSERT(s.shape() == (Shape{B, ref::round_up(M, 128), ref::round_up(K, 4)}));
  std::int64_t nonzero = 0;
  for (std::size_t i = 0; i < s.nbytes(); ++i) nonzero += s.data()[i] != 0;
  RC_ASSERT(nonzero == B * M * K);  // a pure permutation plus zero padding
  RC_ASSERT(ref::unswizzle_128x4(s, M, K).bitwise_equal(in));
}

RC_GTEST_PROP(LayoutProps, RowPermutationsAreBijections, ()) {
  std::int64_t M = 64 * *rc::gen::inRange(1, 20);
  for (const auto& p : {ref::shuffle_a_rows(M, 128), ref::shuffle_a_rows(M, 64), ref::gated_act_reorder(M),
                        ref::compose(ref::gated_act_reorder(M), ref::shuffle_a_rows(M, 128))}) {
    std::vector<std::int64_t> s = p;
    std::sort(s.begin(), s.end());
    std::vector<std::int64_t> iota(static_cast<std::size_t>(M));
    std::iota(iota.begin(), iota.end(), 0);
    RC_ASSERT(s == iota);
  }
}

RC_GTEST_PROP(ReconcileProps, ErrorWithinHalfAnE4M3Step, ()) {
  Tensor s = Tensor::empty(DType::F8_E4M3, {4, 8});
  for (std::int64_t i = 0; i < s.numel(); ++i) s.data()[i] = static_cast<std::uint8_t>(*rc::gen::inRange(0, 0x7F));
  float common = static_cast<float>(*rc::gen::inRange(1, 1000)) * 1e-5f;
  float own = common * static_cast<float>(*rc::gen::inRange(1, 1001)) / 1000.0f;
  double err = 0;
  Tensor r = ref::reconcile_shard(s, own, common, &err);
  for (std::int64_t i = 0; i < s.numel(); ++i) {
    double before = e4m3_to_f32(s.data()[i]) * static_cast<double>(own), after = e4m3_to_f32(r.data()[i]) * static_cast<double>(common);
    // Normal E4M3: within 2^-4 relative; the subnormal grid (2^-9) adds at most half a step.
    if (!checks::within_reconcile_bound(before, after, common))
      RC_FAIL("scale byte 0x" + std::to_string(s.data()[i]) + ": " + std::to_string(before) + " became " + std::to_string(after));
    RC_ASSERT(e4m3_to_f32(r.data()[i]) <= e4m3_to_f32(s.data()[i]));  // a scale never grows
  }
  if (own == common) RC_ASSERT(r.bitwise_equal(s));
}

Tensor random_x(DType d, std::int64_t M, std::int64_t K) {
  Tensor x = Tensor::empty(d, {M, K});
  double spread = std::pow(10.0, *rc::gen::inRange(-3, 4));
  for (std::int64_t i = 0; i < M * K; ++i) {
    float v = static_cast<float>((*rc::gen::inRange(-100000, 100001)) * 1e-5 * spread);
    if (*rc::gen::inRange(0, 20) == 0) v = 0.0f;
    if (d == DType::F32) x.data_as<float>()[i] = v;
    else if (d == DType::BF16) x.data_as<std::uint16_t>()[i] = f32_to_bf16(v);
    else x.data_as<std::uint16_t>()[i] = f32_to_f16(v);
  }
  return x;
}

RC_GTEST_PROP(GemmProps, W4A4ActivationCodesMatchTheFormula, ()) {
  DType d = *rc::gen::element(DType::F32, DType::BF16, DType::F16);
  std::int64_t M = *rc::gen::inRange(1, 4), K = 16 * *rc::gen::inRange(1, 6);
  Tensor x = random_x(d, M, K);
  float gs = static_cast<float>(*rc::gen::inRange(1, 100000)) * 0.05f;
  ref::QuantizedActivation q = ref::quantize_activation(x, gs);
  // The same formula written again with the generator's encoders (independently verified on all floats).
  for (std::int64_t m = 0; m < M; ++m)
    for (std::int64_t b = 0; b < K / 16; ++b) {
      float vmax = 0;
      for (int i = 0; i < 16; ++i) vmax = std::max(vmax, std::fabs(x.get_f32(m * K + 16 * b + i)));
      std::uint8_t S = f32_to_e4m3_satfinite(vmax != 0 ? vmax * (gs * (1.0f / 6.0f)) : 0.0f);
      float os = vmax != 0 ? std::min(1.0f / (e4m3_to_f32(S) * (1.0f / gs)), 3.40282347e38f) : 0.0f;
      RC_ASSERT(q.scales[static_cast<std::size_t>(m * (K / 16) + b)] == S);
      for (int i = 0; i < 16; ++i) {
        std::uint8_t want = f32_to_e2m1(x.get_f32(m * K + 16 * b + i) * os);
        std::uint8_t got = q.codes[static_cast<std::size_t>(m * K + 16 * b + i)];
        if (got != want) RC_FAIL("x[" + std::to_string(m) + ", " + std::to_string(16 * b + i) + "] = " +
                                 std::to_string(x.get_f32(m * K + 16 * b + i)) + ": code " + std::to_string(got) +
                                 " vs " + std::to_string(want));
      }
    }
}

RC_GTEST_PROP(GemmProps, EigenPathWithinDerivedBoundOfExactOracle, ()) {
  DType d = *rc::gen::element(DType::F32, DType::BF16, DType::F16);
  GemmMode mode = *rc::gen::element(GemmMode::W4A16, GemmMode::W4A4);
  std::int64_t M = *rc::gen::inRange(1, 4), N = *rc::gen::inRange(1, 9), K = 16 * *rc::gen::inRange(1, 9);
  ref::LogicalWeight w;
  w.N = N;
  w.K = K;
  for (std::int64_t i = 0; i < N * K; ++i) w.codes.push_back(static_cast<std::uint8_t>(*rc::gen::inRange(0, 16)));
  for (std::int64_t i = 0; i < N * K / 16; ++i) w.scales.push_back(static_cast<std::uint8_t>(*rc::gen::inRange(0, 0x7F)));
  w.global_scale = static_cast<float>(*rc::gen::inRange(1, 1000)) * 1e-4f;
  ref::GemmScalars s{static_cast<float>(*rc::gen::inRange(1, 1000)) * 1e-3f, static_cast<float>(*rc::gen::inRange(1, 5000)) * 0.1f};
  Tensor x = random_x(d, M, K);
  std::vector<double> mag;
  Tensor exact = ref::gemm_exact(x, w, mode, s, &mag);
  std::vector<double> eig = ref::gemm_eigen_double(x, w, mode, s);
  for (std::int64_t i = 0; i < M * N; ++i) {
    double e = exact.get_f32(i);
    // Double accumulation error (K + 2) 2^-53 sum|x w| (the +2: alpha) plus half an output ulp of
    // the exact result's rounding.
    int p = d == DType::F32 ? 24 : d == DType::BF16 ? 8 : 11;
    int emin = d == DType::F16 ? -14 : -126;
    double half_ulp = std::isinf(e) ? INFINITY : std::ldexp(1.0, std::max(e == 0 ? emin : std::ilogb(e), emin) - p);
    double bound = ref::eigen_error_bound(mag[static_cast<std::size_t>(i)], K) + half_ulp;
    if (!(std::fabs(eig[static_cast<std::size_t>(i)] - e) <= bound))
      RC_FAIL(gemm_mode_name(mode) + " " + std::string(dtype_name(d)) + " [" + std::to_string(M) + "x" + std::to_string(K) +
              "] . [" + std::to_string(N) + "x" + std::to_string(K) + "]^T element " + std::to_string(i) + ": exact " +
              std::to_string(e) + ", Eigen " + std::to_string(eig[static_cast<std::size_t>(i)]) + ", bound " + std::to_string(bound));
  }
}

}  // namespace
}  // namespace nvfp4

// GEMM differential: a generated checkpoint (fuzz/fuzz_generated.h), a module and projection, and
// activations [M, K] (M = 1..17, F32/BF16/F16; raw bits, small multiples of powers of two, or
// non-finite values) all from the input. The reference's exact oracle and the optimized kernels on
// every dispatch path the CPU has must both refuse with the same one-line error, or agree within
// the optimized kernel's derived bound (optimized/gemm.h) on every element, in both modes.
// max_len 4 KiB.
#include <cmath>
#include <cstdint>
#include <string>

#include "checks/gemm_vs_oracle.h"
#include "core/checkpoint.h"
#include "core/module_map.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/fuzz_checkpoint_dir.h"
#include "fuzz/fuzz_generated.h"
#include "generator/encoders.h"
#include "optimized/gemm.h"
#include "optimized/kernels/dispatch.h"
#include "optimized/optimized_pipeline.h"
#include "reference/gemm.h"
#include "reference/reference_pipeline.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > (4u << 10)) return 0;
  using namespace nvfp4;
  fuzz::ByteReader in(data, size);
  WriterOptions o = fuzz::generated_options(in);
  const Backend b = in.flag() ? Backend::Cutlass : Backend::Trtllm;
  if (b == Backend::Trtllm && o.experts > 0 && o.hidden % 64) o.hidden = 64, o.kv_heads = 0;  // trtllm needs H % 64 == 0
  const auto dir = fuzz::checkpoint_dir() / "gemm";
  write_checkpoint(dir, generate_checkpoint(o), 1);
  const Checkpoint c = Checkpoint::open(dir);
  const ModelSpec spec = map_modules(c);
  ref::ReferencePipeline r;
  opt::OptimizedPipeline p(b);
  r.load_weights(c);
  r.process_weights_after_loading(b);
  p.load_weights(c);
  p.process_weights_after_loading(b);

  GemmTarget t;
  std::int64_t K;
  const std::int64_t pick = in.in(0, static_cast<std::int64_t>(spec.linears.size() + 2 * spec.experts.size()) - 1);
  if (pick < static_cast<std::int64_t>(spec.linears.size())) {
    t = {spec.linears[pick].name, -1, ""};
    K = spec.linears[pick].K;
  } else {
    const ExpertsSpec& x = spec.experts[(pick - spec.linears.size()) / 2];
    const bool w13 = (pick - spec.linears.size()) % 2 == 0;
    t = {x.name, static_cast<int>(in.in(0, x.E - 1)), w13 ? "w13" : "w2"};
    K = w13 ? x.H : x.I;
  }
  const std::int64_t M = in.in(1, 17);
  const DType dt = in.in(0, 2) == 0 ? DType::F32 : in.flag() ? DType::BF16 : DType::F16;
  Tensor x = Tensor::empty(dt, {M, K});
  for (std::int64_t i = 0; i < M * K; ++i) {
    const int how = static_cast<int>(in.in(0, 15));
    float v = how == 0 ? in.f32_bits() : how == 1 ? NAN : std::ldexp(static_cast<float>(in.in(-64, 64)), static_cast<int>(in.in(-12, 4)));
    if (how == 1 && !in.flag()) v = 0.5f;  // non-finite values stay rare
    if (dt == DType::F32) x.data_as<float>()[i] = v;
    else x.data_as<std::uint16_t>()[i] = dt == DType::BF16 ? f32_to_bf16(v) : f32_to_f16(v);
  }
  for (GemmMode mode : {GemmMode::W4A16, GemmMode::W4A4}) {
    std::string want;
    Tensor exact;
    try {
      exact = r.gemm(t, x, mode);
    } catch (const Error& e) {
      want = e.what();
      fuzz::check_error_line(want);
    }
    for (opt::Isa isa : opt::available_isas()) {
      opt::ScopedIsa forced(isa);
      std::string got;
      Tensor fast;
      try {
        fast = p.gemm(t, x, mode);
      } catch (const Error& e) {
        got = e.what();
      }
      FUZZ_CHECK(got == want, "%s %s: reference says \"%s\", optimized \"%s\"", opt::isa_name(isa), gemm_mode_name(mode).c_str(),
                 want.c_str(), got.c_str());
      if (!want.empty()) continue;
      const auto ops = r.operands(t, mode);
      const std::vector<double> mag = ref::gemm_abs_sum(x, ops.w, mode, ops.s);
      const double post = mode == GemmMode::W4A4 ? ops.s.alpha : ops.w.global_scale;
      const checks::KernelCheck kc = checks::check_kernel(exact, fast, mag, mode, checks::gemm_arith(opt::isa_name(opt::active_isa())), K, post);
      FUZZ_CHECK(kc.passed(), "%s %s %s M=%lld K=%lld %s", opt::isa_name(isa), gemm_mode_name(mode).c_str(), t.module.c_str(), (long long)M,
                 (long long)K, kc.failure().c_str());
    }
  }
  return 0;
}

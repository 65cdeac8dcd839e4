#include "tools/diff/experts_layout.h"

#include <cstring>
#include <memory>
#include <string>

#include "reference/experts.h"
#include "reference/loading.h"
#include "reference/shuffle.h"

namespace nvfp4::diff {

namespace {

// The order the reference's layout builds by itself: cutlass keeps the loaded [w1; w3], trtllm
// writes [w3; 0; w1; 0] (FlashInfer's gated-activation order).
W13Order reference_order(ExpertsLayout l) { return l == ExpertsLayout::FlashinferTrtllm ? W13Order::UpFirst : W13Order::GateFirst; }

// [E, 2I, ..] -> the same with the two halves of each expert exchanged.
Tensor flip_halves(const Tensor& t) {
  Tensor out = t.clone();
  const std::int64_t E = t.size(0), half = t.size(1) / 2, row = t.size(2);
  for (std::int64_t e = 0; e < E; ++e) {
    std::memcpy(out.data() + (e * 2 * half) * row, t.data() + (e * 2 * half + half) * row, static_cast<std::size_t>(half * row));
    std::memcpy(out.data() + (e * 2 * half + half) * row, t.data() + (e * 2 * half) * row, static_cast<std::size_t>(half * row));
  }
  return out;
}

// [E, R, C] -> [E, R2, C2] with zeros after the original rows and columns.
Tensor pad3(const Tensor& t, std::int64_t R2, std::int64_t C2) {
  const std::int64_t E = t.size(0), R = t.size(1), C = t.size(2);
  Tensor out = Tensor::zeros(t.dtype(), {E, R2, C2});
  for (std::int64_t e = 0; e < E; ++e)
    for (std::int64_t r = 0; r < R; ++r) std::memcpy(out.data() + (e * R2 + r) * C2, t.data() + (e * R + r) * C, static_cast<std::size_t>(C));
  return out;
}

// [E, 2I, C] -> [E, 2Ip, C]: each half's rows first, then zero rows up to Ip.
Tensor pad_halves(const Tensor& t, std::int64_t Ip) {
  const std::int64_t E = t.size(0), I = t.size(1) / 2, C = t.size(2);
  Tensor out = Tensor::zeros(t.dtype(), {E, 2 * Ip, C});
  for (std::int64_t e = 0; e < E; ++e)
    for (int h = 0; h < 2; ++h)
      std::memcpy(out.data() + (e * 2 * Ip + h * Ip) * C, t.data() + (e * 2 * I + h * I) * C, static_cast<std::size_t>(I * C));
  return out;
}

// The swizzles made Parameters of their own and *_weight_scale the scales as loaded (in the stored row
// order, padded), where the reference aliases the two names: sglang 0.5.10.post1 writes the
// swizzle with copy_or_rebind_param into w13/w2_blockscale_swizzled and leaves the loaded scales be
// (ModelOptNvFp4FusedMoEMethod.process_weights_after_loading, srt/layers/quantization/modelopt_quant.py:1826-1869@0.5.10.post1).
void keep_loaded_scales(const Module& loaded, Module& out) {
  for (const std::string p : {"w13", "w2"}) {
    const std::string swz = p + "_blockscale_swizzled", raw = p + "_weight_scale";
    out.bind(swz, std::make_shared<Parameter>(Parameter{out.tensor(swz).clone()}));
    out.bind(raw, std::make_shared<Parameter>(Parameter{loaded.tensor(raw).clone()}));
  }
}

}  // namespace

std::vector<std::int64_t> stored_rows(const ExpertsConvention& row, const ExpertsSpec& s, bool w13, std::int64_t Hp, std::int64_t Ip) {
  const std::int64_t I = s.I, N = w13 ? 2 * I : s.H;
  const bool up_first = row.order == W13Order::UpFirst;
  // Where logical row r sits before any shuffle: the second half starts at Ip (each half padded)
  // or right after the first (the padding at the tail).
  const std::int64_t second = row.intermediate_pad == IntermediatePad::Tail ? I : Ip;
  auto unshuffled = [&](std::int64_t r) { return !w13 ? r : (r < I) != up_first ? r % I : second + r % I; };
  std::vector<std::int64_t> out(static_cast<std::size_t>(N));
  if (row.shuffle != ExpertsLayout::FlashinferTrtllm) {
    for (std::int64_t r = 0; r < N; ++r) out[static_cast<std::size_t>(r)] = unshuffled(r);
    return out;
  }
  // FlashInfer's permutations as the reference builds them (reference/shuffle.h).
  ref::Permutation p = w13 ? ref::compose(ref::gated_act_reorder(2 * Ip), ref::shuffle_a_rows(2 * Ip, 128)) : ref::shuffle_a_rows(Hp, 128);
  std::vector<std::int64_t> inv(p.size());
  for (std::size_t n = 0; n < p.size(); ++n) inv[static_cast<std::size_t>(p[n])] = static_cast<std::int64_t>(n);
  for (std::int64_t r = 0; r < N; ++r) out[static_cast<std::size_t>(r)] = inv[static_cast<std::size_t>(unshuffled(r))];
  return out;
}

Module expected_layout(const ExpertsConvention& row, const Module& src, const ExpertsSpec& s, std::int64_t Hp, std::int64_t Ip) {
  const std::int64_t E = s.E, H = s.H, I = s.I;
  Module m;
  for (const auto& [n, p] : src.entries()) m.add(n, p->data.clone());
  const Tensor& s2 = src.tensor("w13_weight_scale_2");
  for (std::int64_t x = 0; x < E; ++x) ref::set_f32(m.tensor("w13_weight_scale_2"), 2 * x + 1, ref::get_f32(s2, 2 * x));
  // w13 in the engine's row order and padded as the row says, then handed to the reference in the
  // order its layout swaps back by itself (trtllm's writes up first from [gate; up] halves of Ip):
  // padding at the tail straddles the halves, so it is laid before that swap, not after.
  const bool tail = row.intermediate_pad == IntermediatePad::Tail;
  for (const char* n : {"w13_weight", "w13_weight_scale"}) {
    Tensor t = row.order == W13Order::UpFirst ? flip_halves(src.tensor(n)) : src.tensor(n).clone();
    if (Ip != I) t = tail ? pad3(t, 2 * Ip, t.size(2)) : pad_halves(t, Ip);
    m.tensor(n) = reference_order(row.shuffle) == W13Order::UpFirst ? flip_halves(t) : t;
  }
  ExpertsSpec sp = s;
  if (Ip != I) {
    sp.I = Ip;
    m.tensor("w2_weight") = pad3(m.tensor("w2_weight"), H, Ip / 2);
    m.tensor("w2_weight_scale") = pad3(m.tensor("w2_weight_scale"), H, Ip / 16);
  }
  if (Hp != H) {
    sp.H = Hp;
    m.tensor("w13_weight") = pad3(m.tensor("w13_weight"), 2 * sp.I, Hp / 2);
    m.tensor("w13_weight_scale") = pad3(m.tensor("w13_weight_scale"), 2 * sp.I, Hp / 16);
    m.tensor("w2_weight") = pad3(m.tensor("w2_weight"), Hp, sp.I / 2);
    m.tensor("w2_weight_scale") = pad3(m.tensor("w2_weight_scale"), Hp, sp.I / 16);
  }
  std::vector<Reconciliation> none;
  Module out = ref::experts_process(m, sp, row.shuffle == ExpertsLayout::FlashinferTrtllm ? Backend::Trtllm : Backend::Cutlass, none);
  if (row.loaded == LoadedScales::AsLoaded) keep_loaded_scales(m, out);
  return out;
}

}  // namespace nvfp4::diff

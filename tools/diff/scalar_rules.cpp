#include "tools/diff/scalar_rules.h"

#include <algorithm>
#include <stdexcept>

#include "reference/loading.h"

namespace nvfp4::diff {

namespace {

float linear_value(LinearQuantity q, const LinearScales& t) {
  switch (q) {
    case LinearQuantity::MaxInputTimesMaxWeight: return t.inmax * t.s2max;
    case LinearQuantity::InvMaxInput: return 1.0f / t.inmax;
    case LinearQuantity::MaxWeight: return t.s2max;
    case LinearQuantity::MaxInput: return t.inmax;
    case LinearQuantity::MaxWeightEnc: return t.w_enc_max;
    case LinearQuantity::MaxInputEnc: return t.in_enc_max;
    case LinearQuantity::InvMaxWeightEnc: return 1.0f / t.w_enc_max;
    case LinearQuantity::InvMaxInputEnc: return 1.0f / t.in_enc_max;
    case LinearQuantity::InvOfMaxEncProduct: return 1.0f / (t.in_enc_max * t.w_enc_max);
    case LinearQuantity::ProductOfInvMaxEnc: return (1.0f / t.in_enc_max) * (1.0f / t.w_enc_max);
    default: throw std::logic_error("linear quantity with one value per shard");
  }
}

// The scales of one experts module, per expert: the decode scales as loaded, the activation scales
// the row says, and (compressed-tensors) the encode scales on disk.
struct PerExpert {
  std::vector<float> gate, up, w2;          // weight_scale_2 (decode)
  std::vector<float> in_gate, in_up, in_w2; // input scales (decode; empty without)
  std::vector<float> a13, a2;               // the activation decode scales (1 without input scales)
  std::vector<float> enc_gate, enc_up, enc_w2, enc_in_gate, enc_in_up, enc_in_w2;  // compressed-tensors
  std::vector<float> min13, min2;           // the activation encode scales (compressed-tensors)
};

PerExpert per_expert(const ExpertsConvention& row, const ExpertsSpec& s, const Module& src, const Checkpoint& c) {
  const bool shared = row.activation == ActivationScale::OverEveryExpert;
  PerExpert p;
  const Tensor &s2 = src.tensor("w13_weight_scale_2"), &w2s2 = src.tensor("w2_weight_scale_2");
  const Tensor* in13 = s.has_input_scale ? &src.tensor("w13_input_scale") : nullptr;
  const Tensor* in2 = s.has_input_scale ? &src.tensor("w2_input_scale") : nullptr;
  const float max13 = in13 ? ref::max_of(*in13) : 1, max2 = in2 ? ref::max_of(*in2) : 1;
  for (std::int64_t x = 0; x < s.E; ++x) {
    p.gate.push_back(ref::get_f32(s2, 2 * x));
    p.up.push_back(ref::get_f32(s2, 2 * x + 1));
    p.w2.push_back(ref::get_f32(w2s2, x));
    if (in13) {
      p.in_gate.push_back(ref::get_f32(*in13, 2 * x));
      p.in_up.push_back(ref::get_f32(*in13, 2 * x + 1));
      p.in_w2.push_back(ref::get_f32(*in2, x));
    }
    p.a13.push_back(!in13 ? 1 : shared ? max13 : std::max(p.in_gate.back(), p.in_up.back()));
    p.a2.push_back(!in2 ? 1 : shared ? max2 : p.in_w2.back());
  }
  if (row.format != CkptFormat::CompressedTensors) return p;
  const FormatNames& fn = format_names(CkptFormat::CompressedTensors);
  auto enc = [&](std::int64_t x, ExpertRole role, const std::string& suffix) {
    return c.tensor(s.prefixes[static_cast<std::size_t>(x)][role] + "." + suffix).get_f32(0);
  };
  using enum ExpertRole;
  for (std::int64_t x = 0; x < s.E; ++x) {
    p.enc_gate.push_back(enc(x, Gate, fn.weight_scale_2));
    p.enc_up.push_back(enc(x, Up, fn.weight_scale_2));
    p.enc_w2.push_back(enc(x, Down, fn.weight_scale_2));
    p.enc_in_gate.push_back(enc(x, Gate, fn.input_scale));
    p.enc_in_up.push_back(enc(x, Up, fn.input_scale));
    p.enc_in_w2.push_back(enc(x, Down, fn.input_scale));
    p.min13.push_back(std::min(p.enc_in_gate.back(), p.enc_in_up.back()));
    p.min2.push_back(p.enc_in_w2.back());
  }
  if (shared) {
    std::fill(p.min13.begin(), p.min13.end(), *std::min_element(p.min13.begin(), p.min13.end()));
    std::fill(p.min2.begin(), p.min2.end(), *std::min_element(p.min2.begin(), p.min2.end()));
  }
  return p;
}

// The value slot (x, h) of a quantity holds (h: the half, for PerExpertHalf slots).
float experts_value(ExpertsQuantity q, const PerExpert& p, std::size_t x, int h) {
  using Q = ExpertsQuantity;
  const float enc_g1 = p.min13.empty() ? 0 : (1.0f / p.min13[x]) * (1.0f / p.enc_gate[x]);
  switch (q) {
    case Q::A13: return p.a13[x];
    case Q::A2: return p.a2[x];
    case Q::InvA13: return 1.0f / p.a13[x];
    case Q::InvA2: return 1.0f / p.a2[x];
    case Q::GateTimesA13: return p.a13[x] * p.gate[x];
    case Q::UpTimesA13: return p.a13[x] * p.up[x];
    case Q::W2TimesA2: return p.a2[x] * p.w2[x];
    case Q::G1TimesInvA2: return p.a13[x] * p.gate[x] * (1.0f / p.a2[x]);
    case Q::G1UpTimesInvA2: return (1.0f / p.a2[x]) * (p.a13[x] * p.up[x]);
    case Q::HalfWeight: return h ? p.up[x] : p.gate[x];
    case Q::HalfWeightUpGate: return h ? p.gate[x] : p.up[x];
    case Q::W2Weight: return p.w2[x];
    case Q::W2Input: return p.in_w2[x];
    case Q::InvGateEnc: return 1.0f / p.enc_gate[x];
    case Q::InvW2Enc: return 1.0f / p.enc_w2[x];
    case Q::MinEnc13: return p.min13[x];
    case Q::MinEnc2: return p.min2[x];
    case Q::EncG1: return enc_g1;
    case Q::EncG2: return (1.0f / p.min2[x]) * (1.0f / p.enc_w2[x]);
    case Q::EncScaleC: return p.min2[x] * enc_g1;
    case Q::HalfWeightEnc: return h ? p.enc_up[x] : p.enc_gate[x];
    case Q::W2WeightEnc: return p.enc_w2[x];
    case Q::W2InputEnc: return p.enc_in_w2[x];
    default: throw std::logic_error("experts quantity with a choice of values");
  }
}

// The values a slot may hold instead of one; empty for quantities with one value.
std::vector<float> experts_choice(ExpertsQuantity q, const PerExpert& p, std::size_t x, int h) {
  if (q == ExpertsQuantity::EitherHalfInput) return {p.in_gate[x], p.in_up[x]};  // whichever loaded last
  if (q == ExpertsQuantity::HalfInputEnc) return {h ? p.enc_in_up[x] : p.enc_in_gate[x]};
  return {};
}

}  // namespace

std::vector<ScalarExpect> linear_scalars(const std::vector<LinearScalar>& rules, const LinearSpec& s, const LinearScales& t) {
  const bool a4 = s.has_input_scale;
  std::vector<ScalarExpect> out;
  for (const LinearScalar& r : rules) {
    if (r.when == When::WithInputScales && !a4) continue;
    ScalarExpect e{r.name, {}, r.verdict, r.what, {}, {}};
    if (r.quantity == LinearQuantity::ShardWeight) e.expected = t.s2;
    else if (r.quantity == LinearQuantity::ShardInputOr1) e.expected = a4 ? t.in : std::vector<float>(s.shard_ids.size(), 1.0f);
    else e.expected = {linear_value(r.quantity, t)};
    if (r.slots == Slots::PerShard) e.slot = s.shard_ids;
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<ScalarExpect> experts_scalars(const ExpertsConvention& row, const ExpertsSpec& s, const Module& src, const Checkpoint& c) {
  const PerExpert p = per_expert(row, s, src, c);
  std::vector<ScalarExpect> out;
  for (const ExpertsScalar& r : row.scalars) {
    if (r.when == When::WithInputScales && !s.has_input_scale) continue;
    ScalarExpect e{r.name, {}, r.verdict, r.what, {}, {}};
    const int halves = r.slots == Slots::PerExpertHalf ? 2 : 1;
    const std::int64_t experts = r.slots == Slots::One ? 1 : s.E;
    for (std::int64_t x = 0; x < experts; ++x) {
      if (r.slots == Slots::PerExpert) e.slot.push_back("expert " + std::to_string(x));
      for (int h = 0; h < halves; ++h) {
        const auto i = static_cast<std::size_t>(x);
        std::vector<float> choice = experts_choice(r.quantity, p, i, h);
        if (choice.empty()) e.expected.push_back(experts_value(r.quantity, p, i, h));
        else e.any_of.push_back(std::move(choice));
      }
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace nvfp4::diff

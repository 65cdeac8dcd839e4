#include "properties/scale_aims.h"

#include <rapidcheck.h>

#include <cmath>
#include <cstring>

#include "core/module_names.h"

namespace nvfp4 {
namespace {

// Exact in f32 and bf16 when multiplied by a base of at most 4 significant bits.
constexpr float kRatios[] = {1.0f, 0.75f, 0.625f, 0.875f, 0.5625f, 0.9375f, 0.5f, 0.8125f, 0.25f};

// A base with at most 4 significant bits near the writer's own magnitude.
float few_bit_base(float near) {
  int e = 0;
  std::frexp(near, &e);
  return std::ldexp(1.0f + static_cast<float>(*rc::gen::inRange(0, 8)) / 8.0f, e - 1);
}

// Writes a decode scale into a scalar tensor of the checkpoint's own dtype and shape: encode (1/s)
// for compressed-tensors, bf16 where the writer chose it (exact: values carry at most 8 bits).
void set_scale(GeneratedCheckpoint& g, const std::string& name, float decode, bool encode) {
  Tensor& t = g.tensors.at(name);
  const float v = encode ? 1.0f / decode : decode;
  if (t.dtype() == DType::BF16) {
    std::uint32_t bits;
    std::memcpy(&bits, &v, 4);
    const std::uint16_t h = static_cast<std::uint16_t>(bits >> 16);
    std::memcpy(t.data(), &h, 2);
  } else {
    std::memcpy(t.data(), &v, 4);
  }
}

float get_scale(const GeneratedCheckpoint& g, const std::string& name, bool encode) {
  const float v = g.tensors.at(name).get_f32(0);
  return encode ? 1.0f / v : v;
}

// Values for n slots: one slot (drawn) holds base, the others base * a ratio < 1, exact (the
// reconcile lands on midpoints) or nudged one or two f32 steps off it (the reconcile lands next to
// them, where the order of the f32 operations decides the side).
std::vector<float> spread(std::size_t n, float base) {
  std::vector<float> v(n);
  const std::size_t top = *rc::gen::inRange<std::size_t>(0, n);
  for (std::size_t i = 0; i < n; ++i) {
    if (i == top) {
      v[i] = base;
      continue;
    }
    v[i] = base * *rc::gen::elementOf(std::vector<float>(std::begin(kRatios) + 1, std::end(kRatios)));
    for (int k = *rc::gen::weightedElement<int>({{4, 0}, {1, -2}, {1, -1}, {1, 1}, {1, 2}}); k != 0; k += k < 0 ? 1 : -1) v[i] = std::nextafter(v[i], k < 0 ? 0.0f : base);
  }
  return v;
}

}  // namespace

void aim_scales(GeneratedCheckpoint& g, const ModelSpec& spec) {
  const FormatNames& fn = format_names(spec.format);
  const bool enc = fn.encode_scales;
  for (const auto& l : spec.linears) {
    if (l.fused_on_disk) continue;  // one tensor, one scale: nothing to spread
    const auto w = spread(l.prefixes.size(), few_bit_base(get_scale(g, l.prefixes[0] + "." + fn.weight_scale_2, enc)));
    for (std::size_t i = 0; i < l.prefixes.size(); ++i) set_scale(g, l.prefixes[i] + "." + fn.weight_scale_2, w[i], enc);
    if (!l.has_input_scale) continue;
    const auto in = spread(l.prefixes.size(), few_bit_base(get_scale(g, l.prefixes[0] + "." + fn.input_scale, enc)));
    for (std::size_t i = 0; i < l.prefixes.size(); ++i) set_scale(g, l.prefixes[i] + "." + fn.input_scale, in[i], enc);
  }
  // The two halves of an expert's w13 slot (h = 0, 1), by the role each holds: gate, then up.
  constexpr ExpertRole kHalfRole[2] = {ExpertRole::Gate, ExpertRole::Up};
  for (const auto& x : spec.experts) {
    const std::size_t E = x.prefixes.size();
    const RolePrefixes& first = x.prefixes[0];
    const float w_base = few_bit_base(get_scale(g, first[ExpertRole::Gate] + "." + fn.weight_scale_2, enc));
    std::vector<float> in13, in2;
    if (x.has_input_scale) {
      in13 = spread(2 * E, few_bit_base(get_scale(g, first[ExpertRole::Gate] + "." + fn.input_scale, enc)));
      in2 = spread(E, few_bit_base(get_scale(g, first[ExpertRole::Down] + "." + fn.input_scale, enc)));
    }
    for (std::size_t e = 0; e < E; ++e) {
      const RolePrefixes& pre = x.prefixes[e];
      const auto gu = spread(2, w_base * *rc::gen::elementOf(std::vector<float>(std::begin(kRatios), std::end(kRatios))));
      for (int h = 0; h < 2; ++h) set_scale(g, pre[kHalfRole[h]] + "." + fn.weight_scale_2, gu[h], enc);
      set_scale(g, pre[ExpertRole::Down] + "." + fn.weight_scale_2, w_base * *rc::gen::elementOf(std::vector<float>(std::begin(kRatios), std::end(kRatios))), enc);
      if (!x.has_input_scale) continue;
      for (int h = 0; h < 2; ++h) set_scale(g, pre[kHalfRole[h]] + "." + fn.input_scale, in13[2 * e + h], enc);
      set_scale(g, pre[ExpertRole::Down] + "." + fn.input_scale, in2[e], enc);
    }
  }
}

}  // namespace nvfp4

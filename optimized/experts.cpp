#include "optimized/experts.h"

#include <cstring>

#include "core/error.h"
#include "optimized/block_scales.h"
#include "optimized/moe_shuffle.h"
#include "optimized/param_binding.h"
#include "optimized/scalar_params.h"

namespace nvfp4::opt {

namespace {

// A parameter in its loaded shape over storage of `capacity` bytes (its processed shape's).
Tensor with_capacity(DType d, const Shape& loaded, std::int64_t capacity) {
  return Tensor::empty(DType::U8, {capacity}).view_within(d, loaded);
}

template <class F>
void set_vector(Module& m, const std::string& name, const ParamPtr& r, std::int64_t n, F value) {
  copy_or_rebind(m, name, DType::F32, {n}, r, [&](Tensor& t) {
    for (std::int64_t e = 0; e < n; ++e) {
      const float v = value(e);
      std::memcpy(t.data() + 4 * e, &v, 4);
    }
  });
}

}  // namespace

void experts_check_backend(const ExpertsSpec& s, Backend b) {
  if (b == Backend::Trtllm && s.H % 64)
    bad_input("", s.name, "trtllm needs the hidden size H = " + std::to_string(s.H) + " to be a multiple of 64");
}

ExpertsPlan experts_create_weights(const ExpertsSpec& s, Backend b, LayoutCache& layouts, Module& m) {
  ExpertsPlan p;
  p.name = s.name;
  p.backend = b;
  p.E = s.E;
  p.H = s.H;
  p.I = s.I;
  p.has_input_scale = s.has_input_scale;
  p.layer_input_maxima = s.layer_input_maxima;
  const bool trt = b == Backend::Trtllm;
  experts_check_backend(s, b);
  const std::int64_t E = s.E, H = s.H, I = s.I;
  p.Ip = trt ? round_up(I, 64) : I;
  const std::int64_t Ip = p.Ip, Hp = round_up(H, 128);

  // trtllm grows every source in place: storage for the processed shape from the start.
  m.add("w13_weight", with_capacity(DType::U8, {E, 2 * I, H / 2}, E * 2 * Ip * (H / 2)));
  m.add("w2_weight", with_capacity(DType::U8, {E, H, I / 2}, E * H * (Ip / 2)));
  m.add("w13_weight_scale", with_capacity(DType::F8_E4M3, {E, 2 * I, H / 16}, trt ? E * 2 * Ip * (H / 16) : E * 2 * I * (H / 16)));
  m.add("w2_weight_scale", with_capacity(DType::F8_E4M3, {E, H, I / 16}, trt ? E * Hp * (Ip / 16) : E * H * (I / 16)));
  m.add("w13_weight_scale_2", Tensor::empty(DType::F32, {E, 2}));
  m.add("w2_weight_scale_2", Tensor::empty(DType::F32, {E}));
  if (p.has_input_scale) {
    m.add("w13_input_scale", Tensor::empty(DType::F32, {E, 2}));
    m.add("w2_input_scale", Tensor::empty(DType::F32, {E}));
  }

  if (trt) {
    p.w13_rows = layouts.w13_rows(I);
    p.w2_rows = layouts.w2_rows(H);
    p.w13_swizzle = layouts.swizzle(2 * Ip, H / 16);
    p.w2_swizzle = layouts.swizzle(H, Ip / 16);
    p.w13_aliases = p.w2_aliases = true;
    p.scratch_bytes = I * H;  // one expert's w13 weight rows, the largest of the four kinds
  } else {
    p.w13_swizzle = layouts.swizzle(2 * I, H / 16);
    p.w2_swizzle = layouts.swizzle(H, I / 16);
    const Shape s13{E, p.w13_swizzle->Mp, p.w13_swizzle->Kp}, s2{E, p.w2_swizzle->Mp, p.w2_swizzle->Kp};
    p.w13_aliases = aliases_source(m.tensor("w13_weight_scale"), DType::F8_E4M3, s13);
    p.w2_aliases = aliases_source(m.tensor("w2_weight_scale"), DType::F8_E4M3, s2);
    if (!p.w13_aliases) p.w13_swizzled = reserve(DType::F8_E4M3, s13);
    if (!p.w2_aliases) p.w2_swizzled = reserve(DType::F8_E4M3, s2);
    if (p.w13_aliases) p.scratch_bytes = 128 * p.w13_swizzle->Kp;
    if (p.w2_aliases) p.scratch_bytes = std::max(p.scratch_bytes, 128 * p.w2_swizzle->Kp);
  }
  p.w13_global = reserve(DType::F32, {E});
  if (p.has_input_scale) {
    p.g1_alphas = reserve(DType::F32, {E});
    p.g2_alphas = reserve(DType::F32, {E});
    p.w13_quant = reserve(DType::F32, {});
    p.w2_quant = reserve(DType::F32, {});
    if (trt) p.g1_scale_c = reserve(DType::F32, {E});
  }
  p.maps = Tensor::empty(DType::U8, {E, 2, 256});
  for (std::int64_t e = 0; e < E; ++e) {
    auto* gate = reinterpret_cast<const ByteMap*>(p.maps.data() + e * 512);
    RowGroups g13;
    g13.add(I, gate);
    g13.add(2 * I, gate + 1);
    p.w13_groups.push_back(g13);
    RowGroups g2;
    g2.add(H, &identity_map(), true);
    p.w2_groups.push_back(g2);
  }
  return p;
}

Placements experts_direct_rows(const ExpertsPlan& p) {
  if (p.backend != Backend::Trtllm) return {};
  return {{{p.name, "w13_weight"}, {p.w13_rows->destinations(), 2 * p.Ip, p.H / 2}},
          {{p.name, "w2_weight"}, {p.w2_rows->destinations(), p.H, p.Ip / 2}}};
}

void experts_restore_loaded_views(Module& m, const ExpertsPlan& p, bool keep_weights) {
  const std::int64_t E = p.E, H = p.H, I = p.I;
  auto restore = [&](const std::string& n, DType d, Shape s) { m.param(n)->data = m.tensor(n).view_within(d, std::move(s)); };
  if (!keep_weights) {
    restore("w13_weight", DType::U8, {E, 2 * I, H / 2});
    restore("w2_weight", DType::U8, {E, H, I / 2});
  }
  restore("w13_weight_scale", DType::F8_E4M3, {E, 2 * I, H / 16});
  restore("w2_weight_scale", DType::F8_E4M3, {E, H, I / 16});
}

namespace {

// The activation scalars: in13 and in2 (the maxima of the input scales over all experts), the
// alphas per expert, 1 / in13 and 1 / in2, trtllm's g1_scale_c.
void activation_scalars(Module& m, ExpertsPlan& p) {
  const std::int64_t E = p.E;
  // A chunk of a layer's experts takes the layer's maxima (core/module_map.h), so it derives what
  // the whole layer does.
  const auto& layer = p.layer_input_maxima;
  const float in13 = layer ? layer->w13 : max_f32(m.tensor("w13_input_scale"));
  const float in2 = layer ? layer->w2 : max_f32(m.tensor("w2_input_scale"));
  const Tensor& common = m.tensor("w13_weight_global_scale");
  const Tensor& w2_s2 = m.tensor("w2_weight_scale_2");
  set_vector(m, "g1_alphas", p.g1_alphas, E, [&](std::int64_t e) { return in13 * f32_at(common, e); });
  set_vector(m, "g2_alphas", p.g2_alphas, E, [&](std::int64_t e) { return in2 * f32_at(w2_s2, e); });
  const float q13 = 1.0f / in13, q2 = 1.0f / in2;
  set_scalar(m, "w13_input_scale_quant", p.w13_quant, q13);
  set_scalar(m, "w2_input_scale_quant", p.w2_quant, q2);
  if (p.backend == Backend::Trtllm) {
    const Tensor& g1 = m.tensor("g1_alphas");
    set_vector(m, "g1_scale_c", p.g1_scale_c, E, [&](std::int64_t e) { return q2 * f32_at(g1, e); });
  }
}

}  // namespace

void experts_process(Module& m, ExpertsPlan& p, std::span<std::uint8_t> scratch, std::vector<Reconciliation>& rec, bool weights_placed) {
  const std::int64_t E = p.E, H = p.H, I = p.I, Ip = p.Ip;
  const Tensor& s2 = m.tensor("w13_weight_scale_2");

  // Per expert, gate and up onto their max; tables and reported errors from the loaded bytes.
  const Tensor& loaded13 = m.tensor("w13_weight_scale");
  for (std::int64_t e = 0; e < E; ++e) {
    const float g = f32_at(s2, 2 * e), u = f32_at(s2, 2 * e + 1), c = u > g ? u : g;
    for (int half = 0; half < 2; ++half) {
      const float own = half ? u : g;
      ByteMap map = reconcile_map(own, c);
      std::memcpy(p.maps.data() + (2 * e + half) * 256, map.data(), 256);
      p.w13_groups[static_cast<std::size_t>(e)].identity[static_cast<std::size_t>(half)] = own == c;
      if (own != c) {
        std::span<const std::uint8_t> bytes(loaded13.data() + (2 * e + half) * I * (H / 16), static_cast<std::size_t>(I * (H / 16)));
        const std::string_view role = role_names(half ? ExpertRole::Up : ExpertRole::Gate).shard_id;
        rec.push_back({p.name + "." + std::to_string(e), std::string(role), own, c, reconcile_error(bytes, map, own, c)});
      }
    }
  }

  const SwizzleMap &swz13 = *p.w13_swizzle, &swz2 = *p.w2_swizzle;
  if (p.backend == Backend::Cutlass) {
    auto swizzle_all = [&](const std::string& src, const std::string& dst, const SwizzleMap& s, const std::vector<RowGroups>& groups,
                           const ParamPtr& reserved) {
      alias_or_bind_derived_param(
          m, src, dst, DType::F8_E4M3, {E, s.Mp, s.Kp}, reserved,
          [&](Tensor& in_source) {
            for (std::int64_t e = 0; e < E; ++e)
              swizzle_in_place(in_source.data() + e * s.batch_bytes(), s, groups[static_cast<std::size_t>(e)], scratch);
          },
          [&](Tensor& own) {
            const std::uint8_t* from = m.tensor(src).data();
            for (std::int64_t e = 0; e < E; ++e)
              swizzle_into(from + e * s.M * s.K, own.data() + e * s.batch_bytes(), s, groups[static_cast<std::size_t>(e)]);
          });
    };
    swizzle_all("w13_weight_scale", "w13_blockscale_swizzled", swz13, p.w13_groups, p.w13_swizzled);
    swizzle_all("w2_weight_scale", "w2_blockscale_swizzled", swz2, p.w2_groups, p.w2_swizzled);
  } else {
    if (!weights_placed) {
      copy_or_rebind(m, "w13_weight", DType::U8, {E, 2 * Ip, H / 2}, nullptr,
                     [&](Tensor& t) { gather_weight_rows_in_place(t.data(), E, 2 * I, H / 2, *p.w13_rows, H / 2, scratch); });
      copy_or_rebind(m, "w2_weight", DType::U8, {E, H, Ip / 2}, nullptr,
                     [&](Tensor& t) { gather_weight_rows_in_place(t.data(), E, H, I / 2, *p.w2_rows, Ip / 2, scratch); });
    }
    copy_or_rebind(m, "w13_weight_scale", DType::F8_E4M3, {E, swz13.Mp, swz13.Kp}, nullptr, [&](Tensor& t) {
      gather_scale_rows_in_place(t.data(), E, 2 * I, H / 16, *p.w13_rows, swz13, p.w13_groups, scratch);
    });
    copy_or_rebind(m, "w2_weight_scale", DType::F8_E4M3, {E, swz2.Mp, swz2.Kp}, nullptr, [&](Tensor& t) {
      gather_scale_rows_in_place(t.data(), E, H, I / 16, *p.w2_rows, swz2, p.w2_groups, scratch);
    });
    m.alias("w13_blockscale_swizzled", "w13_weight_scale");
    m.alias("w2_blockscale_swizzled", "w2_weight_scale");
  }

  set_vector(m, "w13_weight_global_scale", p.w13_global, E, [&](std::int64_t e) {
    const float g = f32_at(s2, 2 * e), u = f32_at(s2, 2 * e + 1);
    return u > g ? u : g;
  });
  if (p.has_input_scale) activation_scalars(m, p);
}

}  // namespace nvfp4::opt

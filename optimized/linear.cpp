#include "optimized/linear.h"

#include <cstring>

#include "optimized/block_scales.h"
#include "optimized/param_binding.h"
#include "optimized/scalar_params.h"

namespace nvfp4::opt {

LinearPlan linear_create_weights(const LinearSpec& s, LayoutCache& layouts, Module& m) {
  LinearPlan p;
  p.name = s.name;
  p.shard_ids = s.shard_ids;
  p.shard_rows = s.shard_rows;
  p.N = s.N();
  p.K = s.K;
  p.has_input_scale = s.has_input_scale;
  const auto slots = static_cast<std::int64_t>(s.shard_ids.size());
  m.add("weight", Tensor::empty(DType::U8, {p.N, p.K / 2}));
  m.add("weight_scale", Tensor::empty(DType::F8_E4M3, {p.N, p.K / 16}));
  m.add("weight_scale_2", Tensor::empty(DType::F32, {slots}));
  if (p.has_input_scale) m.add("input_scale", Tensor::empty(DType::F32, {slots}));

  p.swizzle = layouts.swizzle(p.N, p.K / 16);
  const Shape swizzled{p.swizzle->Mp, p.swizzle->Kp};
  p.interleaved_aliases = aliases_source(m.tensor("weight_scale"), DType::F8_E4M3, swizzled);
  if (p.interleaved_aliases) p.scratch_bytes = 128 * p.swizzle->Kp;
  else p.interleaved = reserve(DType::F8_E4M3, swizzled);
  if (p.has_input_scale) {
    p.alpha = reserve(DType::F32, {});
    p.input_scale_inv = reserve(DType::F32, {});
  }
  p.weight_global_scale = reserve(DType::F32, {});
  return p;
}

void linear_process(Module& m, const LinearPlan& p, std::span<std::uint8_t> scratch, std::vector<Reconciliation>& rec) {
  const Tensor& s2 = m.tensor("weight_scale_2");
  const float common = max_f32(s2);

  // One byte map per shard onto the common scale; the reported error comes from the loaded bytes,
  // before an in-place swizzle overwrites them.
  std::array<ByteMap, RowGroups::kMax> maps;
  RowGroups groups;
  const Tensor& loaded = m.tensor("weight_scale");
  std::int64_t row = 0;
  for (std::size_t i = 0; i < p.shard_rows.size(); ++i) {
    const float own = f32_at(s2, static_cast<std::int64_t>(i));
    maps[i] = reconcile_map(own, common);
    const std::int64_t rows = p.shard_rows[i];
    groups.add(row + rows, &maps[i]);
    if (own != common) {
      std::span<const std::uint8_t> bytes(loaded.data() + row * (p.K / 16), static_cast<std::size_t>(rows * (p.K / 16)));
      rec.push_back({p.name, p.shard_ids[i], own, common, reconcile_error(bytes, maps[i], own, common)});
    }
    row += rows;
  }

  if (p.has_input_scale) {
    const float in = max_f32(m.tensor("input_scale"));
    set_scalar(m, "alpha", p.alpha, in * common);
    set_scalar(m, "input_scale_inv", p.input_scale_inv, 1.0f / in);
  }
  set_scalar(m, "weight_global_scale", p.weight_global_scale, common);

  const SwizzleMap& swz = *p.swizzle;
  alias_or_bind_derived_param(
      m, "weight_scale", "weight_scale_interleaved", DType::F8_E4M3, {swz.Mp, swz.Kp}, p.interleaved,
      [&](Tensor& in_source) { swizzle_in_place(in_source.data(), swz, groups, scratch); },
      [&](Tensor& own) { swizzle_into(m.tensor("weight_scale").data(), own.data(), swz, groups); });
}

}  // namespace nvfp4::opt

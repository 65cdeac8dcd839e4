// Streaming units of a mapped checkpoint (module_map.h: module_units).
#include "core/module_map.h"

#include <algorithm>
#include <cstring>

#include "core/codecs.h"

namespace nvfp4 {

std::vector<ModuleUnit> module_units(const Checkpoint& c, const ModelSpec& spec, std::uint64_t max_experts_bytes) {
  const FormatNames& fn = format_names(spec.format);
  std::vector<ModuleUnit> units;
  auto add_prefix = [&](ModuleUnit& u, const std::string& p) {
    for (const auto* suffix : {&fn.weight, &fn.weight_scale, &fn.weight_scale_2, &fn.input_scale})
      if (c.has(p + "." + *suffix)) {
        u.tensors.push_back(p + "." + *suffix);
        const TensorInfo& i = c.info(p + "." + *suffix);
        u.bytes += dtype_nbytes(i.dtype, shape_numel(i.shape));
      }
  };
  for (const auto& l : spec.linears) {
    ModuleUnit u{l.name, false, {}, 0, {}, 0, l.name};
    for (const auto& p : l.prefixes) add_prefix(u, p);
    units.push_back(std::move(u));
  }
  for (const auto& x : spec.experts) {
    ModuleUnit whole{x.name, true, {}, 0, {}, 0, x.name};
    for (const auto& ps : x.prefixes)
      for (const auto& p : ps) add_prefix(whole, p);
    if (max_experts_bytes == 0 || whole.bytes <= max_experts_bytes || x.E < 2) {
      units.push_back(std::move(whole));
      continue;
    }
    const std::uint64_t per_expert = whole.bytes / static_cast<std::uint64_t>(x.E);
    const std::int64_t n = std::max<std::int64_t>(1, static_cast<std::int64_t>(max_experts_bytes / std::max<std::uint64_t>(per_expert, 1)));
    for (std::int64_t e0 = 0; e0 < x.E; e0 += n) {
      const std::int64_t e1 = std::min(x.E, e0 + n);
      ModuleUnit u{x.name + "[experts " + std::to_string(e0) + ".." + std::to_string(e1 - 1) + "]", true, {}, 0, {}, e0, x.name};
      for (std::int64_t e = e0; e < e1; ++e)
        for (const auto& p : x.prefixes[static_cast<std::size_t>(e)]) {
          const std::size_t before = u.tensors.size();
          add_prefix(u, p);
          // "<module>.<e>.<rest>" -> "<module>.<e - e0>.<rest>"
          const std::string old_head = x.name + "." + std::to_string(e), new_head = x.name + "." + std::to_string(e - e0);
          for (std::size_t i = before; i < u.tensors.size(); ++i) u.renamed.push_back(new_head + u.tensors[i].substr(old_head.size()));
        }
      units.push_back(std::move(u));
    }
  }
  return units;
}

namespace {
float decoded_scale(const Checkpoint& c, const std::string& name, bool encode) {
  const Tensor t = c.tensor(name);
  float v = 0;
  if (t.dtype() == DType::BF16) {
    std::uint16_t h = 0;
    std::memcpy(&h, t.data(), 2);
    v = bf16_to_f32(h);
  } else {
    std::memcpy(&v, t.data(), 4);
  }
  return encode ? 1.0f / v : v;
}
}  // namespace

std::optional<ExpertsInputMaxima> experts_layer_input_maxima(const Checkpoint& c, const ExpertsSpec& x, CkptFormat f) {
  if (!x.has_input_scale || x.prefixes.empty()) return std::nullopt;
  const FormatNames& fn = format_names(f);
  auto scale = [&](const RolePrefixes& ps, ExpertRole r) { return decoded_scale(c, ps[r] + "." + fn.input_scale, fn.encode_scales); };
  // The same fold as the pipelines' own maxima over [E, 2] and [E] (first element, then max).
  ExpertsInputMaxima m{scale(x.prefixes[0], ExpertRole::Gate), scale(x.prefixes[0], ExpertRole::Down)};
  for (const auto& ps : x.prefixes)
    for (const ExpertRole r : kExpertRoles) {
      float& to = r == ExpertRole::Down ? m.w2 : m.w13;
      to = std::max(to, scale(ps, r));
    }
  return m;
}

Checkpoint unit_view(const Checkpoint& c, const ModelSpec& spec, const ModuleUnit& u) {
  if (u.renamed.empty()) return c.subset(u.tensors);
  Checkpoint view = c.renamed_subset(u.tensors, u.renamed);
  for (const auto& x : spec.experts)
    if (x.name == u.module)
      if (const auto m = experts_layer_input_maxima(c, x, spec.format)) return view.with_experts_input_maxima(u.module, *m);
  return view;
}

std::string module_kind(const ModelSpec& spec, const std::string& module) {
  for (const auto& l : spec.linears)
    if (l.name == module) return l.shard_ids.size() > 1 ? "linear x" + std::to_string(l.shard_ids.size()) : "linear";
  for (const auto& x : spec.experts)
    if (x.name == module) return "experts x" + std::to_string(x.E);
  return "";
}

}  // namespace nvfp4

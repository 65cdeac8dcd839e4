#include "checks/reconcile.h"

#include <algorithm>
#include <cmath>

#include "core/codecs.h"
#include "core/module_names.h"
#include "core/printable.h"

namespace nvfp4::checks {

bool within_reconcile_bound(double s_own, double s2_common, double common) {
  return std::fabs(s2_common - s_own) <= kReconcileRelative * s_own + std::ldexp(common, kReconcileAbsoluteExp);
}

namespace {

// Where the shard's block scales sit: in the raw file (tensor, first byte) and in the reference's
// logical weight (first block), how many blocks, and how many per row.
struct ShardBlocks {
  std::string raw_name;
  std::int64_t raw_first = 0, first = 0, n = 0, kb = 1;
  ref::LogicalWeight w;
};

ShardBlocks locate(const ref::ReferencePipeline& rp, const Reconciliation& rec) {
  ShardBlocks s;
  for (const auto& l : rp.spec().linears)
    if (l.name == rec.module) {
      const auto i = static_cast<std::size_t>(std::find(l.shard_ids.begin(), l.shard_ids.end(), rec.shard) - l.shard_ids.begin());
      s.kb = l.K / 16;
      for (std::size_t k = 0; k < i && k < l.shard_rows.size(); ++k) s.first += l.shard_rows[k] * s.kb;
      if (i == l.shard_ids.size()) break;
      s.n = l.shard_rows[i] * s.kb;
      s.raw_name = (l.fused_on_disk ? l.prefixes[0] : l.prefixes[i]) + ".weight_scale";
      s.raw_first = l.fused_on_disk ? s.first : 0;
      s.w = rp.logical_weight({l.name, -1, ""});
    }
  for (const auto& x : rp.spec().experts)
    for (int e = 0; e < static_cast<int>(x.E); ++e)
      if (x.name + "." + std::to_string(e) == rec.module) {
        // Logical w13 rows: gate (w1), then up (w3).
        const ExpertRole role = rec.shard == role_names(ExpertRole::Up).shard_id ? ExpertRole::Up : ExpertRole::Gate;
        s.kb = x.H / 16;
        s.n = x.I * s.kb;
        s.first = role == ExpertRole::Up ? s.n : 0;
        s.raw_name = x.prefixes[static_cast<std::size_t>(e)][role] + ".weight_scale";
        s.w = rp.logical_weight({x.name, e, "w13"});
      }
  return s;
}

// The first block past the bound, "" if none.
std::string first_past_bound(const ShardBlocks& s, const Tensor& raw, const Reconciliation& rec,
                             const std::function<std::string(const std::string&)>& original) {
  for (std::int64_t i = 0; i < s.n; ++i) {
    const double want = static_cast<double>(e4m3_to_f32(raw.data()[s.raw_first + i])) * rec.own_scale,
                 got = static_cast<double>(e4m3_to_f32(s.w.scales[static_cast<std::size_t>(s.first + i)])) * rec.common_scale;
    if (!within_reconcile_bound(want, got, rec.common_scale))
      return original(s.raw_name) + " block [" + std::to_string(i / s.kb) + ", " + std::to_string(i % s.kb) + "]: S own " + f32_text(want) +
             " reconciled to S' common " + f32_text(got) + ", past 2^-4 S own + 2^-10 common";
  }
  return "";
}

}  // namespace

Result reconcile_within_bound(const ref::ReferencePipeline& rp, const Checkpoint& raw, const Reconciliation& rec,
                              const std::function<std::string(const std::string&)>& original) {
  const ShardBlocks s = locate(rp, rec);
  const std::string past =
      s.raw_name.empty() ? "no shard " + rec.shard + " in " + original(rec.module) : first_past_bound(s, raw.tensor(s.raw_name), rec, original);
  Result r{"reconcile shard " + rec.shard, past.empty(),
           f32_text(rec.own_scale) + " -> " + f32_text(rec.common_scale) + ", worst relative error " + f32_text(rec.max_rel_error) +
               (past.empty() ? " (bound per block 2^-4 S own + 2^-10 common)" : ": " + past),
           {{"own_scale", rec.own_scale},
            {"common_scale", rec.common_scale},
            {"max_rel_error", rec.max_rel_error},
            {"bound", kReconcileRelative},
            {"absolute_bound", std::ldexp(static_cast<double>(rec.common_scale), kReconcileAbsoluteExp)}}};
  return r;
}

}  // namespace nvfp4::checks

// Reconcile bound: a shard whose global scale was reconciled onto its module's common (max) scale
// (vLLM reconcile_nvfp4_moe_w13_scales, vllm/model_executor/layers/quantization/utils/
// nvfp4_moe_support.py; the reference's reference/reconcile.h) has every block scale re-encoded as
// S' = e4m3(S own / common), own <= common. Each block is judged against the raw checkpoint byte.
//
// The bound, from E4M3's arithmetic: a correct rounding of a normal result moves it by at most half
// a step, 2^-4 of it (3 mantissa bits); but below 2^-6 E4M3's steps are 2^-9 apart whatever the
// value, so there a correct rounding may land 2^-10 common away from S own, which no relative bound
// holds. Hence per block
//     |S' common - S own| <= 2^-4 S own + 2^-10 common.
// (A relative bound of 1/16 alone fails correct reconciles whose result is subnormal.)
#pragma once
#include <functional>
#include <string>

#include "checks/result.h"
#include "core/checkpoint.h"
#include "core/pipeline.h"
#include "reference/reference_pipeline.h"

namespace nvfp4::checks {

inline constexpr double kReconcileRelative = 0.0625;  // 2^-4 of S own
inline constexpr int kReconcileAbsoluteExp = -10;     // 2^-10 of common

// s_own = S own, s2_common = S' common, common: the common global scale.
bool within_reconcile_bound(double s_own, double s2_common, double common);

// Every block of the shard `rec` names, the raw checkpoint's byte (`raw`: the tensors the reference
// loaded) against the reference's reconciled byte after processing. original: a tensor's name in the
// user's checkpoint (a chunk of experts is seen renumbered), for the failure line. Held: the scales
// and the worst relative error; values {own_scale, common_scale, max_rel_error, bound, absolute_bound}.
Result reconcile_within_bound(const ref::ReferencePipeline& rp, const Checkpoint& raw, const Reconciliation& rec,
                              const std::function<std::string(const std::string&)>& original);

}  // namespace nvfp4::checks

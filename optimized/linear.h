// Optimized linear modules (backend cutlass), as sglang's ModelOptFp4LinearMethod holds them:
// create_weights allocates the loaded parameters and reserves every derived one, processing writes
// each derived value in place or into its reserve and never allocates.
//
// After processing: alpha = max(input_scale) * max(weight_scale_2), input_scale_inv =
// 1 / max(input_scale), weight_global_scale = max(weight_scale_2) (f32 scalars, copy_or_rebind,
// never aliased into the per-shard sources), and weight_scale_interleaved = the 128x4 swizzle of the
// reconciled weight_scale through alias_or_bind_derived_param: when N % 128 == 0 and K/16 % 4 == 0
// it overwrites weight_scale in place and is the same Parameter; otherwise it is its own and
// weight_scale keeps the loaded bytes.
#pragma once
#include <memory>
#include <span>
#include <vector>

#include "core/module.h"
#include "core/module_map.h"
#include "core/pipeline.h"
#include "optimized/layout_maps.h"

namespace nvfp4::opt {

struct LinearPlan {
  std::string name;
  std::vector<std::string> shard_ids;
  std::vector<std::int64_t> shard_rows;
  std::int64_t N = 0, K = 0;
  bool has_input_scale = true;
  std::shared_ptr<const SwizzleMap> swizzle;  // [N, K/16]
  bool interleaved_aliases = false;           // weight_scale_interleaved is weight_scale itself
  ParamPtr interleaved, alpha, input_scale_inv, weight_global_scale;  // reserved at create_weights
  std::int64_t scratch_bytes = 0;             // one 128-row band for the in-place swizzle
};

// Registers weight U8 [N, K/2], weight_scale F8_E4M3 [N, K/16], weight_scale_2 and input_scale
// F32 [p] in m, and reserves the derived parameters.
LinearPlan linear_create_weights(const LinearSpec& s, LayoutCache& layouts, Module& m);
void linear_process(Module& m, const LinearPlan& p, std::span<std::uint8_t> scratch, std::vector<Reconciliation>& rec);

}  // namespace nvfp4::opt

// Optimized fused-MoE experts, as sglang's ModelOptNvFp4FusedMoEMethod holds them, for the backend
// chosen at create_weights (an engine picks its MoE runner before it creates weights).
//
// Both backends: w13_weight_global_scale[e] = max(w13_weight_scale_2[e, 0], [e, 1]) with each
// half's block scales reconciled onto it; g1_alphas = in13 * that, g2_alphas = in2 *
// w2_weight_scale_2, w13/w2_input_scale_quant = 1 / in13, 1 / in2 (in13, in2: maxima of the input
// scales over all experts and shards). The sources stay bound (freeing them broke reload in sglang
// #25107).
// - cutlass: weights untouched; w13/w2_blockscale_swizzled are the per-expert 128x4 swizzles,
//   aliased onto w13/w2_weight_scale (in place) when the shapes are equal, their own otherwise.
// - trtllm: w13_weight becomes [E, 2Ip, H/2] ([w3; w1], I padded to Ip = roundup(I, 64), gated
//   reorder then shuffle_matrix_a), w2_weight [E, H, Ip/2] (shuffled, K padded), their scales the same
//   rows then 128x4, all in place within the storage reserved at create_weights; the
//   *_blockscale_swizzled names alias the scales; g1_scale_c = w2_input_scale_quant * g1_alphas.
#pragma once
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "core/module.h"
#include "core/module_map.h"
#include "core/pipeline.h"
#include "optimized/block_scales.h"
#include "optimized/layout_maps.h"
#include "optimized/source_loader.h"

namespace nvfp4::opt {

struct ExpertsPlan {
  std::string name;
  Backend backend = Backend::Cutlass;
  std::int64_t E = 0, H = 0, I = 0, Ip = 0;   // Ip: trtllm's padded I (I on cutlass)
  bool has_input_scale = true;
  std::optional<ExpertsInputMaxima> layer_input_maxima;  // a chunk of a layer's experts: the layer's
  std::shared_ptr<const SwizzleMap> w13_swizzle, w2_swizzle;
  std::shared_ptr<const RowMap> w13_rows, w2_rows;  // trtllm
  bool w13_aliases = false, w2_aliases = false;     // the swizzled scales are the sources themselves
  ParamPtr w13_swizzled, w2_swizzled;               // cutlass reserves when they are not
  ParamPtr w13_global, g1_alphas, g2_alphas, w13_quant, w2_quant, g1_scale_c;
  // Reconcile tables, rebuilt in place at every processing (U8 [E, 2, 256]: expert, half), and the
  // row groups of each expert pointing at them (w2 has one shard: identity).
  Tensor maps;
  std::vector<RowGroups> w13_groups, w2_groups;
  std::int64_t scratch_bytes = 0;
};

// trtllm needs H % 64 == 0: BadInput naming the module otherwise (checked before anything is allocated).
void experts_check_backend(const ExpertsSpec& s, Backend b);
// Registers w13_weight U8 [E, 2I, H/2], w2_weight U8 [E, H, I/2], their F8_E4M3 scales
// [E, 2I, H/16] / [E, H, I/16], w13_weight_scale_2 [E, 2], w2_weight_scale_2 [E], w13_input_scale
// [E, 2], w2_input_scale [E] (F32), each with storage for its processed shape; reserves the rest.
ExpertsPlan experts_create_weights(const ExpertsSpec& s, Backend b, LayoutCache& layouts, Module& m);
// Re-views every source parameter in its loaded shape (a reload writes sources again); with
// keep_weights, w13/w2_weight stay in their processed (trtllm) shape: a reload writes them there.
void experts_restore_loaded_views(Module& m, const ExpertsPlan& p, bool keep_weights = false);
// weights_placed: trtllm's w13/w2_weight already hold their processed rows (a reload put them there).
void experts_process(Module& m, ExpertsPlan& p, std::span<std::uint8_t> scratch, std::vector<Reconciliation>& rec,
                     bool weights_placed = false);
// Where a reload writes each expert weight row directly (trtllm), empty on cutlass.
Placements experts_direct_rows(const ExpertsPlan& p);

}  // namespace nvfp4::opt

// Reference fused-MoE experts (backends cutlass and trtllm): create_weights, loaders,
// post-processing and the logical operands of one expert's GEMM.
#pragma once
#include <vector>

#include "core/checkpoint.h"
#include "core/module.h"
#include "core/module_map.h"
#include "core/pipeline.h"
#include "reference/gemm.h"

namespace nvfp4::ref {

// w13_weight U8 [E, 2I, H/2] rows [w1 (gate); w3 (up)], w2_weight U8 [E, H, I/2], their F8_E4M3
// scales [E, 2I, H/16] / [E, H, I/16], w13_weight_scale_2 [E, 2], w2_weight_scale_2 [E],
// w13_input_scale [E, 2], w2_input_scale [E] (F32).
Module experts_create_weights(const ExpertsSpec& s);
void experts_load(Module& m, const ExpertsSpec& s, const Checkpoint& c, CkptFormat f);
Module experts_process(const Module& src, const ExpertsSpec& s, Backend b, std::vector<Reconciliation>& rec);
// proj "w13" (output rows [gate; up] whatever the backend) or "w2".
LogicalWeight experts_logical(const Module& processed, const ExpertsSpec& s, Backend b, int expert, const std::string& proj);
GemmScalars experts_scalars(const Module& processed, const ExpertsSpec& s, int expert, const std::string& proj, GemmMode mode);
// trtllm's padded intermediate size.
std::int64_t trtllm_padded_intermediate(std::int64_t I);

}  // namespace nvfp4::ref

// Reference linear modules (backend cutlass): create_weights, loaders, post-processing and the
// logical operands of the GEMM. Every derived value is a fresh tensor; sources are never written.
#pragma once
#include <vector>

#include "core/checkpoint.h"
#include "core/module.h"
#include "core/module_map.h"
#include "core/pipeline.h"
#include "reference/gemm.h"

namespace nvfp4::ref {

// weight U8 [N, K/2], weight_scale F8_E4M3 [N, K/16], weight_scale_2 and input_scale F32 [p].
Module linear_create_weights(const LinearSpec& s);
void linear_load(Module& m, const LinearSpec& s, const Checkpoint& c, CkptFormat f);
// The module's parameters after post-processing (sources' names included), all fresh tensors:
// alpha, input_scale_inv, weight_global_scale, weight_scale_interleaved; weight_scale holds the
// swizzled bytes when the swizzled shape equals its own (where an engine aliases the two).
Module linear_process(const Module& src, const LinearSpec& s, std::vector<Reconciliation>& rec);
LogicalWeight linear_logical(const Module& processed, const LinearSpec& s);
GemmScalars linear_scalars(const Module& processed, const LinearSpec& s, GemmMode mode);

}  // namespace nvfp4::ref

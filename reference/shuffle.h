// TRT-LLM-gen MoE row permutations (docs/formats.md#trt-llm-gen-moe-row-permutations), built the way FlashInfer builds them: a
// source-to-destination map per block, inverted into row_indices[new_row] = old_row.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace nvfp4::ref {

using Permutation = std::vector<std::int64_t>;  // row_indices[new] = old

// reorder_rows_for_gated_act_gemm: rows of the two halves interleaved (M even).
Permutation gated_act_reorder(std::int64_t M);
// shuffle_matrix_a / shuffle_matrix_sf_a row indices for an epilogue tile (128 or 64).
Permutation shuffle_a_rows(std::int64_t M, int epilogue_tile_m);
// out[n] = in[first[second[n]]]: apply `first`, then `second`.
Permutation compose(const Permutation& first, const Permutation& second);
// out rows = in rows [perm[n]] for a [M, ...] or [E, M, ...] tensor (each expert alike).
Tensor permute_rows(const Tensor& in, const Permutation& perm);

}  // namespace nvfp4::ref

// trtllm MoE preparation in place (FlashInfer prepare_static_weights_for_trtllm_fp4_moe, with the
// preallocated outputs of sglang #26861 instead of list-and-stack): every expert's rows gathered
// through the per-shape row map (w3/w1 reorder and shuffle_matrix_a composed, I zero-padded to a
// multiple of 64), scales reconciled and written in the 128x4 layout on the way.
//
// The [E, rows_in, cols_in] loaded tensor sits at the start of a storage sized at create_weights
// for the [E, rows_out, cols_out] result (rows_out >= rows_in, cols_out >= cols_in). Experts are
// done last to first: expert e's output starts at or after its input, and every earlier expert's
// input lies below both, so the only bytes to save first are expert e's own, copied into one
// scratch block of rows_in * cols_in bytes that every expert and tensor kind reuses.
#pragma once
#include <cstdint>
#include <span>

#include "optimized/block_scales.h"
#include "optimized/layout_maps.h"

namespace nvfp4::opt {

// Packed E2M1 weights: output row n of expert e is input row map[n] (zeros for -1), followed by
// zero bytes from cols_in to cols_out (w2's K padding).
void gather_weight_rows_in_place(std::uint8_t* storage, std::int64_t E, std::int64_t rows_in, std::int64_t cols_in,
                                 const RowMap& map, std::int64_t cols_out, std::span<std::uint8_t> scratch);

// Block scales: the same row gather, each input row through its group's byte map (expert e's maps
// are groups[e]), written 128x4-swizzled as an [s.M = map.rows_out, s.K >= cols_in] scale matrix
// per expert, padding zero.
void gather_scale_rows_in_place(std::uint8_t* storage, std::int64_t E, std::int64_t rows_in, std::int64_t cols_in,
                                const RowMap& map, const SwizzleMap& s, std::span<const RowGroups> groups,
                                std::span<std::uint8_t> scratch);

}  // namespace nvfp4::opt

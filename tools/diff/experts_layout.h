// An experts module as an engine lays it out, per its conventions row: where each logical row is
// stored, and the bytes the reference's post-processing gives under the row's order and padding.
#pragma once
#include <vector>

#include "core/module.h"
#include "core/module_map.h"
#include "tools/diff/conventions.h"

namespace nvfp4::diff {

// The stored row of each logical row of one projection ([gate; up] for w13), the same for every
// expert. Hp: w2's stored rows (H, or H padded), the size FlashInfer's shuffle runs over; Ip: each
// w13 half's stored rows (I, or I padded).
std::vector<std::int64_t> stored_rows(const ExpertsConvention& row, const ExpertsSpec& s, bool w13, std::int64_t Hp, std::int64_t Ip);

// The reference's post-processing of the loaded module `src` under the row's conventions: no
// reconcile (no engine reconciles gate and up; the reference reconciles only unequal scales, so it
// is given the gate's for both halves), the row's w13 order fed to the reference's layout, and the
// halves padded to Ip (each, or both at the tail: the row's intermediate_pad) and H to Hp with
// zeros before it; with LoadedScales::AsLoaded, *_weight_scale holds those loaded scales and
// *_blockscale_swizzled the swizzle apart.
Module expected_layout(const ExpertsConvention& row, const Module& src, const ExpertsSpec& s, std::int64_t Hp, std::int64_t Ip);

}  // namespace nvfp4::diff

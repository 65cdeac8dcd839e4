// Per-tensor scales aimed at the places bugs hide: the writer's own scales put the max of
// every reduction on the last shard and give ratios no rounding step notices. aim_scales rewrites
// the weight and input scales of a generated checkpoint (ModelOpt or compressed-tensors) so that
//   - every shard, expert and half has its own value, and the max of each reduction (shards of a
//     linear module; gate or up of an expert; input scales over all experts) sits at a generated
//     position: first, last, middle, gate or up;
//   - each weight scale is its module's max times a ratio with few mantissa bits (3/4, 5/8, 9/16,
//     ...), so that reconciling block scales onto the max, E4M3(S * ratio), lands exactly on an E4M3
//     rounding midpoint for many bytes S (uniform random scales almost never do).
// The checkpoint stays valid; only its scalars change. Call inside a property (it draws values).
#pragma once
#include "core/module_map.h"
#include "generator/checkpoint_writer.h"

namespace nvfp4 {

void aim_scales(GeneratedCheckpoint& g, const ModelSpec& spec);

}  // namespace nvfp4

// One linear module of an engine dump against the checkpoint.
//
// Both engines' cutlass conventions, read off their code and off dumps their own loaders wrote
// (tools/engine_dumps/README.md):
//   sglang 0.5.23 ModelOptFp4LinearMethod: weight U8 padded to N, K multiples of 32 (zeros);
//     weight_scale_interleaved = the 128x4 swizzle of the loaded block scales, rows padded to 128
//     of the *unpadded* N; weight_scale aliases it when the shapes agree, else keeps the loaded
//     bytes; alpha = f32(max input_scale * max weight_scale_2), input_scale_inv = f32(1 / max
//     input_scale), both 0-dim; weight_scale_2 and input_scale stay per shard [p].
//   vLLM 0.33.0 CutlassNvFp4LinearKernel: the same weight padding; weight_scale holds the swizzle;
//     weight_global_scale, input_global_scale, input_global_scale_inv and alpha are 0-dim.
// Compressed-tensors (encode scales on disk): sglang's CompressedTensorsW4A4Fp4 keeps weight_packed
//   unpadded, the swizzle under weight_scale, the max encode scales, alpha = 1 / (in x w); vLLM's
//   CompressedTensorsW4A4Nvfp4 renames weight_packed to weight (padded as above) and holds the
//   reciprocals of the max encode scales as decode scales.
// Neither reconciles shards whose global scales differ: both keep the max decode scale (ModelOpt)
// or the max encode scale (compressed-tensors, so the *smallest* decode scale), and the block scales.
#pragma once
#include "core/checkpoint.h"
#include "core/module_map.h"
#include "tools/diff/engine_dump.h"
#include "tools/diff/module_diff.h"

namespace nvfp4::diff {

// `c` holds at least this module's tensors. Semantic: the engine's codes and block scales,
// decoded through its layout, dequantize under the common global scale its alpha carries to the
// checkpoint's own values (exactly where a shard's scale is the common one, within the E4M3
// rounding of a reconcile elsewhere), and its scalars are the ones the checkpoint implies.
// Layout: every tensor's bytes equal the reference's post-processing under the engine's
// convention, padding zero. Throws BadInput when a tensor's shape cannot come from this module.
ModuleDiff diff_linear(const LinearSpec& s, const Checkpoint& c, const EngineDump& d, Engine e);

}  // namespace nvfp4::diff

// A pipeline's parameters captured by name (identity, storage address and bytes), and the first
// difference between two captures: which parameter, which state, the element and both values.
// Used by verify, the properties, the unit tests and the fuzz targets alike.
#pragma once
#include <map>
#include <string>

#include "core/pipeline.h"

namespace nvfp4 {

// Every parameter of every module, by "module.param": the Parameter's identity, where its bytes
// live, and a copy of them.
struct ParamState {
  const Parameter* identity;
  const void* address;
  Tensor bytes;
};
using State = std::map<std::string, ParamState>;
State capture(const Pipeline& p);
// The same without copying the bytes: each entry shares the parameter's storage, so it reads what
// the pipeline holds now. Compare it at once and drop it; a copy is only needed for a state the
// pipeline will overwrite (in place) before the comparison.
State peek(const Pipeline& p);

// What must be the same besides the names, the bytes and which names are aliases of which (always
// compared): nothing more, also every Parameter object, or also every storage address (what a
// CUDA-graph-captured kernel holds on to).
enum class Same { Bytes, Identities, Addresses };

// "" when equal; otherwise the first difference, e.g.
// "model.layers.0.mlp.experts.w13_weight F8_E4M3[2, 64, 4] byte 17 (element [0, 4, 1]): 0x38 (a) vs 0x30 (b)".
std::string first_difference(const State& a, const State& b, Same same, const std::string& what_a, const std::string& what_b);

}  // namespace nvfp4

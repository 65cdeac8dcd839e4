// A pipeline's parameters captured by name (identity and bytes), and the first difference between
// two captures: which parameter, which state, the element and both values. Used by verify, the
// properties, the unit tests and the fuzz targets alike.
#pragma once
#include <map>
#include <string>

#include "core/pipeline.h"

namespace nvfp4 {

// Every parameter of every module, by "module.param": the Parameter's identity and a copy of its bytes.
struct ParamState { const Parameter* identity; Tensor bytes; };
using State = std::map<std::string, ParamState>;
State capture(const Pipeline& p);

// "" when equal; otherwise the first difference, e.g.
// "model.layers.0.mlp.experts.w13_weight F8_E4M3[2, 64, 4] byte 17 (index [0, 4, 1]): 0x38 vs 0x30".
std::string first_difference(const State& a, const State& b, bool compare_identity, const std::string& what_a,
                             const std::string& what_b);

}  // namespace nvfp4

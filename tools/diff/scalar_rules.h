// The conventions' scalar rules (tools/diff/conventions.h) evaluated on one module of the
// checkpoint: the values each scalar parameter of the engine must hold, in the engine's f32 order,
// ready for check_scalars.
#pragma once
#include <vector>

#include "core/checkpoint.h"
#include "core/module.h"
#include "core/module_map.h"
#include "tools/diff/conventions.h"
#include "tools/diff/scalar_check.h"

namespace nvfp4::diff {

// The per-tensor scales of one linear module as the engines read them.
struct LinearScales {
  std::vector<float> s2, in;             // per shard decode scales, as loaded (in empty: W4A16)
  float s2max = 0, inmax = 1;            // their max (inmax 1 without input scales)
  float w_enc_max = 0, in_enc_max = 0;   // compressed-tensors: the largest encode scales on disk
};

std::vector<ScalarExpect> linear_scalars(const std::vector<LinearScalar>& rules, const LinearSpec& s, const LinearScales& t);

// src: the module as the reference's loaders read it (decode scales); c: the checkpoint, for the
// encode scales compressed-tensors rules name.
std::vector<ScalarExpect> experts_scalars(const ExpertsConvention& row, const ExpertsSpec& s, const Module& src, const Checkpoint& c);

}  // namespace nvfp4::diff

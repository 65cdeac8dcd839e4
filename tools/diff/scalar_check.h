// The f32 scalars an engine derives (alphas, input quantization scales, kept per-shard copies),
// each compared bit for bit with the value the checkpoint implies.
#pragma once
#include <string>
#include <vector>

#include "tools/diff/engine_dump.h"
#include "tools/diff/module_diff.h"

namespace nvfp4::diff {

struct ScalarExpect {
  std::string name;              // under the module
  std::vector<float> expected;   // one value (0-dim or [1]) or one per slot
  Verdict verdict;               // semantic: what a GEMM multiplies by; layout: copies kept for a reload
  std::string what;              // how the expected value is formed
  std::vector<std::string> slot; // a label per slot ("q", "expert 3"), when more than one
  // Each slot may instead hold any one of these values (sglang writes one of an expert's two
  // input scales into both w13 slots, whichever loads last).
  std::vector<std::vector<float>> any_of;
};

// Appends each scalar found to `out.params`; a missing or misshapen one is a mismatch.
void check_scalars(const EngineDump& d, const std::string& prefix, const std::vector<ScalarExpect>& scalars, ModuleDiff& out, MismatchLog& log);

}  // namespace nvfp4::diff

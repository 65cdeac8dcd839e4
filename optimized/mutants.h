// Historic NVFP4 weight-pipeline bugs, each switchable into a separate test build of the optimized
// pipeline (mutants/CMakeLists.txt compiles the files that hold them with -DNVFP4_MUTANT=<id>).
// In the production build NVFP4_MUTANT is 0 and every `if constexpr (mutant(k))` branch is
// discarded at compile time: nothing of this reaches the shipped code path.
//
//  1 source weight_scale deleted after post-processing             sglang #25107 (before #25190)
//  2 fused-on-disk global scale written to slot 0 only             vLLM #39764
//  3 shuffled (trtllm) weights not refreshed by a reload           sglang #22204 (before the fix)
//  4 alias bound without the broadcast/shape check                 #25190's fallback removed
//  5 scratch gather reads the previous expert's rows               the preallocation PR
//  6 reload skips re-deriving (a pure "already processed" flag)    rejected in #25190
//  7 post-processing runs again on already swizzled data           (double swizzle)
// The ctest label `mutants` checks that the property meant for each one fails on it.
#pragma once

#ifndef NVFP4_MUTANT
#define NVFP4_MUTANT 0
#endif

namespace nvfp4::opt {
constexpr bool mutant(int id) { return NVFP4_MUTANT == id; }
}  // namespace nvfp4::opt

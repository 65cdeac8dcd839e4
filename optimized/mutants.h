// Historic NVFP4 weight-pipeline bugs, each switchable into a separate test build of the optimized
// pipeline (properties/mutants.cmake compiles the files that hold them with -DNVFP4_MUTANT=<id>).
// In the production build NVFP4_MUTANT is 0 and every `if constexpr (mutant(k))` branch is
// discarded at compile time: nothing of this reaches the shipped code path.
// The list (id, bug, upstream reference, the property that must fail on it): mutants/historic.tsv.
#pragma once

#ifndef NVFP4_MUTANT
#define NVFP4_MUTANT 0
#endif

namespace nvfp4::opt {
constexpr bool mutant(int id) { return NVFP4_MUTANT == id; }
}  // namespace nvfp4::opt

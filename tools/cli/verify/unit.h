// Every check of one module (a linear module, an experts module or a chunk of one), on that module
// alone: every pipeline of the registry loads it from a view of the checkpoint holding only its
// tensors, so memory is bounded by the module, and the allocation counts are this thread's own
// (AllocScope). The reference (the registry's first entry) is also the oracle the others' GEMMs
// are judged against.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "checks/result.h"
#include "core/checkpoint.h"
#include "core/module_map.h"
#include "core/pipeline.h"
#include "tools/cli/verify/phases.h"

namespace nvfp4::cli {

struct VerifyOptions {
  Backend backend = Backend::Cutlass;
  std::int64_t reloads = 2;
  std::vector<std::int64_t> activation_rows;  // the M of the GEMMs, ascending; empty: no GEMMs
};

// One row of the report: the check's result under its module ("module: name").
struct Check {
  std::string module;
  checks::Result result;
};

struct UnitResult {
  std::vector<Check> checks;
  std::int64_t peak_bytes = 0;  // every pipeline together, at the module's worst moment
  double seconds = 0;
  Phases phases;
  double kernel_worst = -1;     // max over GEMMs of |got - exact| / bound; -1: no GEMM ran
  double reconcile_worst = -1;  // max relative error of a reconciled shard; -1: none reconciled
};

UnitResult verify_unit(const Checkpoint& ck, const std::vector<Checkpoint>& again, const ModuleUnit& u, const VerifyOptions& v);

}  // namespace nvfp4::cli

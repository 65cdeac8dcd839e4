// verify's GEMM checks of one projection in one mode: every pipeline under test through its
// kernels against the exact oracle on sampled activation rows (checks/gemm_vs_oracle.h), and the
// reference's Eigen path (double accumulation, its own bound) on the two rows every GEMM holds, on
// the edge columns. The Eigen path is the reference's own second oracle, pinned on every shape by
// the properties; here it is a cross-check on the user's data, and on every row it would cost more
// than the exact oracle.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "checks/result.h"
#include "core/pipeline.h"
#include "reference/reference_pipeline.h"
#include "tools/cli/verify/phases.h"

namespace nvfp4::cli {

// The comma-separated M of a GEMM check's detail.
std::string m_list(const std::vector<std::int64_t>& ms);

// w: the reference's logical weight of t, the same in both modes; ms: the row counts, ascending.
// The Eigen path's result first, then one per pipeline of `under_test`, in that order.
std::vector<checks::Result> gemm_checks(const ref::ReferencePipeline& rp, const std::vector<const Pipeline*>& under_test,
                                        const GemmTarget& t, const ref::LogicalWeight& w, GemmMode mode, const std::vector<std::int64_t>& ms,
                                        Phases& ph);

}  // namespace nvfp4::cli

// Agreement: two pipelines loaded and processed from the same checkpoint for the same backend hold
// the same parameter names, the same aliases (which names share one Parameter), the same bytes, and
// the same reconciliation reports (each reconciled shard, both scales and the error it cost).
#pragma once
#include <string>
#include <vector>

#include "checks/result.h"
#include "checks/state.h"
#include "core/pipeline.h"

namespace nvfp4::checks {

// The first difference between two reconciliation reports, "" if none: the entry, and both sides'
// module, shard, scales and error.
std::string reconciliation_difference(const std::vector<Reconciliation>& a, const std::vector<Reconciliation>& b, const std::string& wa,
                                      const std::string& wb);

// a and b as captured (or peeked) after processing. Held: "N parameters"; values {parameters}.
Result agreement(const Pipeline& a, const State& sa, const Pipeline& b, const State& sb);
// The same on what both hold now.
Result agreement(const Pipeline& a, const Pipeline& b);

}  // namespace nvfp4::checks

// The memory contract of a preallocating pipeline (the optimized one): load + processing allocate
// exactly the bytes that stay resident, and the peak stays within resident + scratch. Counted by the
// tracking allocator (core/allocator.h), so the numbers are exact, not sampled.
#pragma once
#include <cstdint>

#include "checks/result.h"
#include "core/allocator.h"
#include "core/pipeline.h"

namespace nvfp4::checks {

// load: what load + processing allocated (an AllocScope around both); budget: what the pipeline
// says it holds afterwards. values {allocated_bytes, allocations, resident_bytes, scratch_bytes,
// peak_bytes}.
Result memory_contract(const AllocStats& load, const MemoryBudget& budget);

}  // namespace nvfp4::checks

#include "checks/memory.h"

namespace nvfp4::checks {

Result memory_contract(const AllocStats& load, const MemoryBudget& budget) {
  const std::int64_t resident = budget.resident_bytes, scratch = budget.scratch_bytes;
  const bool ok = load.alloc_bytes == resident && load.peak_bytes <= resident + scratch;
  return {"load + processing allocate only what stays resident", ok,
          "allocated " + std::to_string(load.alloc_bytes) + " bytes in " + std::to_string(load.alloc_count) + " allocations, resident " +
              std::to_string(resident) + " (scratch " + std::to_string(scratch) + "), peak " + std::to_string(load.peak_bytes) +
              " <= resident + scratch",
          {{"allocated_bytes", load.alloc_bytes},
           {"allocations", load.alloc_count},
           {"resident_bytes", resident},
           {"scratch_bytes", scratch},
           {"peak_bytes", load.peak_bytes}}};
}

}  // namespace nvfp4::checks

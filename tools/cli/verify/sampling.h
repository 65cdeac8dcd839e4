// What verify's run covered and what it did not, in words: which M multiplied which kernel path,
// how the rows and columns were sampled, and the list of what a PASS does not speak for.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "optimized/kernels/dispatch.h"
#include "tools/cli/verify/report.h"
#include "tools/cli/verify/unit.h"

namespace nvfp4::cli {

struct Coverage {
  opt::Isa isa;
  bool by_paths = true;  // the M are the kernel set's path rows (no --activation-rows)
  std::int64_t experts = 0, chunk_mib = 64;
  std::size_t chunks = 0;  // expert chunks (layers over chunk_mib)
};

Sampled describe_sampling(const VerifyOptions& v, const Coverage& c);
std::vector<std::string> not_checked(const VerifyOptions& v, const Coverage& c);

}  // namespace nvfp4::cli

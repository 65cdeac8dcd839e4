// Per quantized module, what its scales say about its weights (inspect's report): the largest
// dequantized magnitude and a histogram of its block scales by E4M3 exponent, for `nvfp4 inspect`.
// A module whose histogram sits far from its neighbours', or whose amax is orders of magnitude
// off, is worth a look even when every check passes.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/checkpoint.h"
#include "core/module_map.h"

namespace nvfp4 {

struct ScaleSummary {
  std::string module;
  double amax = 0;  // max |E2M1 code x block scale x decode global scale| over every shard and expert
  // Block scales by E4M3 exponent field: [0] zero and subnormal (below 2^-6), [e] 2^(e-7) <= s < 2^(e-6).
  std::array<std::int64_t, 16> exponents{};
  std::int64_t blocks = 0;
};

// One pass over every module's weights and block scales (the pages are released after each).
std::vector<ScaleSummary> scale_summaries(const Checkpoint& c, const ModelSpec& spec);

// The histogram as 16 characters, ' ' for an empty bucket and ".:-=+*#%@" by share of the largest.
std::string histogram_glyphs(const std::array<std::int64_t, 16>& h);

}  // namespace nvfp4

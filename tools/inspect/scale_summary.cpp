#include "tools/inspect/scale_summary.h"

#include <algorithm>
#include <cmath>

#include "core/codecs.h"
#include "tools/inspect/findings.h"

namespace nvfp4 {

namespace {
// One weight: packed codes [N, K/2] and block scales [N, K/16], with its decode global scale.
void add_weight(const Checkpoint& c, const std::string& w, const std::string& s, float s2, ScaleSummary& out) {
  const Tensor codes = c.tensor(w), scales = c.tensor(s);
  const std::int64_t N = scales.shape()[0], kb = scales.shape()[1], row = codes.shape()[1];
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t b = 0; b < kb; ++b) {
      const std::uint8_t sb = scales.data()[n * kb + b];
      ++out.exponents[(sb >> 3) & 0xF];
      float big = 0;  // the block's largest |code|
      for (const std::uint8_t* p = codes.data() + n * row + 8 * b; p < codes.data() + n * row + 8 * b + 8; ++p)
        big = std::max({big, std::fabs(e2m1_to_f32(e2m1_even(*p))), std::fabs(e2m1_to_f32(e2m1_odd(*p)))});
      const double v = static_cast<double>(big) * std::fabs(static_cast<double>(e4m3_to_f32(sb))) * std::fabs(static_cast<double>(s2));
      if (std::isfinite(v)) out.amax = std::max(out.amax, v);
    }
  out.blocks += N * kb;
  c.release({w, s});
}
}  // namespace

std::vector<ScaleSummary> scale_summaries(const Checkpoint& c, const ModelSpec& spec) {
  const FormatNames& fn = format_names(spec.format);
  std::vector<ScaleSummary> r;
  auto prefix = [&](const std::string& p, ScaleSummary& out) {
    add_weight(c, p + "." + fn.weight, p + "." + fn.weight_scale, read_decode_scale(c, p + "." + fn.weight_scale_2, fn.encode_scales), out);
  };
  for (const auto& l : spec.linears) {
    r.push_back({l.name, 0, {}, 0});
    for (const auto& p : l.prefixes) prefix(p, r.back());
  }
  for (const auto& x : spec.experts) {
    r.push_back({x.name, 0, {}, 0});
    for (const auto& ps : x.prefixes)
      for (const auto& p : ps) prefix(p, r.back());
  }
  return r;
}

std::string histogram_glyphs(const std::array<std::int64_t, 16>& h) {
  static const char kLevels[] = ".:-=+*#%@";
  const std::int64_t top = *std::max_element(h.begin(), h.end());
  std::string g;
  for (std::int64_t v : h)
    g += v == 0 || top == 0 ? ' ' : kLevels[std::min<std::int64_t>(8, (v * 9 - 1) / top)];
  return g;
}

}  // namespace nvfp4

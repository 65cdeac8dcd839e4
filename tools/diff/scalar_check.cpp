#include "tools/diff/scalar_check.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace nvfp4::diff {

namespace {
bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }
}  // namespace

void check_scalars(const EngineDump& d, const std::string& pre, const std::vector<ScalarExpect>& scalars, ModuleDiff& out, MismatchLog& log) {
  for (const ScalarExpect& sc : scalars) {
    const std::string name = pre + sc.name;
    if (!d.has(name)) {
      log.add(sc.name, sc.verdict, "", sc.what, sc.expected.empty() ? "present" : f32_text(sc.expected[0]), "absent");
      continue;
    }
    Tensor v = d.tensor(name);
    out.params.push_back(sc.name);
    const std::size_t n = sc.any_of.empty() ? sc.expected.size() : sc.any_of.size();
    if (v.dtype() != DType::F32 || v.numel() != static_cast<std::int64_t>(n)) {
      log.add(sc.name, sc.verdict, "", sc.what, "F32 with " + std::to_string(n) + " element(s)", std::string(dtype_name(v.dtype())) + " " + shape_str(v.shape()));
      continue;
    }
    for (std::size_t i = 0; i < n; ++i) {
      const float got = v.get_f32(static_cast<std::int64_t>(i));
      std::string what = sc.what + (sc.slot.size() > i ? " (" + sc.slot[i] + ")" : "");
      std::string index = n > 1 ? at({static_cast<std::int64_t>(i)}) : std::string();
      if (!sc.any_of.empty()) {
        const auto& ok = sc.any_of[i];
        if (std::any_of(ok.begin(), ok.end(), [&](float x) { return same_bits(x, got); })) continue;
        std::string list;
        for (float x : ok) list += (list.empty() ? "" : " or ") + f32_text(x);
        log.add(sc.name, sc.verdict, index, what, list, f32_text(got));
        continue;
      }
      if (same_bits(got, sc.expected[i])) continue;
      if (std::isfinite(got) && got != 0 && sc.expected[i] != 0) what += ": off by a factor " + f32_text(static_cast<double>(got) / sc.expected[i]);
      log.add(sc.name, sc.verdict, index, what, f32_text(sc.expected[i]), f32_text(got));
    }
  }
}

}  // namespace nvfp4::diff

#include "core/pipeline_state.h"

#include <algorithm>

#include <cstdio>

namespace nvfp4 {

State capture(const Pipeline& p) {
  State s;
  for (const auto& [m, mod] : p.modules())
    for (const auto& [n, prm] : mod.entries()) s[m + "." + n] = {prm.get(), prm->data.clone()};
  return s;
}

namespace {
std::string index_of(const Shape& s, std::size_t flat) {
  std::string r = "]";
  for (std::size_t d = s.size(); d-- > 0;) {
    auto n = static_cast<std::size_t>(s[d]);
    r = (d ? ", " : "") + std::to_string(n ? flat % n : 0) + r;
    flat = n ? flat / n : 0;
  }
  return "[" + r;
}
}  // namespace

std::string first_difference(const State& a, const State& b, bool compare_identity, const std::string& wa,
                             const std::string& wb) {
  for (const auto& [name, x] : a) {
    auto it = b.find(name);
    if (it == b.end()) return name + " exists in " + wa + " but not in " + wb;
    const Tensor &u = x.bytes, &v = it->second.bytes;
    if (compare_identity && x.identity != it->second.identity) return name + ": a different Parameter object in " + wb;
    if (u.dtype() != v.dtype() || u.shape() != v.shape()) return name + ": " + describe(u) + " in " + wa + " vs " + describe(v) + " in " + wb;
    std::size_t es = std::max<std::size_t>(1, static_cast<std::size_t>(dtype_bits(u.dtype()) / 8));
    for (std::size_t i = 0; i < u.nbytes(); ++i)
      if (u.data()[i] != v.data()[i]) {
        char buf[64];
        std::snprintf(buf, sizeof buf, ": 0x%02x (%s) vs 0x%02x (%s)", u.data()[i], wa.c_str(), v.data()[i], wb.c_str());
        std::string val;
        if (u.dtype() == DType::F32 || u.dtype() == DType::F8_E4M3)
          val = " = " + std::to_string(u.get_f32(static_cast<std::int64_t>(i / es))) + " vs " +
                std::to_string(v.get_f32(static_cast<std::int64_t>(i / es)));
        return name + " " + describe(u) + " byte " + std::to_string(i) + " (element " + index_of(u.shape(), i / es) + ")" +
               buf + val;
      }
  }
  for (const auto& [name, y] : b)
    if (!a.count(name)) return name + " exists in " + wb + " but not in " + wa;
  return "";
}

}  // namespace nvfp4

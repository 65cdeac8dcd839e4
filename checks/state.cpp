#include "checks/state.h"

#include <cstring>

#include <algorithm>

#include <cstdio>

namespace nvfp4 {

State capture(const Pipeline& p) {
  State s;
  for (const auto& [m, mod] : p.modules())
    for (const auto& [n, prm] : mod.entries()) s[m + "." + n] = {prm.get(), prm->data.address(), prm->data.clone()};
  return s;
}

State peek(const Pipeline& p) {
  State s;
  for (const auto& [m, mod] : p.modules())
    for (const auto& [n, prm] : mod.entries()) s[m + "." + n] = {prm.get(), prm->data.address(), prm->data};
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

// Each name's alias class, named by the first name (in name order) bound to the same Parameter.
std::map<std::string, std::string> alias_classes(const State& s) {
  std::map<const Parameter*, std::string> first;
  std::map<std::string, std::string> r;
  for (const auto& [name, p] : s) r[name] = first.emplace(p.identity, name).first->second;
  return r;
}
}  // namespace

std::string first_difference(const State& a, const State& b, Same same, const std::string& wa, const std::string& wb) {
  for (const auto& [name, y] : b)
    if (!a.count(name)) return name + " exists in " + wb + " but not in " + wa;
  const auto ca = alias_classes(a), cb = alias_classes(b);
  for (const auto& [name, x] : a) {
    auto it = b.find(name);
    if (it == b.end()) return name + " exists in " + wa + " but not in " + wb;
    if (ca.at(name) != cb.at(name)) {
      const std::string& self = name;  // clang 14 cannot capture a structured binding
      auto is = [&self](const std::string& c) { return c == self ? "its own Parameter" : "an alias of " + c; };
      return name + ": " + is(ca.at(name)) + " in " + wa + " but " + is(cb.at(name)) + " in " + wb;
    }
    const Tensor &u = x.bytes, &v = it->second.bytes;
    if (same != Same::Bytes && x.identity != it->second.identity) return name + ": a different Parameter object in " + wb;
    if (same == Same::Addresses && x.address != it->second.address) return name + ": its storage moved in " + wb;
    if (u.dtype() != v.dtype() || u.shape() != v.shape()) return name + ": " + describe(u) + " in " + wa + " vs " + describe(v) + " in " + wb;
    std::size_t es = std::max<std::size_t>(1, static_cast<std::size_t>(dtype_bits(u.dtype()) / 8));
    const std::size_t nb = u.nbytes();
    if (nb == 0 || std::memcmp(u.data(), v.data(), nb) == 0) continue;  // the common case, at memcmp speed
    for (std::size_t i = 0; i < nb; ++i)
      if (u.data()[i] != v.data()[i]) {
        auto hex = [](std::uint8_t b) {
          char h[8];
          std::snprintf(h, sizeof h, "0x%02x", b);
          return std::string(h);
        };
        std::string val;
        if (u.dtype() == DType::F32 || u.dtype() == DType::F8_E4M3) {
          char f[64];
          std::snprintf(f, sizeof f, " = %.9g vs %.9g", static_cast<double>(u.get_f32(static_cast<std::int64_t>(i / es))),
                        static_cast<double>(v.get_f32(static_cast<std::int64_t>(i / es))));
          val = f;
        }
        return name + " " + describe(u) + " byte " + std::to_string(i) + " (element " + index_of(u.shape(), i / es) + "): " +
               hex(u.data()[i]) + " (" + wa + ") vs " + hex(v.data()[i]) + " (" + wb + ")" + val;
      }
  }
  return "";
}

}  // namespace nvfp4

#include "checks/agreement.h"

#include <cstdio>

namespace nvfp4::checks {

std::string reconciliation_difference(const std::vector<Reconciliation>& a, const std::vector<Reconciliation>& b, const std::string& wa,
                                      const std::string& wb) {
  if (a.size() != b.size())
    return std::to_string(a.size()) + " reconciled shards in " + wa + ", " + std::to_string(b.size()) + " in " + wb;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto &x = a[i], &y = b[i];
    if (x.module != y.module || x.shard != y.shard || x.own_scale != y.own_scale || x.common_scale != y.common_scale ||
        x.max_rel_error != y.max_rel_error) {
      char buf[256];
      std::snprintf(buf, sizeof buf, "reconciliation %zu: %s/%s %.9g -> %.9g err %.17g in %s vs %s/%s %.9g -> %.9g err %.17g in %s", i,
                    x.module.c_str(), x.shard.c_str(), static_cast<double>(x.own_scale), static_cast<double>(x.common_scale),
                    x.max_rel_error, wa.c_str(), y.module.c_str(), y.shard.c_str(), static_cast<double>(y.own_scale),
                    static_cast<double>(y.common_scale), y.max_rel_error, wb.c_str());
      return buf;
    }
  }
  return "";
}

Result agreement(const Pipeline& a, const State& sa, const Pipeline& b, const State& sb) {
  std::string d = first_difference(sa, sb, Same::Bytes, a.name(), b.name());
  if (d.empty()) d = reconciliation_difference(a.reconciliations(), b.reconciliations(), a.name(), b.name());
  Result r = held_unless(a.name() + " == " + b.name(), d, std::to_string(sb.size()) + " parameters");
  r.values = {{"parameters", sb.size()}};
  return r;
}

Result agreement(const Pipeline& a, const Pipeline& b) { return agreement(a, peek(a), b, peek(b)); }

}  // namespace nvfp4::checks

// The first difference between two pipelines' reconciliation reports, "" if none: which entry,
// and both sides' module, shard, scales and error (shared by the property files that compare them).
#pragma once
#include <cstdio>
#include <string>
#include <vector>

#include "core/pipeline.h"

namespace nvfp4 {

inline std::string reconciliation_difference(const std::vector<Reconciliation>& a, const std::vector<Reconciliation>& b,
                                      const std::string& wa, const std::string& wb) {
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

}  // namespace nvfp4

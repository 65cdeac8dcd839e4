#include "tools/cli/verify/report.h"

#include <algorithm>
#include <cstdio>

#include "core/printable.h"
#include "tools/cli/report_json.h"

namespace nvfp4::cli {

void VerifyReport::add(const std::string& module, checks::Result r) {
  r.name = printable_short(r.name, 240);
  r.detail = printable_short(r.detail, 1000);
  checks.push_back({printable_short(module, 240), std::move(r)});
}

int VerifyReport::failed() const {
  int n = 0;
  for (const auto& c : checks) n += !c.result.ok;
  return n;
}

namespace {

std::string module_table(const std::vector<ModuleRow>& rows) {
  std::size_t w = 6;
  for (const auto& r : rows) w = std::max(w, std::min<std::size_t>(r.module.size(), 80));
  std::string t;
  char b[400];
  std::snprintf(b, sizeof b, "%-*s  %-11s %6s  %-6s  %-22s  %s\n", static_cast<int>(w), "module", "kind", "checks", "status",
                "kernel error / bound", "worst reconcile error");
  t += b;
  for (const auto& r : rows) {
    char k[32] = "-", rc[48] = "-";
    if (r.kernel_worst >= 0) std::snprintf(k, sizeof k, "%.3g", r.kernel_worst);
    if (r.reconcile_worst >= 0) std::snprintf(rc, sizeof rc, "%s (bound 2^-4 if normal)", f32_text(r.reconcile_worst).c_str());
    std::snprintf(b, sizeof b, "%-*s  %-11s %6d  %-6s  %-22s  %s\n", static_cast<int>(w), r.module.c_str(), r.kind.c_str(), r.checks,
                  r.failed ? "FAIL" : "PASS", k, rc);
    t += b;
  }
  return t;
}

}  // namespace

std::string render_text(const VerifyReport& r) {
  std::string out;
  for (const auto& f : r.findings) out += "  " + f.line() + "\n";
  for (const auto& c : r.checks)
    out += (c.result.ok ? "PASS " : "FAIL ") + c.result.name + (c.result.detail.empty() ? "" : ": " + c.result.detail) + "\n";
  out += "\n" + module_table(r.table);
  if (!r.not_checked.empty()) {
    out += "not checked:\n";
    for (const auto& n : r.not_checked) out += "  - " + n + "\n";
  }
  char b[256];
  std::snprintf(b, sizeof b, "%zu modules streamed one at a time on %lld jobs; largest module's peak %.1f MiB; %.1f s of module work", r.modules,
                static_cast<long long>(r.jobs), static_cast<double>(r.largest_module_peak_bytes) / (1 << 20), r.module_seconds);
  out += "\n" + std::string(b) + "\n";
  std::snprintf(b, sizeof b,
                "module work by phase: load and process %.1f s, reloads %.1f s, exact oracle %.1f s, Eigen path %.1f s, optimized kernels %.1f s",
                r.phases.load_process, r.phases.reloads, r.phases.exact, r.phases.eigen, r.phases.kernels);
  out += std::string(b) + "\n" + r.sampled.description + "\n";
  const int failed = r.failed();
  out += (failed ? std::to_string(failed) + " of " + std::to_string(r.checks.size()) + " checks failed"
                 : "all " + std::to_string(r.checks.size()) + " checks passed") +
         "\n";
  return out;
}

nlohmann::json render_json(const VerifyReport& r) {
  nlohmann::json j = report_header("verify");
  j["schema_version"] = 2;  // sampled.activation_rows became the list of M (was one row count)
  j["checkpoint"] = printable(r.checkpoint);  // a path need not be UTF-8; the JSON must be
  j["backend"] = backend_name(r.backend);
  j["passed"] = r.failed() == 0;
  j["checks_failed"] = r.failed();
  j["modules"] = r.modules;
  j["jobs"] = r.jobs;
  const Sampled& s = r.sampled;
  j["sampled"] = {{"activation_rows", s.activation_rows},
                  {"kernels", s.kernels},
                  {"eigen_rows_per_projection", s.eigen_rows_per_projection},
                  {"experts", s.experts},
                  {"expert_chunks", s.expert_chunks},
                  {"reloads", s.reloads},
                  {"description", s.description}};
  j["largest_module_peak_bytes"] = r.largest_module_peak_bytes;
  j["seconds"] = {{"modules", r.module_seconds},
                  {"load_and_process", r.phases.load_process},
                  {"reloads", r.phases.reloads},
                  {"exact_oracle", r.phases.exact},
                  {"eigen_path", r.phases.eigen},
                  {"optimized_kernels", r.phases.kernels}};
  j["checks"] = nlohmann::json::array();
  for (const auto& c : r.checks)
    j["checks"].push_back(
        {{"module", c.module}, {"name", c.result.name}, {"ok", c.result.ok}, {"detail", c.result.detail}, {"values", c.result.values}});
  j["findings"] = findings_json(r.findings);
  j["not_checked"] = r.not_checked;
  return j;
}

}  // namespace nvfp4::cli

// verify's report as data, and its two renderings: the text a user reads and the JSON a program
// reads (docs/schema/verify-report.schema.json). The run fills the data; nothing here decides a
// verdict, and the module table is built from typed fields, not read back out of the JSON.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/inspect/findings.h"
#include "core/pipeline.h"
#include "tools/cli/verify/phases.h"
#include "tools/cli/verify/unit.h"

namespace nvfp4::cli {

// One row of the module table: a module (or an expert chunk), its kind, its checks' outcome, the
// kernels' worst error as a fraction of its element's bound and the worst reconcile error.
struct ModuleRow {
  std::string module, kind;
  int checks = 0, failed = 0;
  double kernel_worst = -1, reconcile_worst = -1;  // -1: none
};

// What the GEMMs sampled, and in words.
struct Sampled {
  std::vector<std::int64_t> activation_rows;
  std::string kernels;  // the kernel set's name
  std::int64_t eigen_rows_per_projection = 0, experts = 0, reloads = 0;
  std::size_t expert_chunks = 0;
  std::string description;
};

struct VerifyReport {
  std::string checkpoint;
  Backend backend = Backend::Cutlass;
  std::int64_t jobs = 1, largest_module_peak_bytes = 0;
  std::size_t modules = 0;
  double module_seconds = 0;
  Phases phases;
  Sampled sampled;
  std::vector<Finding> findings;
  std::vector<Check> checks;  // one printable line each: names and details carry names from the files
  std::vector<ModuleRow> table;
  std::vector<std::string> not_checked;  // what this run did not look at, so a PASS is read for what it is

  // Adds a check, escaping its name, detail and module for the terminal and the JSON.
  void add(const std::string& module, checks::Result r);
  int failed() const;
};

std::string render_text(const VerifyReport& r);
nlohmann::json render_json(const VerifyReport& r);

}  // namespace nvfp4::cli

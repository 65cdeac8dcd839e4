// diff's JSON report (docs/schema/diff-report.schema.json): what `nvfp4 diff --json` prints and
// what the Python package's nvfp4.diff returns for an in-memory state, built by one function.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "core/checkpoint.h"
#include "tools/diff/diff_run.h"

namespace nvfp4::cli {

// `dump_label` names the dump: its path, or what stands for an in-memory state.
nlohmann::json diff_report_json(const diff::DiffRun& r, const Checkpoint& c, const std::string& dump_label);

}  // namespace nvfp4::cli

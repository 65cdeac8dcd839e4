// What every JSON report of the nvfp4 command shares (schemas in docs/schema/): which schema and
// version it follows, the tool's version, the command line, and findings as objects.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tools/inspect/findings.h"

namespace nvfp4::cli {

// Bumped when a field changes meaning or goes away; new fields keep the version.
constexpr int kReportSchemaVersion = 1;

// Recorded by run() before the command starts, for report_header.
void set_command_line(const std::vector<std::string>& args);

// {"schema": "nvfp4-<command>-report", "schema_version", "tool": {"name", "version"}, "command_line"}
nlohmann::json report_header(const std::string& command);

// [{"level": "fail"|"note", "file", "tensor", "what", "line"}], strings escaped as in the text.
nlohmann::json findings_json(const std::vector<Finding>& findings);

}  // namespace nvfp4::cli

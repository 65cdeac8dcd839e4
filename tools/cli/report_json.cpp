#include "tools/cli/report_json.h"

#include "core/printable.h"

namespace nvfp4::cli {

namespace {
std::vector<std::string>& command_line() {
  static std::vector<std::string> args;
  return args;
}
}  // namespace

void set_command_line(const std::vector<std::string>& args) {
  command_line() = {"nvfp4"};
  for (const auto& a : args) command_line().push_back(printable(a));  // JSON strings must be UTF-8
}

nlohmann::json report_header(const std::string& command) {
  return {{"schema", "nvfp4-" + command + "-report"},
          {"schema_version", kReportSchemaVersion},
          {"tool", {{"name", "nvfp4"}, {"version", NVFP4_VERSION}}},
          {"command_line", command_line()}};
}

nlohmann::json findings_json(const std::vector<Finding>& findings) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& f : findings)
    a.push_back({{"level", f.level == Finding::Level::Fail ? "fail" : "note"},
                 {"file", printable(f.file)},
                 {"tensor", printable(f.tensor)},
                 {"what", printable(f.what)},
                 {"line", f.line()}});
  return a;
}

}  // namespace nvfp4::cli

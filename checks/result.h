// What every check of checks/ returns: which check, whether it held, one line saying why (the first
// failure, or what was covered when it held), and the numbers behind it. The callers only present
// it: verify as a report row and a JSON object, demo as a table cell, the properties as a property
// failure, the fuzz targets as an abort. Deciding what holds happens here, once.
#pragma once
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

namespace nvfp4::checks {

struct Result {
  std::string name;
  bool ok = true;
  std::string detail;
  nlohmann::json values = nlohmann::json::object();

  // The first failure wins: a result that already failed keeps its detail.
  void fail(std::string why) {
    if (!ok) return;
    ok = false;
    detail = std::move(why);
  }
};

// A held result with `detail` as its summary; a failed one if `difference` is not empty.
inline Result held_unless(std::string name, const std::string& difference, std::string summary = "") {
  Result r{std::move(name), true, std::move(summary), nlohmann::json::object()};
  if (!difference.empty()) r.fail(difference);
  return r;
}

}  // namespace nvfp4::checks

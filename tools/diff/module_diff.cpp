#include "tools/diff/module_diff.h"

#include <cstdio>

namespace nvfp4::diff {

std::string verdict_name(Verdict v) { return v == Verdict::Semantic ? "semantic" : "layout"; }

bool ModuleDiff::ok(Verdict v) const {
  for (const auto& m : mismatches)
    if (m.verdict == v) return false;
  return v == Verdict::Layout || unreconciled.empty();
}

bool MismatchLog::counted(const std::string& param, Verdict v) {
  for (auto& m : d_.mismatches)
    if (m.param == param && m.verdict == v) {
      ++m.count;
      return true;
    }
  return false;
}

void MismatchLog::add(const std::string& param, Verdict v, std::string index, std::string source, std::string expected, std::string found) {
  if (counted(param, v)) return;
  d_.mismatches.push_back({d_.module, param, v, std::move(index), std::move(source), std::move(expected), std::move(found), 1});
}

std::string at(std::initializer_list<std::int64_t> idx) {
  std::string s(1, '[');
  for (std::int64_t i : idx) {
    if (s.size() > 1) s += ", ";
    s += std::to_string(i);
  }
  s += ']';
  return s;
}

}  // namespace nvfp4::diff

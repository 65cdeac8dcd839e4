// Runs the nvfp4 command in-process with captured output (the CLI tests' one way to call it).
#pragma once
#include <sstream>
#include <string>
#include <vector>

#include "tools/cli/cli.h"

namespace nvfp4 {

struct CliRun { int code; std::string out, err; };

inline CliRun nvfp4(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  const int code = cli::run(args, out, err);
  return {code, out.str(), err.str()};
}

}  // namespace nvfp4

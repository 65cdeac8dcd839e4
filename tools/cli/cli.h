// The nvfp4 command as a library, so tests run it in-process with captured output.
// Exit codes: 0 success, 1 a failed check, 2 bad input or usage.
#pragma once
#include <ostream>
#include <string>
#include <vector>

#include "core/checkpoint.h"

namespace nvfp4::cli {

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// The checkpoint of process, gemm and verify: refused by name when it holds no quantized module
// (nothing to process, multiply or verify) instead of failing later on an empty model.
Checkpoint open_quantized(const std::string& dir);

// One function per subcommand; args exclude the subcommand name.
int cmd_make_checkpoint(const std::vector<std::string>& args, std::ostream& out);
int cmd_inspect(const std::vector<std::string>& args, std::ostream& out);
int cmd_process(const std::vector<std::string>& args, std::ostream& out);
int cmd_gemm(const std::vector<std::string>& args, std::ostream& out);
int cmd_verify(const std::vector<std::string>& args, std::ostream& out);

}  // namespace nvfp4::cli

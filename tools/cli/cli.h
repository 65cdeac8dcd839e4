// The nvfp4 command as a library, so tests run it in-process with captured output.
// Exit codes: 0 all checks hold; 1 a check failed (the full report still printed); 2 bad input
// that cannot be checked, or bad arguments; 3 out of memory.
#pragma once
#include <ostream>
#include <string>
#include <vector>

#include "core/allocator.h"
#include "core/checkpoint.h"
#include "tools/cli/options.h"

namespace nvfp4::cli {

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
// As run(), but a command's own errors propagate (nvfp4::Error, OutOfMemory, std::bad_alloc)
// instead of becoming a line on err and an exit code, so the Python package raises them as its
// exceptions with the same message; a usage error of the command line still goes to err (exit 2).
int run_or_throw(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// "out of memory: an allocation of X MiB failed with Y MiB already held (HINT)": exit 3's line.
std::string out_of_memory_message(const OutOfMemory& e, const std::string& hint);
// What may help a command that ran out of memory: only the options it has (--jobs,
// --experts-chunk-mib), then more memory.
std::string memory_hint(const CLI::App& sub);

// The checkpoint of process, gemm and verify: refused by name when it holds no quantized module
// (nothing to process, multiply or verify) instead of failing later on an empty model.
Checkpoint open_quantized(const std::string& dir);

// One per command: defines the command's options, help and example on `sub` and returns what
// runs it once the command line has parsed.
Runner define_demo(CLI::App& sub);
Runner define_make_checkpoint(CLI::App& sub);
Runner define_inspect(CLI::App& sub);
Runner define_process(CLI::App& sub);
Runner define_gemm(CLI::App& sub);
Runner define_verify(CLI::App& sub);
Runner define_diff(CLI::App& sub);
Runner define_engine_check(CLI::App& sub);

}  // namespace nvfp4::cli

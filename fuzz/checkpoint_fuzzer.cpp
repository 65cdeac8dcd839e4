// The input is the single safetensors file of a checkpoint directory: open, map modules and check
// values. Bad input must end in a typed one-line error naming the file, never a crash or an
// untyped exception.
// max_len 4 MiB (fuzz/max_len.txt): longer inputs return at once.
#include <cstdint>
#include <string>

#include "core/checkpoint.h"
#include "core/error.h"
#include "core/module_map.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/fuzz_checkpoint_dir.h"
#include "tools/inspect/findings.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > (4u << 20)) return 0;
  using namespace nvfp4;
  fuzz::write_model(data, size);
  try {
    Checkpoint c = Checkpoint::open(fuzz::checkpoint_dir());
    ModelSpec s = map_modules(c);
    (void)check_values(c, s);
  } catch (const Error& e) {
    std::string w = e.what();
    fuzz::check_error_line(w);
    FUZZ_CHECK(!e.file().empty(), "error names no file: %s", w.c_str());
  }
  return 0;
}

// The reference pipeline stage on any single-file checkpoint: load, post-process on both
// backends, and reload the same file. Whatever loads must reload bitwise identically with the
// same parameter identities; whatever is refused must be refused with a typed one-line error.
// max_len 1 MiB (fuzz/max_len.txt): longer inputs return at once.
#include <cstdint>
#include <cstring>
#include <string>

#include "core/checkpoint.h"
#include "core/error.h"
#include "checks/state.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/fuzz_checkpoint_dir.h"
#include "reference/reference_pipeline.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > (1u << 20)) return 0;
  using namespace nvfp4;
  fuzz::write_model(data, size);
  for (Backend b : {Backend::Cutlass, Backend::Trtllm}) {
    try {
      ref::ReferencePipeline p;
      p.load_weights(Checkpoint::open(fuzz::checkpoint_dir()));
      p.process_weights_after_loading(b);
      State before = capture(p);
      p.update_weights_from_disk(Checkpoint::open(fuzz::checkpoint_dir()));
      std::string d = first_difference(before, capture(p), Same::Identities, "load", "reload");
      FUZZ_CHECK(d.empty(), "reload is not idempotent: %s", d.c_str());
    } catch (const Error& e) {
      std::string w = e.what();
      fuzz::check_error_line(w);
    }
  }
  return 0;
}

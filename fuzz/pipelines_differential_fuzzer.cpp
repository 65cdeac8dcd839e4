// Every pipeline of the registry on any single-file checkpoint, both backends: either every
// pipeline refuses it (a typed, one-line error, at load or at processing) or every one accepts it,
// and then they hold the same names, aliases, bytes and reconciliation reports after processing and
// again after a reload of the same file; a pipeline's reload keeps its own identities.
// max_len 1 MiB (fuzz/max_len.txt): longer inputs return at once.
#include <cstdint>
#include <string>
#include <vector>

#include "core/checkpoint.h"
#include "core/error.h"
#include "core/pipeline_state.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/fuzz_checkpoint_dir.h"
#include "fuzz/fuzz_load_all.h"
#include "registry/registry.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > (1u << 20)) return 0;
  using namespace nvfp4;
  fuzz::write_model(data, size);
  for (Backend b : {Backend::Cutlass, Backend::Trtllm}) {
    auto [accepted, refused] = fuzz::load_every_pipeline(fuzz::checkpoint_dir(), b);
    if (accepted.empty()) continue;
    const State first = capture(*accepted[0]);
    std::vector<State> own;
    for (const auto& p : accepted) own.push_back(capture(*p));
    for (std::size_t i = 1; i < accepted.size(); ++i) {
      std::string d = first_difference(first, own[i], Same::Bytes, accepted[0]->name(), accepted[i]->name());
      FUZZ_CHECK(d.empty(), "after processing: %s", d.c_str());
      FUZZ_CHECK(accepted[0]->reconciliations().size() == accepted[i]->reconciliations().size(), "reconciliation reports differ");
    }
    for (std::size_t i = 0; i < accepted.size(); ++i) {
      accepted[i]->update_weights_from_disk(Checkpoint::open(fuzz::checkpoint_dir()));
      std::string d = first_difference(own[i], capture(*accepted[i]), Same::Identities, "load", "reload");
      FUZZ_CHECK(d.empty(), "%s reload is not idempotent: %s", accepted[i]->name().c_str(), d.c_str());
    }
  }
  return 0;
}

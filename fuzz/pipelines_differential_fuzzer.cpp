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
#include "checks/state.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/fuzz_checkpoint_dir.h"
#include "checks/agreement.h"
#include "checks/reload.h"
#include "fuzz/fuzz_load_all.h"
#include "registry/registry.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > (1u << 20)) return 0;
  using namespace nvfp4;
  fuzz::write_model(data, size);
  for (Backend b : {Backend::Cutlass, Backend::Trtllm}) {
    auto [accepted, refused] = fuzz::load_every_pipeline(fuzz::checkpoint_dir(), b);
    if (accepted.empty()) continue;
    std::vector<State> own;
    for (const auto& p : accepted) own.push_back(capture(*p));
    for (std::size_t i = 1; i < accepted.size(); ++i) {
      const checks::Result r = checks::agreement(*accepted[0], own[0], *accepted[i], own[i]);
      FUZZ_CHECK(r.ok, "after processing: %s", r.detail.c_str());
    }
    for (std::size_t i = 0; i < accepted.size(); ++i) {
      const checks::Result r = checks::reload_idempotent(*accepted[i], Checkpoint::open(fuzz::checkpoint_dir()), own[i],
                                                         pipeline_kind(accepted[i]->name()).reload, "reload");
      FUZZ_CHECK(r.ok, "%s reload is not idempotent: %s", accepted[i]->name().c_str(), r.detail.c_str());
    }
  }
  return 0;
}

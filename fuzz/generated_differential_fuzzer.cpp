// Post-processing (swizzle, reconcile, trtllm reorder and shuffle, aliasing) differential on
// generated checkpoints of any small shape (fuzz/fuzz_generated.h): for each backend, every
// registered pipeline refuses (the same typed error) or all hold the same names, aliases, bytes and
// reconciliation reports. max_len 64 bytes (options only).
#include <cstdint>
#include <string>
#include <vector>

#include "core/checkpoint.h"
#include "checks/state.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/fuzz_checkpoint_dir.h"
#include "fuzz/fuzz_generated.h"
#include "fuzz/fuzz_load_all.h"
#include "checks/agreement.h"
#include "registry/registry.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 64) return 0;
  using namespace nvfp4;
  fuzz::ByteReader in(data, size);
  const WriterOptions o = fuzz::generated_options(in);
  const auto dir = fuzz::checkpoint_dir() / "generated";
  write_checkpoint(dir, generate_checkpoint(o), static_cast<int>(in.in(1, 3)));
  for (Backend b : {Backend::Cutlass, Backend::Trtllm}) {
    auto [ok, errors] = fuzz::load_every_pipeline(dir, b);
    // A generated checkpoint is valid: the only refusal is trtllm's H % 64 rule.
    FUZZ_CHECK(errors.empty() || (b == Backend::Trtllm && o.experts > 0 && o.hidden % 64), "refused: %s", errors.front().c_str());
    for (std::size_t i = 1; i < ok.size(); ++i) {
      const checks::Result r = checks::agreement(*ok[0], *ok[i]);
      FUZZ_CHECK(r.ok, "H=%lld I=%lld E=%d fused=%d: %s", (long long)o.hidden, (long long)o.intermediate, o.experts, o.fused, r.detail.c_str());
    }
  }
  return 0;
}

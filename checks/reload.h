// What a reload must do, as an engine's hot reload promises it (sglang update_weights_from_disk,
// vLLM's reload of that release): a reload of the weights already loaded changes no byte and keeps
// what the pipeline promises to keep (the Parameter objects; an engine under CUDA graphs also the
// storage addresses, and allocates nothing); a reload the pipeline refuses leaves every module and
// the reconciliation report exactly as they were (the transaction a failed hot reload relies on).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "checks/result.h"
#include "checks/state.h"
#include "core/checkpoint.h"
#include "core/pipeline.h"

namespace nvfp4::checks {

// What one pipeline promises to keep across a reload and a re-processing besides the bytes.
struct ReloadPromise {
  Same keeps = Same::Identities;  // Identities, or Addresses where CUDA graphs hold the storage
  bool allocation_free = false;   // a reload allocates nothing
};

// `after` holds what `before` did: every name, alias and byte, and what `promise` keeps. On states
// restricted to one module (as demo's table does) as well as on whole pipelines.
Result kept(const State& before, const State& after, const ReloadPromise& promise, const std::string& wa, const std::string& wb);

// p reloaded from `same` (the weights `first` was captured from): bitwise equal to `first`, keeping
// what `promise` says. Held: ""; values {allocated_bytes, allocations}.
Result reload_idempotent(Pipeline& p, const Checkpoint& same, const State& first, const ReloadPromise& promise, const std::string& what);

// p processed again without a reload: equal to `first` as above (in-place results never processed
// twice).
Result reprocess_idempotent(Pipeline& p, Backend b, const State& first, const ReloadPromise& promise);

// p asked to reload `bad`, which it must refuse with an Error; then p holds `before` and the
// reconciliation report `rec_before` (a copy: the pipeline's own report is what changes). what: why `bad` is bad, for the failure line. Held: values
// {refused: the error's message}.
Result failed_reload(Pipeline& p, const Checkpoint& bad, const State& before, std::vector<Reconciliation> rec_before,
                     const ReloadPromise& promise, const std::string& what);
// The same where opening the checkpoint is part of the reload (a file the open itself refuses):
// `reload` opens and reloads into p.
Result failed_reload(Pipeline& p, const std::function<void(Pipeline&)>& reload, const State& before,
                     std::vector<Reconciliation> rec_before, const ReloadPromise& promise, const std::string& what);

}  // namespace nvfp4::checks

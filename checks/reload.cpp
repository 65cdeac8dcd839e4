#include "checks/reload.h"

#include <utility>

#include "checks/agreement.h"
#include "core/allocator.h"
#include "core/error.h"

namespace nvfp4::checks {

Result kept(const State& before, const State& after, const ReloadPromise& promise, const std::string& wa, const std::string& wb) {
  return held_unless(wb + " keeps " + wa, first_difference(before, after, promise.keeps, wa, wb));
}

Result reload_idempotent(Pipeline& p, const Checkpoint& same, const State& first, const ReloadPromise& promise, const std::string& what) {
  AllocStats s;
  {
    AllocScope mine;
    p.update_weights_from_disk(same);
    s = mine.stats();
  }
  Result r = held_unless(p.name() + " " + what + " idempotent", first_difference(first, peek(p), promise.keeps, "first load", what));
  if (promise.allocation_free && (s.alloc_count || s.alloc_bytes))
    r.fail(p.name() + " allocated " + std::to_string(s.alloc_bytes) + " bytes in " + std::to_string(s.alloc_count) + " allocations");
  r.values = {{"allocated_bytes", s.alloc_bytes}, {"allocations", s.alloc_count}};
  return r;
}

Result reprocess_idempotent(Pipeline& p, Backend b, const State& first, const ReloadPromise& promise) {
  p.process_weights_after_loading(b);
  return held_unless(p.name() + " processed again", first_difference(first, peek(p), promise.keeps, "first processing", "processed again"));
}

Result failed_reload(Pipeline& p, const Checkpoint& bad, const State& before, std::vector<Reconciliation> rec_before,
                     const ReloadPromise& promise, const std::string& what) {
  return failed_reload(p, [&bad](Pipeline& q) { q.update_weights_from_disk(bad); }, before, std::move(rec_before), promise, what);
}

Result failed_reload(Pipeline& p, const std::function<void(Pipeline&)>& reload, const State& before,
                     std::vector<Reconciliation> rec_before, const ReloadPromise& promise, const std::string& what) {
  Result r{p.name() + " refuses a reload " + what, true, "", nlohmann::json::object()};
  try {
    reload(p);
    r.fail(p.name() + " accepted a reload " + what);
    return r;
  } catch (const Error& e) {
    r.values = {{"refused", e.what()}};
  }
  std::string d = first_difference(before, peek(p), promise.keeps, "before", "after the failed reload");
  if (d.empty()) d = reconciliation_difference(rec_before, p.reconciliations(), "before", "after the failed reload");
  if (!d.empty()) r.fail(p.name() + ": " + d);
  return r;
}

}  // namespace nvfp4::checks

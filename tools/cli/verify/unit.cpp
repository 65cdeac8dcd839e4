#include "tools/cli/verify/unit.h"

#include <algorithm>
#include <chrono>

#include "checks/agreement.h"
#include "checks/memory.h"
#include "checks/reconcile.h"
#include "checks/reload.h"
#include "core/allocator.h"
#include "reference/reference_pipeline.h"
#include "registry/registry.h"
#include "tools/cli/verify/gemm_checks.h"

namespace nvfp4::cli {
namespace {

// One pipeline of the registry, loaded and processed from the unit's view.
struct Loaded {
  const PipelineKind* kind;
  std::unique_ptr<Pipeline> p;
  State first;
  AllocStats load;  // what load + processing allocated
};

class UnitRun {
 public:
  UnitRun(const Checkpoint& ck, const ModuleUnit& u, const VerifyOptions& v) : u_(u), v_(v), c_(view(ck)) {}

  UnitResult run(const std::vector<Checkpoint>& again) {
    Stopwatch sw;
    load_all();
    r_.phases.load_process = sw.lap();
    reprocess();
    for (std::size_t i = 0; i < again.size(); ++i) reload(view(again[i]), i + 1);
    failed_reload();
    reconciles();
    r_.phases.reloads = sw.lap();
    if (!v_.activation_rows.empty()) gemms();
    return std::move(r_);
  }

 private:
  Checkpoint view(const Checkpoint& from) const {
    return u_.renamed.empty() ? from.subset(u_.tensors) : from.renamed_subset(u_.tensors, u_.renamed);
  }
  const ref::ReferencePipeline& oracle() const { return dynamic_cast<const ref::ReferencePipeline&>(*ps_.front().p); }
  // The result under this module: "module: <prefix><the result's own name, unless replaced>".
  void add(checks::Result r, const std::string& prefix = "", const std::string* replace = nullptr) {
    r.name = u_.name + ": " + prefix + (replace ? *replace : r.name);
    r_.checks.push_back({u_.name, std::move(r)});
  }
  void add(const std::string& name, checks::Result r) { add(std::move(r), "", &name); }

  void load_all() {
    for (const auto& k : pipelines()) {
      Loaded l{&k, k.make(v_.backend), {}, {}};
      {
        AllocScope mine;
        l.p->load_weights(c_);
        l.p->process_weights_after_loading(v_.backend);
        l.load = mine.stats();
      }
      l.first = capture(*l.p);
      ps_.push_back(std::move(l));
    }
    const Loaded& ref = ps_.front();
    for (std::size_t i = 1; i < ps_.size(); ++i)
      add(ref.kind->name + " == " + ps_[i].kind->name + " after loading and processing (" + backend_name(v_.backend) +
              "): every name, alias and byte",
          checks::agreement(*ref.p, ref.first, *ps_[i].p, ps_[i].first));
    for (const auto& l : ps_)
      if (const auto budget = l.p->memory_budget()) {
        add(checks::memory_contract(l.load, *budget), l.kind->name + " memory: ");
      }
  }

  void reprocess() {
    checks::Result all;
    for (auto& l : ps_) {
      const checks::Result r = checks::reprocess_idempotent(*l.p, v_.backend, l.first, l.kind->reload);
      if (!r.ok) all.fail(r.detail);
    }
    add("re-processing without a reload changes nothing (" + every_pipeline() + ")", std::move(all));
  }

  void reload(const Checkpoint& same, std::size_t i) {
    std::string promised;
    checks::Result all;
    for (auto& l : ps_) {
      const checks::Result r = checks::reload_idempotent(*l.p, same, l.first, l.kind->reload, "reload " + std::to_string(i));
      if (!r.ok) all.fail(r.detail);
      if (!l.kind->reload.allocation_free) continue;
      promised += (promised.empty() ? "" : "; ") + l.kind->name + ": addresses kept, 0 bytes allocated";
      all.values[l.kind->name + "_allocated_bytes"] = r.values["allocated_bytes"];
      all.values[l.kind->name + "_allocations"] = r.values["allocations"];
    }
    add("reload " + std::to_string(i) + ": bitwise idempotent, identities kept" + (promised.empty() ? "" : " (" + promised + ")"), std::move(all));
  }

  // A reload that fails (one tensor of the module missing) must leave every pipeline as it was.
  void failed_reload() {
    if (u_.tensors.empty()) return;
    std::vector<std::string> missing = c_.tensor_names();
    missing.erase(std::find(missing.begin(), missing.end(), u_.renamed.empty() ? u_.tensors.front() : u_.renamed.front()));
    const Checkpoint bad = c_.subset(missing);
    checks::Result all;
    for (auto& l : ps_) {
      const std::vector<Reconciliation> rec = l.p->reconciliations();
      const checks::Result r = checks::failed_reload(*l.p, bad, l.first, rec, l.kind->reload, "without " + u_.tensors.front());
      if (!r.ok) all.fail(r.detail);
    }
    add("a failed reload (" + u_.tensors.front() + " missing) changes nothing (" + every_pipeline() + ")", std::move(all));
  }

  void reconciles() {
    // A chunk of experts is seen renumbered from 0 (ModuleUnit::renamed): names go back to the file's.
    auto original = [this](const std::string& n) {
      const auto i = std::find(u_.renamed.begin(), u_.renamed.end(), n);
      return i == u_.renamed.end() ? n : u_.tensors[static_cast<std::size_t>(i - u_.renamed.begin())];
    };
    for (const auto& rec : oracle().reconciliations()) {
      // Experts: "expert E " first, E as numbered in the file (one check per expert and half);
      // rec.module is "<experts module>.<expert in this view>".
      std::string expert;
      if (u_.experts) expert = "expert " + std::to_string(std::stoll(rec.module.substr(rec.module.rfind('.') + 1)) + u_.first_expert) + " ";
      add("reconcile " + expert + "shard " + rec.shard, checks::reconcile_within_bound(oracle(), c_, rec, original));
      r_.reconcile_worst = std::max(r_.reconcile_worst, rec.max_rel_error);
    }
  }

  void gemms_of(const GemmTarget& t, bool w4a4) {
    std::vector<const Pipeline*> under_test;
    for (std::size_t i = 1; i < ps_.size(); ++i) under_test.push_back(ps_[i].p.get());
    const ref::LogicalWeight w = oracle().logical_weight(t);
    for (GemmMode m : {GemmMode::W4A16, GemmMode::W4A4}) {
      if (m == GemmMode::W4A4 && !w4a4) continue;
      std::vector<checks::Result> rs = gemm_checks(oracle(), under_test, t, w, m, v_.activation_rows, r_.phases);
      const std::string label = "GEMM " + gemm_mode_name(m) + (t.expert >= 0 ? " expert " + std::to_string(t.expert + u_.first_expert) + " " + t.proj : "");
      add(label + ": reference Eigen path vs exact oracle", std::move(rs[0]));
      for (std::size_t i = 1; i < rs.size(); ++i) {
        r_.kernel_worst = std::max(r_.kernel_worst, rs[i].values["worst_fraction_of_bound"].get<double>());
        add(std::move(rs[i]), label + ": ");
      }
    }
  }

  void gemms() {
    for (const auto& l : oracle().spec().linears) gemms_of({l.name, -1, ""}, l.has_input_scale);
    for (const auto& x : oracle().spec().experts)
      for (int e = 0; e < static_cast<int>(x.E); ++e) {
        gemms_of({x.name, e, "w13"}, x.has_input_scale);
        gemms_of({x.name, e, "w2"}, x.has_input_scale);
      }
  }

  const ModuleUnit& u_;
  const VerifyOptions& v_;
  const Checkpoint c_;
  std::vector<Loaded> ps_;
  UnitResult r_;
};

}  // namespace

UnitResult verify_unit(const Checkpoint& ck, const std::vector<Checkpoint>& again, const ModuleUnit& u, const VerifyOptions& v) {
  const auto t0 = std::chrono::steady_clock::now();
  AllocScope all;  // the module's whole footprint
  UnitResult r = UnitRun(ck, u, v).run(again);
  ck.release(u.tensors);  // the pipelines hold copies; the mapped pages can go
  for (const auto& a : again) a.release(u.tensors);
  r.peak_bytes = all.stats().peak_bytes;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace nvfp4::cli

// `nvfp4 verify CKPT`: every property that applies to one real checkpoint, on every pipeline of
// the registry side by side: checkpoint findings, load and per-slot fill, post-processing,
// reference == each pipeline (names, aliases, bytes, reconciliation reports), the memory contract,
// re-processing without a reload, reload idempotence with stable identities (and, where promised,
// addresses and zero allocation), a failed reload that changes nothing, shard-scale reconciliation,
// and every GEMM path against the exact oracle. The checks are checks/'s; this file schedules the
// modules (tools/cli/verify/unit.h runs one), assembles the report and renders it. Exit 0 iff all hold.
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <set>
#include <thread>

#include "core/allocator.h"
#include "core/error.h"
#include "core/printable.h"
#include "optimized/kernels/dispatch.h"
#include "optimized/kernels/path_rows.h"
#include "registry/registry.h"
#include "tools/cli/cli.h"
#include "tools/cli/progress.h"
#include "tools/cli/verify/report.h"
#include "tools/cli/verify/sampling.h"
#include "tools/cli/verify/unit.h"
#include "tools/inspect/findings.h"

namespace nvfp4::cli {
namespace {

struct VerifyArgs {
  std::string dir, backend = "cutlass", activation_rows;  // "" for the kernels' path rows
  std::int64_t reloads = 2, jobs = std::max(1u, std::thread::hardware_concurrency()), chunk_mib = 64;
  bool json = false;
};

// The kernel set verify's GEMMs run on (NVFP4_KERNEL may force one); for --help and for a run
// without GEMMs, the best one this CPU has where the forced one is not valid.
opt::Isa kernels_in_use() {
  try {
    return opt::active_isa();
  } catch (const Error&) {
    return opt::available_isas().front();
  }
}

// The M of the GEMMs: the kernel set's path rows by default, else --activation-rows' list (0 alone: none).
std::vector<std::int64_t> parse_activation_rows(const std::string& list) {
  std::vector<std::int64_t> ms;
  if (list.empty()) {
    for (const auto& p : opt::path_rows(opt::active_isa())) ms.push_back(p.M);
    return ms;
  }
  ms = parse_int_list(list);
  std::sort(ms.begin(), ms.end());
  ms.erase(std::unique(ms.begin(), ms.end()), ms.end());
  if (ms.front() == 0) {
    if (ms.size() > 1) throw Error(ErrorKind::Usage, "", "", "--activation-rows: 0 skips the GEMMs and goes alone, not with " + list);
    ms.clear();
  }
  return ms;
}

// Modules in parallel, at most `jobs` in flight, results kept in checkpoint order. A module's
// error (bad input found while loading it) is kept for that module; the others still run.
struct UnitOutcomes {
  std::vector<UnitResult> results;
  std::vector<std::exception_ptr> errors;
};
UnitOutcomes run_units(const Checkpoint& c, const std::vector<Checkpoint>& again, const std::vector<ModuleUnit>& units, const VerifyOptions& v,
                       std::int64_t jobs, bool quiet) {
  UnitOutcomes o{std::vector<UnitResult>(units.size()), std::vector<std::exception_ptr>(units.size())};
  std::atomic<std::size_t> next{0};
  Progress progress(units.size(), quiet);
  auto worker = [&] {
    for (std::size_t i; (i = next++) < units.size();) {
      try {
        o.results[i] = verify_unit(c, again, units[i], v);
      } catch (...) {
        o.errors[i] = std::current_exception();
      }
      ::malloc_trim(0);  // give the module's freed memory back, so RSS follows the live modules
      progress.step(units[i].name);
    }
  };
  std::vector<std::thread> pool;
  for (std::int64_t j = 1; j < std::min<std::int64_t>(jobs, static_cast<std::int64_t>(units.size())); ++j) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  progress.done();
  return o;
}

// The units' checks into the report, in checkpoint order, with one table row per unit.
// A module refused for its data (a NaN block scale, a zero global scale: a failing finding on one
// of its tensors) is a failed check, and the rest of the report still comes (exit 1). Anything
// else means the checkpoint cannot be checked: the first such module in checkpoint order is the
// one-line error (exit 2).
void collect(VerifyReport& r, const std::vector<ModuleUnit>& units, UnitOutcomes& o, const ModelSpec& spec) {
  std::set<std::string> failing;  // tensors with a failing finding
  for (const auto& f : r.findings)
    if (f.level == Finding::Level::Fail) failing.insert(f.tensor);
  for (std::size_t i = 0; i < units.size(); ++i) {
    const std::size_t first = r.checks.size();
    ModuleRow row{printable_short(units[i].name, 240), module_kind(spec, units[i].module), 0, 0, -1, -1};
    if (o.errors[i]) {
      bool data = false;
      for (const auto& t : units[i].tensors) data = data || failing.count(t);
      try {
        std::rethrow_exception(o.errors[i]);
      } catch (const Error& e) {
        if (!data || e.kind() != ErrorKind::BadInput) throw;
        r.add(units[i].name, {units[i].name + ": loads and processes (" + every_pipeline() + ")", false,
                              std::string("refused: ") + e.what() + " (see the findings)", nlohmann::json::object()});
      }
    } else {
      UnitResult& u = o.results[i];
      for (auto& c : u.checks) r.add(c.module, std::move(c.result));
      r.largest_module_peak_bytes = std::max(r.largest_module_peak_bytes, u.peak_bytes);
      r.module_seconds += u.seconds;
      r.phases += u.phases;
      row.kernel_worst = u.kernel_worst, row.reconcile_worst = u.reconcile_worst;
    }
    for (std::size_t c = first; c < r.checks.size(); ++c) ++row.checks, row.failed += !r.checks[c].result.ok;
    r.table.push_back(row);
  }
}

int verify(const VerifyArgs& a, std::ostream& out) {
  const HugePagesScope huge;  // a long streaming run (core/allocator.h)
  const VerifyOptions v{parse_backend(a.backend), a.reloads, parse_activation_rows(a.activation_rows)};
  // A bad NVFP4_KERNEL is refused (active_isa) only where GEMMs run.
  Coverage cov{v.activation_rows.empty() ? kernels_in_use() : opt::active_isa(), a.activation_rows.empty(), 0, a.chunk_mib, 0};
  VerifyReport r;
  r.checkpoint = a.dir, r.backend = v.backend, r.jobs = a.jobs;

  Checkpoint c = open_quantized(a.dir);
  const ModelSpec spec = map_modules(c);
  r.findings = check_values(c, spec);
  int fails = 0;
  for (const auto& f : r.findings) fails += f.level == Finding::Level::Fail;
  r.add("", {"checkpoint findings", fails == 0, fails ? std::to_string(fails) + " failed (run nvfp4 inspect)" : "", {{"failed", fails}}});
  std::vector<Checkpoint> again;
  for (std::int64_t i = 0; i < v.reloads; ++i) again.push_back(Checkpoint::open(a.dir));

  // A layer's experts above --experts-chunk-mib (default 64) are checked in chunks of whole
  // experts (a unit's peak is ~9x its bytes); values that take a max over all of a layer's experts
  // are then derived per chunk, and the report says so.
  const std::vector<ModuleUnit> units = module_units(c, spec, static_cast<std::uint64_t>(a.chunk_mib) << 20);
  UnitOutcomes o = run_units(c, again, units, v, a.jobs, a.json);
  collect(r, units, o, spec);
  r.modules = units.size();
  for (const auto& x : spec.experts) cov.experts += x.E;
  for (const auto& u : units) cov.chunks += !u.renamed.empty();
  r.sampled = describe_sampling(v, cov);
  r.not_checked = not_checked(v, cov);
  if (a.json) out << render_json(r).dump(2) << "\n";
  else out << render_text(r);
  return r.failed() ? 1 : 0;
}

}  // namespace

Runner define_verify(CLI::App& sub) {
  auto a = std::make_shared<VerifyArgs>();
  sub.add_option("CKPT", a->dir, "checkpoint directory (safetensors files and their configs)")->required();
  sub.add_option("--backend", a->backend, "MoE backend whose layouts (swizzles, shuffles, alphas) are checked")
      ->check(one_of({"cutlass", "trtllm"}))
      ->capture_default_str();
  sub.add_option("--reloads", a->reloads, "reloads from disk per module (idempotence, identities, 0 bytes allocated)")
      ->check(int_range(0, 1000))
      ->capture_default_str();
  std::string paths;
  for (const auto& p : opt::path_rows(kernels_in_use())) paths += (paths.empty() ? "" : ",") + std::to_string(p.M);
  sub.add_option("--activation-rows,--sample", a->activation_rows,
                 "activation row counts M (--sample: its former name): one GEMM of M random rows per projection and mode each, through the optimized kernels "
                 "against the exact oracle (the first and last row of each GEMM on every output row, the rows between on the first "
                 "and last 64); default: one M per kernel path and row remainder of the kernels in use (" +
                     std::string(opt::isa_name(kernels_in_use())) + " here); 0 skips GEMMs")
      ->type_name("M[,M...]")
      ->check(int_list(0, 4096))
      ->default_str(paths);
  sub.add_option("--jobs", a->jobs, "modules checked in parallel (default: every core); the report stays in checkpoint order")
      ->check(int_range(1, 1024));
  sub.add_option("--experts-chunk-mib", a->chunk_mib,
                 "a layer's experts larger than this are checked in chunks of whole experts (memory: ~9x the chunk)")
      ->check(int_range(1, 1 << 20))
      ->capture_default_str();
  sub.add_flag("--json", a->json, "the report as JSON on stdout (no progress line)");
  sub.footer(
      "Checks, per module: findings, load with per-slot fill, post-processing, reference == optimized (names,\n"
      "aliases, bytes), the optimized memory contract, re-processing, reload idempotence with stable identities\n"
      "and addresses, a failed reload that changes nothing, shard-scale reconciliation, and GEMMs against the\n"
      "exact oracle. Memory is bounded by the largest module (or expert chunk), not by the checkpoint.\n"
      "Examples:\n"
      "  nvfp4 verify /tmp/tiny\n"
      "  nvfp4 verify /models/llama-nvfp4 --backend trtllm --jobs 2 --json > report.json");
  return [a](std::ostream& out) { return verify(*a, out); };
}


}  // namespace nvfp4::cli

// `nvfp4 verify CKPT`: every property that applies to one real checkpoint, on both pipelines side
// by side: checkpoint findings, load and per-slot fill, post-processing, reference == optimized
// (names, aliases, bytes, reconciliation reports), the optimized memory contract, re-processing
// without a reload, reload idempotence with stable identities (and, optimized, addresses and zero
// allocation), shard-scale reconciliation error, and every GEMM path against the exact oracle.
// Exit 0 iff all hold.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/printable.h"

#include "core/allocator.h"
#include "core/error.h"
#include "core/findings.h"
#include "core/pipeline_state.h"
#include "core/rng.h"
#include "optimized/optimized_pipeline.h"
#include "reference/gemm.h"
#include "reference/reference_pipeline.h"
#include "tools/cli/args.h"
#include "tools/cli/cli.h"

namespace nvfp4::cli {
namespace {

struct Check {
  std::string name;
  bool ok;
  std::string detail;
};

class Report {
 public:
  explicit Report(bool progress) : progress_(progress) {}
  void add(std::string name, bool ok, std::string detail = "") {
    // Names and details carry tensor names from the files: one printable line each, in the
    // table and in the JSON alike.
    checks.push_back({printable_short(name, 240), ok, printable_short(detail, 1000)});
    if (progress_) std::cerr << "\r[" << checks.size() << "] " << checks.back().name << "\033[K" << std::flush;
  }
  void done() {
    if (progress_) std::cerr << "\r\033[K" << std::flush;
  }
  std::vector<Check> checks;

 private:
  bool progress_;
};

Tensor random_input(std::int64_t M, std::int64_t K, std::uint64_t seed) {
  Rng r(seed);
  Tensor x = Tensor::empty(DType::F32, {M, K});
  for (std::int64_t i = 0; i < M * K; ++i) x.data_as<float>()[i] = static_cast<float>(r.normal());
  return x;
}

// At most `max_rows` output rows, evenly spread: the exact oracle costs a multiprecision sum per
// element, and a real projection has tens of thousands of rows. Returns the rows chosen.
std::vector<std::int64_t> rows_subset(ref::LogicalWeight& w, std::int64_t max_rows) {
  std::vector<std::int64_t> rows;
  if (w.N <= max_rows) {
    for (std::int64_t r = 0; r < w.N; ++r) rows.push_back(r);
    return rows;
  }
  ref::LogicalWeight s = w;
  s.N = max_rows;
  s.codes.clear();
  s.scales.clear();
  for (std::int64_t i = 0; i < max_rows; ++i) {
    std::int64_t r = i * (w.N - 1) / (max_rows - 1);
    rows.push_back(r);
    s.codes.insert(s.codes.end(), w.codes.begin() + r * w.K, w.codes.begin() + (r + 1) * w.K);
    s.scales.insert(s.scales.end(), w.scales.begin() + r * (w.K / 16), w.scales.begin() + (r + 1) * (w.K / 16));
  }
  w = std::move(s);
  return rows;
}

std::string g9(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}

struct GemmOutcome { std::string error, detail; };

// Against the exact oracle on a sample of output rows: the reference's Eigen path (double
// accumulation, its own bound) and the optimized kernel (its derived f32 bound).
std::pair<GemmOutcome, GemmOutcome> gemm_checks(const ref::ReferencePipeline& rp, const opt::OptimizedPipeline& op,
                                                const GemmTarget& t, std::int64_t K, GemmMode mode) {
  Tensor x = random_input(4, K, 0xC0FFEE + static_cast<std::uint64_t>(K));
  auto o = rp.operands(t, mode);
  const std::int64_t N = o.w.N;
  const std::vector<std::int64_t> rows = rows_subset(o.w, 64);
  Tensor exact = ref::gemm_exact(x, o.w, mode, o.s);
  std::vector<double> eig = ref::gemm_eigen_double(x, o.w, mode, o.s), mag = ref::gemm_abs_sum(x, o.w, mode, o.s);
  Tensor fast = op.gemm(t, x, mode);
  const double post = mode == GemmMode::W4A4 ? o.s.alpha : o.w.global_scale;
  const std::int64_t S = static_cast<std::int64_t>(rows.size());
  GemmOutcome e_out, o_out;
  double e_diff = 0, e_bound = 0, o_diff = 0, o_bound = 0;
  for (std::int64_t i = 0; i < exact.numel(); ++i) {
    const std::int64_t m = i / S, col = rows[static_cast<std::size_t>(i % S)];
    const double e = exact.data_as<float>()[i], g = eig[static_cast<std::size_t>(i)], f = fast.data_as<float>()[m * N + col];
    const double half_ulp = std::ldexp(1.0, std::max(e == 0 ? -126 : std::ilogb(e), -126) - 24);
    const double eb = ref::eigen_error_bound(mag[static_cast<std::size_t>(i)], K) + half_ulp;
    const double ob = opt::gemm_error_bound(mode, K, mag[static_cast<std::size_t>(i)], post, DType::F32, e);
    const std::string at = "element [" + std::to_string(m) + ", " + std::to_string(col) + "]: exact " + g9(e);
    if (e_out.error.empty() && !(std::fabs(g - e) <= eb))
      e_out.error = at + ", Eigen " + g9(g) + ", |diff| exceeds the bound " + g9(eb);
    if (o_out.error.empty() && !(std::fabs(f - e) <= ob))
      o_out.error = at + ", optimized " + g9(f) + ", |diff| exceeds the bound " + g9(ob);
    e_diff = std::max(e_diff, std::fabs(g - e));
    e_bound = std::max(e_bound, eb);
    o_diff = std::max(o_diff, std::fabs(f - e));
    o_bound = std::max(o_bound, ob);
  }
  const std::string what = std::to_string(S) + (S < N ? " of " + std::to_string(N) + " rows (evenly spread)" : " rows") + " x K=" +
                           std::to_string(K) + ", 4 activation rows";
  e_out.detail = what + ", max |Eigen - exact| = " + g9(e_diff) + " <= bound " + g9(e_bound);
  o_out.detail = what + ", max |optimized - exact| = " + g9(o_diff) + " <= bound " + g9(o_bound);
  return {e_out, o_out};
}

// The reconciliation reports of both pipelines, entry by entry.
std::string reconciliations_differ(const Pipeline& a, const Pipeline& b) {
  const auto &x = a.reconciliations(), &y = b.reconciliations();
  if (x.size() != y.size()) return std::to_string(x.size()) + " reconciled shards vs " + std::to_string(y.size());
  for (std::size_t i = 0; i < x.size(); ++i)
    if (x[i].module != y[i].module || x[i].shard != y[i].shard || x[i].own_scale != y[i].own_scale ||
        x[i].common_scale != y[i].common_scale || x[i].max_rel_error != y[i].max_rel_error)
      return "reconciliation of " + x[i].module + " shard " + x[i].shard + " differs";
  return "";
}

}  // namespace

int cmd_verify(const std::vector<std::string>& argv, std::ostream& out) {
  Args a(argv, {"backend", "reloads"}, {"json"});
  std::string dir = a.positional_at(0, "checkpoint directory CKPT");
  Backend b = parse_backend(a.get("backend", "cutlass"));
  std::int64_t reloads = a.get_int("reloads", 2, 0, 1000);
  bool json = a.flag("json");
  Report r(!json && ::isatty(2));
  auto& alloc = TrackingAllocator::global();

  Checkpoint c = open_quantized(dir);
  ModelSpec spec = map_modules(c);
  std::vector<Finding> findings = check_values(c, spec);
  int fails = 0;
  for (const auto& f : findings) fails += f.level == Finding::Level::Fail;
  r.add("checkpoint findings", fails == 0, fails ? std::to_string(fails) + " failed (run nvfp4 inspect)" : "");

  ref::ReferencePipeline rp;
  alloc.reset();
  const std::int64_t ref_base = alloc.stats().live_bytes;
  rp.load_weights(c);
  r.add("reference load: every slot and row written exactly once", true);
  rp.process_weights_after_loading(b);
  const AllocStats ref_mem = alloc.stats();
  State ref_first = capture(rp);
  r.add("reference process_weights_after_loading (" + backend_name(b) + ")", true, std::to_string(ref_first.size()) + " parameters");

  opt::OptimizedPipeline op(b);
  alloc.reset();
  const std::int64_t opt_base = alloc.stats().live_bytes;
  op.load_weights(c);
  r.add("optimized load: every source validated before the first write", true);
  op.process_weights_after_loading(b);
  const AllocStats opt_mem = alloc.stats();
  State opt_first = capture(op);
  r.add("optimized process_weights_after_loading (" + backend_name(b) + ")", true, std::to_string(opt_first.size()) + " parameters");

  std::string d = first_difference(ref_first, opt_first, Same::Bytes, "reference", "optimized");
  if (d.empty()) d = reconciliations_differ(rp, op);
  r.add("reference == optimized: every name, alias and byte after processing", d.empty(), d);
  {
    const std::int64_t resident = op.resident_bytes(), scratch = op.scratch_bytes(), peak = opt_mem.peak_bytes - opt_base;
    const bool ok = opt_mem.alloc_bytes == resident && peak <= resident + scratch;
    r.add("optimized memory: load + processing allocate only what stays resident", ok,
          "allocated " + std::to_string(opt_mem.alloc_bytes) + " bytes in " + std::to_string(opt_mem.alloc_count) + " allocations, resident " +
              std::to_string(resident) + " (scratch " + std::to_string(scratch) + "), peak " + std::to_string(peak) +
              " <= resident + scratch (the reference: peak " + std::to_string(ref_mem.peak_bytes - ref_base) + ", resident " +
              std::to_string(ref_mem.live_bytes - ref_base) + ")");
  }

  rp.process_weights_after_loading(b);
  op.process_weights_after_loading(b);
  d = first_difference(ref_first, capture(rp), Same::Identities, "first processing", "processed again");
  if (d.empty()) d = first_difference(opt_first, capture(op), Same::Addresses, "first processing", "processed again");
  r.add("re-processing without a reload changes nothing (both pipelines)", d.empty(), d);
  for (std::int64_t i = 0; i < reloads; ++i) {
    const std::string step = "reload " + std::to_string(i + 1);
    Checkpoint again = Checkpoint::open(dir);
    rp.update_weights_from_disk(again);
    d = first_difference(ref_first, capture(rp), Same::Identities, "first load", step);
    r.add(step + ", reference: bitwise idempotent, identities kept", d.empty(), d);
    alloc.reset();
    op.update_weights_from_disk(again);
    const AllocStats s = alloc.stats();
    d = first_difference(opt_first, capture(op), Same::Addresses, "first load", step);
    if (d.empty() && (s.alloc_count || s.alloc_bytes))
      d = "allocated " + std::to_string(s.alloc_bytes) + " bytes in " + std::to_string(s.alloc_count) + " allocations";
    r.add(step + ", optimized: bitwise idempotent, identities and addresses kept, 0 bytes allocated", d.empty(), d);
  }

  for (const auto& rec : rp.reconciliations()) {
    bool ok = rec.max_rel_error <= 0.0625 + 1e-12;
    r.add("reconcile " + rec.module + " shard " + rec.shard, ok,
          g9(rec.own_scale) + " -> " + g9(rec.common_scale) + ", worst relative error " + g9(rec.max_rel_error) + " (bound 2^-4)");
  }

  auto gemms = [&](const GemmTarget& t, std::int64_t K, bool w4a4) {
    for (GemmMode m : {GemmMode::W4A16, GemmMode::W4A4}) {
      if (m == GemmMode::W4A4 && !w4a4) continue;
      auto [eig, fast] = gemm_checks(rp, op, t, K, m);
      std::string label = "GEMM " + gemm_mode_name(m) + " " + t.module + (t.expert >= 0 ? " expert " + std::to_string(t.expert) + " " + t.proj : "");
      r.add(label + ": reference Eigen path vs exact oracle", eig.error.empty(), eig.error.empty() ? eig.detail : eig.error);
      r.add(label + ": optimized kernel vs exact oracle", fast.error.empty(), fast.error.empty() ? fast.detail : fast.error);
    }
  };
  for (const auto& l : spec.linears) gemms({l.name, -1, ""}, l.K, l.has_input_scale);
  for (const auto& x : spec.experts) {
    gemms({x.name, 0, "w13"}, x.H, x.has_input_scale);
    gemms({x.name, static_cast<int>(x.E - 1), "w2"}, x.I, x.has_input_scale);
  }
  r.done();

  int failed = 0;
  for (const auto& ch : r.checks) failed += !ch.ok;
  if (json) {
    nlohmann::json j;
    j["checkpoint"] = printable(dir);  // a path need not be UTF-8; the JSON must be
    j["backend"] = backend_name(b);
    j["passed"] = failed == 0;
    for (const auto& ch : r.checks) j["checks"].push_back({{"name", ch.name}, {"ok", ch.ok}, {"detail", ch.detail}});
    for (const auto& f : findings) j["findings"].push_back(f.line());
    out << j.dump(2) << "\n";
  } else {
    for (const auto& f : findings) out << "  " << f.line() << "\n";
    for (const auto& ch : r.checks)
      out << (ch.ok ? "PASS " : "FAIL ") << ch.name << (ch.detail.empty() ? "" : ": " + ch.detail) << "\n";
    out << "\n" << (failed ? std::to_string(failed) + " of " + std::to_string(r.checks.size()) + " checks failed"
                           : "all " + std::to_string(r.checks.size()) + " checks passed")
        << "\n";
  }
  return failed ? 1 : 0;
}

}  // namespace nvfp4::cli

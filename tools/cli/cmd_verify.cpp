// `nvfp4 verify CKPT`: every property that applies to one real checkpoint, run on the reference
// pipeline: checkpoint findings, load and per-slot fill, post-processing, reload idempotence
// with stable parameter identities, re-processing without a reload, shard-scale
// reconciliation error, and the GEMM paths against the exact oracle. Exit 0 iff all hold.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/findings.h"
#include "core/pipeline_state.h"
#include "core/rng.h"
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
    checks.push_back({std::move(name), ok, std::move(detail)});
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

// The Eigen path (double accumulation) must stay within its derived bound of the exact oracle,
// before the final rounding; both rounded results must then be within one F32 ulp.
// At most `max_rows` output rows, evenly spread: the exact oracle costs a multiprecision sum per
// element, and a real projection has tens of thousands of rows.
ref::LogicalWeight rows_subset(const ref::LogicalWeight& w, std::int64_t max_rows) {
  if (w.N <= max_rows) return w;
  ref::LogicalWeight s = w;
  s.N = max_rows;
  s.codes.clear();
  s.scales.clear();
  for (std::int64_t i = 0; i < max_rows; ++i) {
    std::int64_t r = i * (w.N - 1) / (max_rows - 1);
    s.codes.insert(s.codes.end(), w.codes.begin() + r * w.K, w.codes.begin() + (r + 1) * w.K);
    s.scales.insert(s.scales.end(), w.scales.begin() + r * (w.K / 16), w.scales.begin() + (r + 1) * (w.K / 16));
  }
  return s;
}

std::string gemm_check(const ref::ReferencePipeline& p, const GemmTarget& t, std::int64_t K, GemmMode mode,
                       std::string* detail) {
  Tensor x = random_input(4, K, 0xC0FFEE + static_cast<std::uint64_t>(K));
  auto o = p.operands(t, mode);
  o.w = rows_subset(o.w, 64);
  Tensor exact = ref::gemm_exact(x, o.w, mode, o.s);
  std::vector<double> eig = ref::gemm_eigen_double(x, o.w, mode, o.s), mag = ref::gemm_abs_sum(x, o.w, mode, o.s);
  double worst_diff = 0, worst_bound = 0;
  for (std::int64_t i = 0; i < exact.numel(); ++i) {
    double e = exact.data_as<float>()[i], g = eig[static_cast<std::size_t>(i)];
    double half_ulp = std::ldexp(1.0, std::max(e == 0 ? -126 : std::ilogb(e), -126) - 24);
    double bound = ref::eigen_error_bound(mag[static_cast<std::size_t>(i)], K) + half_ulp;
    if (!(std::fabs(g - e) <= bound))
      return "element " + std::to_string(i) + ": exact " + std::to_string(e) + ", Eigen " + std::to_string(g) +
             ", |diff| exceeds the bound " + std::to_string(bound);
    worst_diff = std::max(worst_diff, std::fabs(g - e));
    worst_bound = std::max(worst_bound, bound);
  }
  char buf[128];
  std::snprintf(buf, sizeof buf, "%lld rows x K=%lld, max |Eigen - exact| = %.3g <= bound %.3g",
                static_cast<long long>(o.w.N), static_cast<long long>(K), worst_diff, worst_bound);
  *detail = buf;
  return "";
}

}  // namespace

int cmd_verify(const std::vector<std::string>& argv, std::ostream& out) {
  Args a(argv, {"backend", "reloads"}, {"json"});
  std::string dir = a.positional_at(0, "checkpoint directory CKPT");
  Backend b = parse_backend(a.get("backend", "cutlass"));
  std::int64_t reloads = a.get_int("reloads", 2);
  bool json = a.flag("json");
  Report r(!json && ::isatty(2));

  Checkpoint c = Checkpoint::open(dir);
  ModelSpec spec = map_modules(c);
  std::vector<Finding> findings = check_values(c, spec);
  int fails = 0;
  for (const auto& f : findings) fails += f.level == Finding::Level::Fail;
  r.add("checkpoint findings", fails == 0, fails ? std::to_string(fails) + " failed (run nvfp4 inspect)" : "");

  ref::ReferencePipeline p;
  p.load_weights(c);
  r.add("load: every slot and row written exactly once", true);
  p.process_weights_after_loading(b);
  State first = capture(p);
  r.add("process_weights_after_loading (" + backend_name(b) + ")", true, std::to_string(first.size()) + " parameters");

  p.process_weights_after_loading(b);
  std::string d = first_difference(first, capture(p), Same::Identities, "first processing", "processed again");
  r.add("re-processing without a reload changes nothing", d.empty(), d);
  for (std::int64_t i = 0; i < reloads; ++i) {
    p.update_weights_from_disk(Checkpoint::open(dir));
    d = first_difference(first, capture(p), Same::Identities, "first load", "reload " + std::to_string(i + 1));
    r.add("reload " + std::to_string(i + 1) + " is bitwise idempotent, identities kept", d.empty(), d);
  }

  for (const auto& rec : p.reconciliations()) {
    bool ok = rec.max_rel_error <= 0.0625 + 1e-12;
    char buf[160];
    std::snprintf(buf, sizeof buf, "%.9g -> %.9g, worst relative error %.3g (bound 2^-4)", static_cast<double>(rec.own_scale),
                  static_cast<double>(rec.common_scale), rec.max_rel_error);
    r.add("reconcile " + rec.module + " shard " + rec.shard, ok, buf);
  }

  auto gemms = [&](const GemmTarget& t, std::int64_t K, bool w4a4) {
    for (GemmMode m : {GemmMode::W4A16, GemmMode::W4A4}) {
      if (m == GemmMode::W4A4 && !w4a4) continue;
      std::string detail;
      std::string e = gemm_check(p, t, K, m, &detail);
      std::string label = t.module + (t.expert >= 0 ? " expert " + std::to_string(t.expert) + " " + t.proj : "");
      r.add("GEMM " + gemm_mode_name(m) + " " + label + ": Eigen path vs exact oracle", e.empty(), e.empty() ? detail : e);
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
    j["checkpoint"] = dir;
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

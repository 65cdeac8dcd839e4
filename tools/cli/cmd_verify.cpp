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

using Snapshot = std::map<std::string, std::pair<const Parameter*, Tensor>>;
Snapshot snapshot(const Pipeline& p) {
  Snapshot s;
  for (const auto& [m, mod] : p.modules())
    for (const auto& [n, prm] : mod.entries()) s[m + "." + n] = {prm.get(), prm->data.clone()};
  return s;
}

// The first difference between two snapshots, or "".
std::string diff(const Snapshot& a, const Snapshot& b, bool identities) {
  if (a.size() != b.size()) return "parameter count " + std::to_string(a.size()) + " -> " + std::to_string(b.size());
  for (const auto& [name, x] : a) {
    auto it = b.find(name);
    if (it == b.end()) return name + " disappeared";
    if (identities && x.first != it->second.first) return name + ": a different Parameter object";
    const Tensor &u = x.second, &v = it->second.second;
    if (u.shape() != v.shape() || u.dtype() != v.dtype()) return name + ": " + describe(u) + " -> " + describe(v);
    for (std::size_t i = 0; i < u.nbytes(); ++i)
      if (u.data()[i] != v.data()[i]) {
        char buf[96];
        std::snprintf(buf, sizeof buf, ": byte %zu 0x%02x -> 0x%02x", i, u.data()[i], v.data()[i]);
        return name + buf;
      }
  }
  return "";
}

Tensor random_input(std::int64_t M, std::int64_t K, std::uint64_t seed) {
  Rng r(seed);
  Tensor x = Tensor::empty(DType::F32, {M, K});
  for (std::int64_t i = 0; i < M * K; ++i) x.data_as<float>()[i] = static_cast<float>(r.normal());
  return x;
}

// The Eigen path must agree with the exact oracle to within the double accumulation bound
// (K + 2) * 2^-53 * sum|x w| (the +2 covers alpha) and then one ulp of F32 for the final rounding.
std::string gemm_check(const ref::ReferencePipeline& p, const GemmTarget& t, std::int64_t K, GemmMode mode, double* worst_bound) {
  Tensor x = random_input(4, K, 0xC0FFEE + static_cast<std::uint64_t>(K));
  Tensor exact = p.gemm(t, x, mode), eig = p.gemm_eigen(t, x, mode);
  for (std::int64_t i = 0; i < exact.numel(); ++i) {
    float a = exact.data_as<float>()[i], b = eig.data_as<float>()[i];
    double ulp = std::ldexp(1.0, std::ilogb(std::max(std::fabs(a), 1e-38f)) - 23);
    if (std::fabs(static_cast<double>(a) - b) > ulp)
      return "element " + std::to_string(i) + ": exact " + std::to_string(a) + " vs Eigen " + std::to_string(b);
    *worst_bound = std::max(*worst_bound, ulp);
  }
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
  Snapshot first = snapshot(p);
  r.add("process_weights_after_loading (" + backend_name(b) + ")", true, std::to_string(first.size()) + " parameters");

  p.process_weights_after_loading(b);
  std::string d = diff(first, snapshot(p), true);
  r.add("re-processing without a reload changes nothing", d.empty(), d);
  for (std::int64_t i = 0; i < reloads; ++i) {
    p.update_weights_from_disk(Checkpoint::open(dir));
    d = diff(first, snapshot(p), true);
    r.add("reload " + std::to_string(i + 1) + " is bitwise idempotent, identities kept", d.empty(), d);
  }

  for (const auto& rec : p.reconciliations()) {
    bool ok = rec.max_rel_error <= 0.0625 + 1e-12;
    char buf[160];
    std::snprintf(buf, sizeof buf, "%.9g -> %.9g, worst relative error %.3g (bound 2^-4)", static_cast<double>(rec.own_scale),
                  static_cast<double>(rec.common_scale), rec.max_rel_error);
    r.add("reconcile " + rec.module + " shard " + rec.shard, ok, buf);
  }

  double worst = 0;
  auto gemms = [&](const GemmTarget& t, std::int64_t K, bool w4a4) {
    for (GemmMode m : {GemmMode::W4A16, GemmMode::W4A4}) {
      if (m == GemmMode::W4A4 && !w4a4) continue;
      std::string e = gemm_check(p, t, K, m, &worst);
      std::string label = t.module + (t.expert >= 0 ? " expert " + std::to_string(t.expert) + " " + t.proj : "");
      r.add("GEMM " + gemm_mode_name(m) + " " + label + ": Eigen within bound of the exact oracle", e.empty(), e);
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

// Every field of `nvfp4 verify --json` on a checkpoint whose properties are known: the header, what
// was sampled, each module's checks in order with their numbers, q's reconcile from the raw
// scalars, where the time went, the findings, what was not checked, and the order under --jobs;
// then the rows each kernel set takes. One helper per section of the report.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "core/safetensors.h"
#include "generator/encoders.h"
#include "optimized/kernels/dispatch.h"
#include "tools/test/report_fields_util.h"

namespace nvfp4::report_test {
namespace {
using nlohmann::json;
using ModuleChecks = std::map<std::string, std::vector<const json*>>;

// Header: what the report is, which tool wrote it, and the command line as given.
void expect_header(const json& j, const std::vector<std::string>& args, const std::string& ck) {
  EXPECT_EQ(j.at("schema"), "nvfp4-verify-report");
  EXPECT_EQ(j.at("schema_version"), schema_const("verify-report", "schema_version"));
  EXPECT_EQ(j.at("tool").at("name"), "nvfp4");
  EXPECT_EQ("nvfp4 " + j.at("tool").at("version").get<std::string>() + "\n", nvfp4({"--version"}).out);
  std::vector<std::string> cmd = {"nvfp4"};
  cmd.insert(cmd.end(), args.begin(), args.end());
  EXPECT_EQ(j.at("command_line").get<std::vector<std::string>>(), cmd);
  EXPECT_EQ(j.at("checkpoint"), ck);
  EXPECT_EQ(j.at("backend"), "cutlass");
  EXPECT_EQ(j.at("jobs"), 1);
  EXPECT_EQ(j.at("modules"), 4) << "one unit per linear module of the one dense layer";
}

// The GEMMs' row counts: by default one M per kernel path and row remainder of the kernel set in
// use, worked out by hand in optimized/test/path_rows_test.cpp.
void expect_sampled(const json& sampled) {
  const std::map<std::string, std::vector<std::int64_t>> by_kernels = {
      {"amx", {1, 2, 3, 4, 8, 15, 33}}, {"avx512", {1, 2, 3, 9, 16, 23}}, {"avx2", {1, 2, 7}}, {"scalar", {2}}};
  EXPECT_EQ(sampled.at("kernels"), opt::isa_name(opt::active_isa()));
  EXPECT_EQ(sampled.at("activation_rows").get<std::vector<std::int64_t>>(), by_kernels.at(sampled.at("kernels")));
  EXPECT_EQ(sampled.at("eigen_rows_per_projection"), 128);
  EXPECT_EQ(sampled.at("reloads"), 2);
  EXPECT_EQ(sampled.at("experts"), 0);
  EXPECT_EQ(sampled.at("expert_chunks"), 0);
}

// Checks: the checkpoint-wide one first, then each module's, contiguous, in a fixed order; nothing
// fails. Fills by_module with each module's checks in report order.
void expect_check_order(const json& j, ModuleChecks& by_module) {
  const json& checks = j.at("checks");
  ASSERT_FALSE(checks.empty());
  EXPECT_EQ(checks[0].at("module"), "");
  EXPECT_EQ(checks[0].at("name"), "checkpoint findings");
  EXPECT_EQ(checks[0].at("values").at("failed"), 0);
  std::vector<std::string> order;
  for (std::size_t i = 1; i < checks.size(); ++i) {
    const std::string m = checks[i].at("module");
    if (order.empty() || order.back() != m) {
      EXPECT_EQ(by_module.count(m), 0u) << m << "'s checks are not contiguous";
      order.push_back(m);
    }
    by_module[m].push_back(&checks[i]);
    EXPECT_EQ(checks[i].at("name").get<std::string>().rfind(m + ": ", 0), 0u) << checks[i].dump();
  }
  ASSERT_EQ(by_module.size(), kModules.size());
  int failed = 0;
  for (const auto& c : checks) failed += !c.at("ok").get<bool>();
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(j.at("checks_failed"), 0);
  EXPECT_EQ(j.at("passed"), true);
}

// A reconcile check per reconciled shard: q of qkv only.
std::size_t reconciles(const std::string& m) { return m == kQkv ? 1 : 0; }

// Per module: ref == opt, memory, re-processing, 2 reloads, a failed reload, a reconcile per
// reconciled shard, and Eigen and kernel checks per mode (the checkpoint has input scales: w4a16
// and w4a4).
void expect_module_check_names(const std::string& m, const std::vector<const json*>& mc) {
  ASSERT_EQ(mc.size(), 6 + reconciles(m) + 4);
  auto name = [&](std::size_t i) { return (*mc[i]).at("name").get<std::string>(); };
  EXPECT_EQ(name(0), m + ": reference == optimized after loading and processing (cutlass): every name, alias and byte");
  EXPECT_EQ(name(1), m + ": optimized memory: load + processing allocate only what stays resident");
  EXPECT_EQ(name(2), m + ": re-processing without a reload changes nothing (both pipelines)");
  EXPECT_EQ(name(3), m + ": reload 1: bitwise idempotent, identities kept (optimized: addresses kept, 0 bytes allocated)");
  EXPECT_EQ(name(4), m + ": reload 2: bitwise idempotent, identities kept (optimized: addresses kept, 0 bytes allocated)");
  EXPECT_TRUE(std::regex_match(name(5), std::regex(esc(m) +
                                                   ": a failed reload \\(model\\.layers\\.0\\.[a-z_.]+\\.weight missing\\) changes nothing \\(both pipelines\\)")))
      << name(5);
  if (reconciles(m)) {
    EXPECT_EQ(name(6), m + ": reconcile shard q");
  }
  const std::size_t g = 6 + reconciles(m);
  EXPECT_EQ(name(g + 0), m + ": GEMM w4a16: reference Eigen path vs exact oracle");
  EXPECT_EQ(name(g + 1), m + ": GEMM w4a16: optimized kernel vs exact oracle");
  EXPECT_EQ(name(g + 2), m + ": GEMM w4a4: reference Eigen path vs exact oracle");
  EXPECT_EQ(name(g + 3), m + ": GEMM w4a4: optimized kernel vs exact oracle");
}

// The memory contract's numbers: what load + processing allocated is what stays resident; a
// reload from disk allocates nothing. Returns the resident bytes.
std::int64_t expect_memory(const std::vector<const json*>& mc, const Shape2& shape) {
  const json& mem = (*mc[1]).at("values");
  EXPECT_EQ(mem.at("allocated_bytes"), mem.at("resident_bytes"));
  EXPECT_LE(mem.at("peak_bytes").get<std::int64_t>(), mem.at("resident_bytes").get<std::int64_t>() + mem.at("scratch_bytes").get<std::int64_t>());
  // At least the packed codes (K / 2 bytes a row) and one E4M3 scale per 16.
  EXPECT_GE(mem.at("resident_bytes").get<std::int64_t>(), shape.N * shape.K / 2 + shape.N * shape.K / 16);
  for (std::size_t i : {3, 4}) {
    EXPECT_EQ((*mc[i]).at("values").at("optimized_allocated_bytes"), 0);
    EXPECT_EQ((*mc[i]).at("values").at("optimized_allocations"), 0);
  }
  return mem.at("resident_bytes").get<std::int64_t>();
}

// GEMMs, from check g on: N and K from the shapes above; the Eigen path sees every row up to 128,
// else the first and last 64; the kernel every row; no difference above its bound.
void expect_gemms(const std::vector<const json*>& mc, std::size_t g, const Shape2& shape, const json& sampled) {
  for (std::size_t i = g; i < g + 4; ++i) {
    const json& v = (*mc[i]).at("values");
    const bool kernel = (i - g) % 2 == 1;
    EXPECT_EQ(v.at("N"), shape.N);
    EXPECT_EQ(v.at("K"), shape.K);
    EXPECT_EQ(v.at("rows"), kernel ? shape.N : std::min<std::int64_t>(shape.N, 128));
    EXPECT_LE(v.at("max_abs_diff").get<double>(), v.at("max_bound").get<double>());
    EXPECT_GT(v.at("max_bound").get<double>(), 0.0);
    if (kernel) {
      EXPECT_EQ(v.at("gemms"), sampled.at("activation_rows").size()) << "one GEMM per M";
      EXPECT_GE(v.at("worst_fraction_of_bound").get<double>(), 0.0);
      EXPECT_LE(v.at("worst_fraction_of_bound").get<double>(), 1.0);
    }
  }
}

// Every module's checks: names, memory and GEMMs. max_resident: the largest optimized resident set.
void expect_every_module(const ModuleChecks& by_module, const json& sampled, std::int64_t& max_resident) {
  for (const auto& [m, shape] : kModules) {
    SCOPED_TRACE(m);
    const auto& mc = by_module.at(m);
    ASSERT_NO_FATAL_FAILURE(expect_module_check_names(m, mc));
    max_resident = std::max(max_resident, expect_memory(mc, shape));
    expect_gemms(mc, 6 + reconciles(m), shape, sampled);
  }
}

// q's own global scale and the common one (the max over q, k and v), as stored.
struct QScales { float own, common; };
QScales q_scales(const SafetensorsFile& f) {
  const float own = f.tensor(kQ + ".weight_scale_2").get_f32(0);
  return {own, std::max({own, f.tensor(kK + ".weight_scale_2").get_f32(0), f.tensor(kV + ".weight_scale_2").get_f32(0)})};
}

// The reconcile of q, from the raw scalars and bytes of the file: own and common as stored, and
// the worst |S' common - S own| / (S own) over q's blocks, S' = e4m3(f32(S) * f32(own / common)).
void expect_reconcile_of_q(const json& j, const SafetensorsFile& f) {
  const auto [own, common] = q_scales(f);
  const Tensor qs = f.tensor(kQ + ".weight_scale");
  double worst = 0;
  for (std::int64_t i = 0; i < qs.numel(); ++i) {
    const float S = e4m3_to_f32(qs.data()[i]);
    const float S2 = e4m3_to_f32(f32_to_e4m3_satfinite(S * (own / common)));
    worst = std::max(worst, std::fabs(static_cast<double>(S2) * common - static_cast<double>(S) * own) / (static_cast<double>(S) * own));
  }
  const json* rec = check_named(j, kQkv + ": reconcile shard q");
  ASSERT_NE(rec, nullptr);
  EXPECT_TRUE(rec->at("ok").get<bool>());
  EXPECT_EQ(rec->at("values").at("own_scale").get<double>(), static_cast<double>(own));
  EXPECT_EQ(rec->at("values").at("common_scale").get<double>(), static_cast<double>(common));
  EXPECT_EQ(rec->at("values").at("max_rel_error").get<double>(), worst);
  EXPECT_EQ(worst, 0.0625) << "the hand-worked value";
  EXPECT_EQ(rec->at("detail").get<std::string>().rfind(g9(own) + " -> " + g9(common) + ", worst relative error 0.0625 ", 0), 0u) << rec->dump();
}

void expect_peak_and_seconds(const json& j, std::int64_t max_resident) {
  // Both pipelines are held at a module's peak: at least the largest optimized resident set.
  EXPECT_GE(j.at("largest_module_peak_bytes").get<std::int64_t>(), max_resident);
  // Where the time went: the phases are disjoint parts of the module work.
  const json& s = j.at("seconds");
  double phases = 0;
  for (const char* p : {"load_and_process", "reloads", "exact_oracle", "eigen_path", "optimized_kernels"}) {
    EXPECT_GE(s.at(p).get<double>(), 0.0) << p;
    phases += s.at(p).get<double>();
  }
  EXPECT_LE(phases, s.at("modules").get<double>() * (1 + 1e-9) + 1e-9);
}

// Findings: nothing fails; the notes count what the raw scales hold. Block scales over every
// weight: 128 x 4 + 64 x 4 + 192 x 4 + 64 x 6 = 1920; those at 448 (0x7E) and subnormal
// (exponent field 0, nonzero) counted here.
void expect_findings(const json& j, const SafetensorsFile& f) {
  const auto [own, common] = q_scales(f);
  std::int64_t blocks = 0, at448 = 0, subnormal = 0;
  for (const auto& info : f.tensors()) {
    if (!info.name.ends_with(".weight_scale")) continue;
    const Tensor t = f.tensor(info.name);
    blocks += t.numel();
    for (std::int64_t i = 0; i < t.numel(); ++i) {
      at448 += (t.data()[i] & 0x7F) == 0x7E;
      subnormal += (t.data()[i] & 0x78) == 0 && (t.data()[i] & 0x07) != 0;
    }
  }
  EXPECT_EQ(blocks, 1920);
  bool counted = false, differ = false;
  for (const auto& x : j.at("findings")) {
    EXPECT_EQ(x.at("level"), "note") << x.dump();
    EXPECT_EQ(x.at("line").get<std::string>().rfind("note ", 0), 0u) << x.dump();
    const std::string w = x.at("what");
    counted |= w.rfind("block scales: " + std::to_string(blocks) + ", " + std::to_string(at448) + " at the E4M3 maximum 448", 0) == 0 &&
               w.find(", " + std::to_string(subnormal) + " subnormal") != std::string::npos;
    differ |= w.find("q=" + g9(own)) != std::string::npos && w.find("k=" + g9(common)) != std::string::npos;
  }
  EXPECT_TRUE(counted) << j.at("findings").dump();
  EXPECT_TRUE(differ) << "q's own scale and k's, as the note names them: " << j.at("findings").dump();
}

// What the run did not look at: the other backend and the unquantized tensors; reloads were done
// (and, run again with --reloads 0 --backend trtllm, were not).
void expect_not_checked(const json& j, const std::string& ck) {
  const auto nc = j.at("not_checked").get<std::vector<std::string>>();
  auto has = [&](const std::string& s) { return std::find(nc.begin(), nc.end(), s) != nc.end(); };
  EXPECT_TRUE(has("the other MoE backend (--backend trtllm)"));
  EXPECT_TRUE(has("unquantized tensors (embeddings, norms, router, lm_head): neither pipeline transforms them"));
  EXPECT_FALSE(has("reloads from disk (--reloads 0)"));
  CliRun none = nvfp4({"verify", ck, "--json", "--reloads", "0", "--backend", "trtllm"});
  ASSERT_EQ(none.code, 0) << none.err;
  const auto nc0 = json::parse(none.out).at("not_checked").get<std::vector<std::string>>();
  EXPECT_NE(std::find(nc0.begin(), nc0.end(), "reloads from disk (--reloads 0)"), nc0.end());
  EXPECT_NE(std::find(nc0.begin(), nc0.end(), "the other MoE backend (--backend cutlass)"), nc0.end());
  EXPECT_EQ(json::parse(none.out).at("backend"), "trtllm");
}

// The report stays in checkpoint order whatever the number of jobs.
void expect_same_order_with_two_jobs(const json& j, const std::string& ck) {
  CliRun two = nvfp4({"verify", ck, "--json", "--reloads", "2", "--jobs", "2"});
  ASSERT_EQ(two.code, 0);
  std::vector<std::string> names1, names2;
  for (const auto& c : j.at("checks")) names1.push_back(c.at("name"));
  const json j2 = json::parse(two.out);
  for (const auto& c : j2.at("checks")) names2.push_back(c.at("name"));
  EXPECT_EQ(names1, names2);
}

TEST_F(VerifyReport, EveryJsonFieldOnACheckpointWithKnownProperties) {
  write_checkpoint(dir("ck"), with_q_reconciled(kOwn, kCommon), 1);
  const std::string ck = dir("ck").string();
  const std::vector<std::string> args = {"verify", ck, "--json", "--reloads", "2", "--jobs", "1", "--backend", "cutlass"};
  CliRun r = nvfp4(args);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const json j = json::parse(r.out);
  expect_header(j, args, ck);
  expect_sampled(j.at("sampled"));
  ModuleChecks by_module;
  ASSERT_NO_FATAL_FAILURE(expect_check_order(j, by_module));
  std::int64_t max_resident = 0;
  ASSERT_NO_FATAL_FAILURE(expect_every_module(by_module, j.at("sampled"), max_resident));
  const SafetensorsFile f = SafetensorsFile::open(dir("ck") / "model.safetensors");
  ASSERT_NO_FATAL_FAILURE(expect_reconcile_of_q(j, f));
  expect_peak_and_seconds(j, max_resident);
  expect_findings(j, f);
  ASSERT_NO_FATAL_FAILURE(expect_not_checked(j, ck));
  expect_same_order_with_two_jobs(j, ck);
}

// Every kernel set this CPU runs, forced: verify takes that set's default rows (worked out by hand
// in optimized/test/path_rows_test.cpp), one GEMM each per projection and mode, and they pass.
TEST_F(VerifyReport, EveryKernelSetGetsItsOwnRows) {
  write_checkpoint(dir("ck"), generate_checkpoint(small_model()), 1);
  const std::map<opt::Isa, std::vector<std::int64_t>> rows = {
      {opt::Isa::Amx, {1, 2, 3, 4, 8, 15, 33}}, {opt::Isa::Avx512, {1, 2, 3, 9, 16, 23}}, {opt::Isa::Avx2, {1, 2, 7}}, {opt::Isa::Scalar, {2}}};
  for (opt::Isa isa : opt::available_isas()) {
    SCOPED_TRACE(opt::isa_name(isa));
    opt::ScopedIsa forced(isa);
    CliRun r = nvfp4({"verify", dir("ck").string(), "--reloads", "0", "--json"});
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    const json j = json::parse(r.out);
    EXPECT_EQ(j.at("sampled").at("kernels"), opt::isa_name(isa));
    EXPECT_EQ(j.at("sampled").at("activation_rows").get<std::vector<std::int64_t>>(), rows.at(isa));
    int kernel_checks = 0;
    for (const auto& c : j.at("checks"))
      if (c.at("name").get<std::string>().ends_with("optimized kernel vs exact oracle")) {
        ++kernel_checks;
        EXPECT_EQ(c.at("values").at("gemms"), rows.at(isa).size());
        EXPECT_TRUE(c.at("ok").get<bool>()) << c.dump();
      }
    EXPECT_EQ(kernel_checks, 8) << "4 modules x 2 modes";
  }
}

}  // namespace
}  // namespace nvfp4::report_test

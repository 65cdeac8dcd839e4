// The reports are checks too: every field of `nvfp4 verify`'s and `nvfp4 diff`'s JSON and text,
// the exit code of each failure class, and the reconcile and kernel bounds at their exact limits.
// Every expectation is worked out here, from the generator's options, the checkpoint's raw tensors
// or by hand, never read back from the code that produced the report.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "core/safetensors.h"
#include "core/test/temp_dir.h"
#include "generator/checkpoint_writer.h"
#include "generator/encoders.h"
#include "generator/test/small_model.h"
#include "optimized/kernels/dispatch.h"
#include "checks/gemm_vs_oracle.h"
#include "tools/test/cli_run.h"
#include "tools/test/diff_test_util.h"

namespace nvfp4 {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

const std::string kQkv = "model.layers.0.self_attn.qkv_proj", kO = "model.layers.0.self_attn.o_proj",
                  kGateUp = "model.layers.0.mlp.gate_up_proj", kDown = "model.layers.0.mlp.down_proj";
const std::string kQ = "model.layers.0.self_attn.q_proj", kK = "model.layers.0.self_attn.k_proj", kV = "model.layers.0.self_attn.v_proj";

std::string g9(double v) {
  char b[40];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}

// s as a regular expression matching itself.
std::string esc(const std::string& s) { return std::regex_replace(s, std::regex(R"([.+*?()\[\]{}|^$\\])"), R"(\$&)"); }

int lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

// --- verify ---------------------------------------------------------------------------------------

// small_model(): one dense layer, H = 64 in 4 heads of 16 over 2 KV heads, I = 96. So, per module,
// N x K: qkv (64 + 32 + 32) x 64 in three shards, o_proj 64 x 64, gate_up (96 + 96) x 64 in two,
// down_proj 64 x 96.
struct Shape2 { std::int64_t N, K; int shards; };
const std::map<std::string, Shape2> kModules = {{kQkv, {128, 64, 3}}, {kO, {64, 64, 1}}, {kGateUp, {192, 64, 2}}, {kDown, {64, 96, 1}}};

// q's block scales all 1.0 (E4M3 0x38) under its own global scale `own`, k and v under `common`:
// q alone is reconciled, by the factor own / common, and every q block lands on the same value.
GeneratedCheckpoint with_q_reconciled(float own, float common) {
  GeneratedCheckpoint g = generate_checkpoint(small_model());
  g.tensors.at(kQ + ".weight_scale_2") = Tensor::scalar_f32(own);
  g.tensors.at(kK + ".weight_scale_2") = Tensor::scalar_f32(common);
  g.tensors.at(kV + ".weight_scale_2") = Tensor::scalar_f32(common);
  Tensor& s = g.tensors.at(kQ + ".weight_scale");
  std::memset(s.data(), 0x38, s.nbytes());
  return g;
}

// Hand-worked: q's S = 1 under own = 2^-13, common = 17 * 2^-8. The factor own / common = 2^-5 / 17
// puts S * factor = 0.941 * 2^-9, in E4M3's subnormal range (below 2^-6, steps of 2^-9): it
// rounds to 2^-9 (byte 0x01). Dequantized, 2^-9 * 17 * 2^-8 = 17 * 2^-17 against 1 * 2^-13 =
// 16 * 2^-17: a relative error of exactly 1/16.
const float kOwn = std::ldexp(1.0f, -13), kCommon = 17 * std::ldexp(1.0f, -8);

// A "const" the published schema (docs/schema/) declares for a top-level field.
json schema_const(const std::string& schema, const std::string& field) {
  std::ifstream f(std::string(NVFP4_SOURCE_DIR) + "/docs/schema/" + schema + ".schema.json");
  return json::parse(f).at("properties").at(field).at("const");
}

const json* check_named(const json& j, const std::string& name) {
  for (const auto& c : j.at("checks"))
    if (c.at("name") == name) return &c;
  return nullptr;
}

class VerifyReport : public ::testing::Test {
 protected:
  fs::path dir(const std::string& n) const { return tmp_.path() / n; }
  TempDir tmp_;
};

TEST_F(VerifyReport, EveryJsonFieldOnACheckpointWithKnownProperties) {
  write_checkpoint(dir("ck"), with_q_reconciled(kOwn, kCommon), 1);
  const std::string ck = dir("ck").string();
  const std::vector<std::string> args = {"verify", ck, "--json", "--reloads", "2", "--jobs", "1", "--backend", "cutlass"};
  CliRun r = nvfp4(args);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const json j = json::parse(r.out);

  // Header: what the report is, which tool wrote it, and the command line as given.
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
  // The GEMMs' row counts: by default one M per kernel path and row remainder of the kernel set in
  // use, worked out by hand in optimized/test/path_rows_test.cpp.
  const std::map<std::string, std::vector<std::int64_t>> by_kernels = {{"avx512", {1, 2, 3, 9, 19}}, {"avx2", {1, 2, 7}}, {"scalar", {2}}};
  const json& sampled = j.at("sampled");
  EXPECT_EQ(sampled.at("kernels"), opt::isa_name(opt::active_isa()));
  EXPECT_EQ(sampled.at("activation_rows").get<std::vector<std::int64_t>>(), by_kernels.at(sampled.at("kernels")));
  EXPECT_EQ(sampled.at("eigen_rows_per_projection"), 128);
  EXPECT_EQ(sampled.at("reloads"), 2);
  EXPECT_EQ(sampled.at("experts"), 0);
  EXPECT_EQ(sampled.at("expert_chunks"), 0);

  // Checks: the checkpoint-wide one first, then each module's, contiguous, in a fixed order.
  const json& checks = j.at("checks");
  ASSERT_FALSE(checks.empty());
  EXPECT_EQ(checks[0].at("module"), "");
  EXPECT_EQ(checks[0].at("name"), "checkpoint findings");
  EXPECT_EQ(checks[0].at("values").at("failed"), 0);
  std::vector<std::string> order;
  std::map<std::string, std::vector<const json*>> by_module;
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

  std::int64_t max_resident = 0;
  for (const auto& [m, shape] : kModules) {
    SCOPED_TRACE(m);
    const auto& mc = by_module.at(m);
    // Per module: ref == opt, memory, re-processing, 2 reloads, a failed reload, a reconcile per
    // reconciled shard (q of qkv only), and Eigen and kernel checks per mode (the checkpoint has
    // input scales: w4a16 and w4a4).
    const std::size_t reconciles = m == kQkv ? 1 : 0;
    ASSERT_EQ(mc.size(), 6 + reconciles + 4);
    auto name = [&](std::size_t i) { return (*mc[i]).at("name").get<std::string>(); };
    EXPECT_EQ(name(0), m + ": reference == optimized after loading and processing (cutlass): every name, alias and byte");
    EXPECT_EQ(name(1), m + ": optimized memory: load + processing allocate only what stays resident");
    EXPECT_EQ(name(2), m + ": re-processing without a reload changes nothing (both pipelines)");
    EXPECT_EQ(name(3), m + ": reload 1: bitwise idempotent, identities kept (optimized: addresses kept, 0 bytes allocated)");
    EXPECT_EQ(name(4), m + ": reload 2: bitwise idempotent, identities kept (optimized: addresses kept, 0 bytes allocated)");
    EXPECT_TRUE(std::regex_match(name(5), std::regex(esc(m) +
                                                     ": a failed reload \\(model\\.layers\\.0\\.[a-z_.]+\\.weight missing\\) changes nothing \\(both pipelines\\)")))
        << name(5);
    if (reconciles) {
      EXPECT_EQ(name(6), m + ": reconcile shard q");
    }
    const std::size_t g = 6 + reconciles;
    EXPECT_EQ(name(g + 0), m + ": GEMM w4a16: reference Eigen path vs exact oracle");
    EXPECT_EQ(name(g + 1), m + ": GEMM w4a16: optimized kernel vs exact oracle");
    EXPECT_EQ(name(g + 2), m + ": GEMM w4a4: reference Eigen path vs exact oracle");
    EXPECT_EQ(name(g + 3), m + ": GEMM w4a4: optimized kernel vs exact oracle");

    // The memory contract's numbers: what load + processing allocated is what stays resident.
    const json& mem = (*mc[1]).at("values");
    EXPECT_EQ(mem.at("allocated_bytes"), mem.at("resident_bytes"));
    EXPECT_LE(mem.at("peak_bytes").get<std::int64_t>(), mem.at("resident_bytes").get<std::int64_t>() + mem.at("scratch_bytes").get<std::int64_t>());
    // At least the packed codes (K / 2 bytes a row) and one E4M3 scale per 16.
    EXPECT_GE(mem.at("resident_bytes").get<std::int64_t>(), shape.N * shape.K / 2 + shape.N * shape.K / 16);
    max_resident = std::max(max_resident, mem.at("resident_bytes").get<std::int64_t>());
    // A reload from disk allocates nothing.
    for (std::size_t i : {3, 4}) {
      EXPECT_EQ((*mc[i]).at("values").at("optimized_allocated_bytes"), 0);
      EXPECT_EQ((*mc[i]).at("values").at("optimized_allocations"), 0);
    }
    // GEMMs: N and K from the shapes above; the Eigen path sees every row up to 128, else the
    // first and last 64; the kernel every row; no difference above its bound.
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

  // The reconcile of q, from the raw scalars and bytes of the file: own and common as stored, and
  // the worst |S' common - S own| / (S own) over q's blocks, S' = e4m3(f32(S) * f32(own / common)).
  SafetensorsFile f = SafetensorsFile::open(dir("ck") / "model.safetensors");
  const float own = f.tensor(kQ + ".weight_scale_2").get_f32(0);
  const float common = std::max({own, f.tensor(kK + ".weight_scale_2").get_f32(0), f.tensor(kV + ".weight_scale_2").get_f32(0)});
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

  // Findings: nothing fails; the notes count what the raw scales hold. Block scales over every
  // weight: 128 x 4 + 64 x 4 + 192 x 4 + 64 x 6 = 1920; those at 448 (0x7E) and subnormal
  // (exponent field 0, nonzero) counted here.
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

  // What the run did not look at: the other backend and the unquantized tensors; reloads were done.
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

  // The report stays in checkpoint order whatever the number of jobs.
  CliRun two = nvfp4({"verify", ck, "--json", "--reloads", "2", "--jobs", "2"});
  ASSERT_EQ(two.code, 0);
  std::vector<std::string> names1, names2;
  for (const auto& c : checks) names1.push_back(c.at("name"));
  const json j2 = json::parse(two.out);
  for (const auto& c : j2.at("checks")) names2.push_back(c.at("name"));
  EXPECT_EQ(names1, names2);
}

// The text report says what the JSON says: each check's line, the table's counts and columns, and
// the verdict line, and both agree with the exit code.
void expect_text_agrees(const std::vector<std::string>& args, int code) {
  std::vector<std::string> ja = args;
  ja.push_back("--json");
  CliRun t = nvfp4(args), jr = nvfp4(ja);
  ASSERT_EQ(t.code, code) << t.out << t.err;
  ASSERT_EQ(jr.code, code) << jr.err;
  const json j = json::parse(jr.out);
  const auto& checks = j.at("checks");
  int failed = 0;
  std::map<std::string, int> count, fails;
  std::map<std::string, double> kernel, reconcile;
  for (const auto& c : checks) {
    const bool ok = c.at("ok");
    failed += !ok;
    const std::string d = c.at("detail");
    const std::string line = (ok ? "PASS " : "FAIL ") + c.at("name").get<std::string>() + (d.empty() ? "" : ": " + d) + "\n";
    EXPECT_NE(t.out.find(line), std::string::npos) << line << "\n" << t.out;
    const std::string m = c.at("module");
    if (m.empty()) continue;
    ++count[m];
    fails[m] += !ok;
    const json& v = c.at("values");
    if (v.contains("worst_fraction_of_bound")) kernel[m] = std::max(kernel.count(m) ? kernel[m] : 0.0, v.at("worst_fraction_of_bound").get<double>());
    if (v.contains("max_rel_error")) reconcile[m] = std::max(reconcile.count(m) ? reconcile[m] : 0.0, v.at("max_rel_error").get<double>());
  }
  EXPECT_EQ(j.at("checks_failed"), failed);
  EXPECT_EQ(j.at("passed"), failed == 0);
  EXPECT_EQ(code, failed ? 1 : 0);
  for (const auto& [m, n] : count) {
    char k[32] = "-";
    if (kernel.count(m)) std::snprintf(k, sizeof k, "%.3g", kernel[m]);
    const std::string row = esc(m) + " +[a-z x0-9]+ +" + std::to_string(n) + " +" + (fails[m] ? "FAIL" : "PASS") + " +" + esc(k) + " +" +
                            (reconcile.count(m) ? esc(g9(reconcile[m])) + " \\(bound 2\\^-4 if normal\\)" : "-") + "\n";
    EXPECT_TRUE(std::regex_search(t.out, std::regex(row))) << row << "\n" << t.out;
  }
  const std::string verdict = failed ? std::to_string(failed) + " of " + std::to_string(checks.size()) + " checks failed\n"
                                     : "all " + std::to_string(checks.size()) + " checks passed\n";
  ASSERT_GE(t.out.size(), verdict.size());
  EXPECT_EQ(t.out.substr(t.out.size() - verdict.size()), verdict) << t.out;
  EXPECT_TRUE(t.err.empty()) << t.err;
}

// Every kernel set this CPU runs, forced: verify takes that set's default rows (worked out by hand
// in optimized/test/path_rows_test.cpp), one GEMM each per projection and mode, and they pass.
TEST_F(VerifyReport, EveryKernelSetGetsItsOwnRows) {
  write_checkpoint(dir("ck"), generate_checkpoint(small_model()), 1);
  const std::map<opt::Isa, std::vector<std::int64_t>> rows = {
      {opt::Isa::Avx512, {1, 2, 3, 9, 19}}, {opt::Isa::Avx2, {1, 2, 7}}, {opt::Isa::Scalar, {2}}};
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

TEST_F(VerifyReport, TextAgreesWithJsonAndTheExitCode) {
  write_checkpoint(dir("ck"), with_q_reconciled(kOwn, kCommon), 1);
  expect_text_agrees({"verify", dir("ck").string(), "--reloads", "1"}, 0);
  // The table's kinds, from the shard counts.
  CliRun t = nvfp4({"verify", dir("ck").string(), "--reloads", "1"});
  for (const auto& [m, s] : kModules)
    EXPECT_TRUE(std::regex_search(t.out, std::regex(esc(m) + " +" +
                                                    (s.shards > 1 ? "linear x" + std::to_string(s.shards) : std::string("linear")) + " +[0-9]+ +PASS")))
        << m << "\n" << t.out;
}

// Data problems: a NaN block scale and a zero global scale each fail the findings and refuse their
// module (exit 1), the other modules still checked; the text's verdict line says the same.
TEST_F(VerifyReport, PlantedNanAndZeroScalesAreCountedFindings) {
  GeneratedCheckpoint g = generate_checkpoint(small_model());
  Tensor& os = g.tensors.at(kO + ".weight_scale");  // [64, 4]
  const std::vector<std::int64_t> nan_at = {4 * 9 + 2, 4 * 3 + 1, 4 * 40 + 3};  // first in flat order: [3, 1]
  for (auto i : nan_at) os.data()[i] = 0x7F;
  g.tensors.at(kDown + ".weight_scale_2") = Tensor::scalar_f32(0.0f);
  write_checkpoint(dir("bad"), g, 1);
  const std::string ck = dir("bad").string(), file = (dir("bad") / "model.safetensors").string();

  CliRun r = nvfp4({"verify", ck, "--reloads", "1", "--json"});
  ASSERT_EQ(r.code, 1) << r.err;
  const json j = json::parse(r.out);
  std::vector<json> fail;
  for (const auto& x : j.at("findings"))
    if (x.at("level") == "fail") fail.push_back(x);
  ASSERT_EQ(fail.size(), 2u) << j.at("findings").dump();
  std::map<std::string, json> by_tensor;
  for (const auto& x : fail) by_tensor[x.at("tensor")] = x;
  const json& n = by_tensor.at(kO + ".weight_scale");
  EXPECT_EQ(n.at("file"), file);
  EXPECT_EQ(n.at("what"), "3 NaN block scale(s), first at [3, 1]");
  EXPECT_EQ(n.at("line"), "FAIL " + file + ": " + kO + ".weight_scale: 3 NaN block scale(s), first at [3, 1]");
  const json& z = by_tensor.at(kDown + ".weight_scale_2");
  EXPECT_EQ(z.at("what"), "zero global scale");
  EXPECT_EQ(z.at("line"), "FAIL " + file + ": " + kDown + ".weight_scale_2: zero global scale");

  // Failed checks: the findings and each refused module's one check; qkv and gate_up pass whole.
  EXPECT_EQ(j.at("checks")[0].at("values").at("failed"), 2);
  EXPECT_EQ(j.at("checks")[0].at("ok"), false);
  EXPECT_EQ(j.at("checks")[0].at("detail"), "2 failed (run nvfp4 inspect)");
  std::set<std::string> failing;
  for (const auto& c : j.at("checks"))
    if (!c.at("ok").get<bool>()) failing.insert(c.at("name"));
  EXPECT_EQ(failing, (std::set<std::string>{"checkpoint findings", kO + ": loads and processes (both pipelines)",
                                            kDown + ": loads and processes (both pipelines)"}));
  EXPECT_EQ(j.at("checks_failed"), 3);
  EXPECT_EQ(j.at("passed"), false);
  for (const auto& c : j.at("checks"))
    if (c.at("module") == kO) {
      EXPECT_NE(c.at("detail").get<std::string>().find("NaN block scale"), std::string::npos) << c.dump();
    }
  EXPECT_NE(check_named(j, kQkv + ": GEMM w4a4: optimized kernel vs exact oracle"), nullptr);
  EXPECT_NE(check_named(j, kGateUp + ": GEMM w4a4: optimized kernel vs exact oracle"), nullptr);

  expect_text_agrees({"verify", ck, "--reloads", "1"}, 1);
  CliRun t = nvfp4({"verify", ck, "--reloads", "1"});
  EXPECT_NE(t.out.find("  " + n.at("line").get<std::string>() + "\n"), std::string::npos) << t.out;
}

// The reconcile bound at its limit, on real checkpoints: q reconciled so that its worst relative
// error is exactly 1/16 (hand-worked above) passes. One f32 step lower own (2^-13 (1 - 2^-24)) is
// the next reconcile past 1/16: S * factor still rounds to 2^-9 (0.941 of it), so the error becomes
// (17 * 2^-17 - own) / own = 2^-4 (1 + 2^-20) / (1 - 2^-24), above 1/16 by ~6e-8. That rounding
// is E4M3's own: below 2^-6 its steps are 2^-9 apart whatever the value, so a correct reconcile
// moves S own by up to 2^-10 common there, which no relative bound holds. It must pass too.
TEST_F(VerifyReport, ReconcileAtTheSubnormalEdgePasses) {
  const float own = std::nextafter(kOwn, 0.0f);
  ASSERT_EQ(static_cast<double>(own), std::ldexp(1.0, -13) * (1 - std::ldexp(1.0, -24)));
  write_checkpoint(dir("edge"), with_q_reconciled(own, kCommon), 1);
  CliRun r = nvfp4({"verify", dir("edge").string(), "--reloads", "0", "--json"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  const json j = json::parse(r.out);
  const json* rec = check_named(j, kQkv + ": reconcile shard q");
  ASSERT_NE(rec, nullptr);
  const double want = std::ldexp(1.0, -13) * (1 - std::ldexp(1.0, -24)), got = std::ldexp(17.0, -17);
  const double err = (got - want) / want;
  EXPECT_GT(err, 0.0625 + 1e-12);
  EXPECT_EQ(rec->at("values").at("max_rel_error").get<double>(), err);
  // The property's bound, by hand: |got - want| = 2^-17 + 2^-37 <= 2^-4 want + 2^-10 common.
  EXPECT_LE(got - want, 0.0625 * want + std::ldexp(1.0, -10) * static_cast<double>(kCommon));
  EXPECT_TRUE(rec->at("ok").get<bool>()) << rec->dump();
  EXPECT_TRUE(j.at("passed").get<bool>());
}

// Every shard whose global scale is below its group's max gets a reconcile check, and a correct
// reconcile passes it block by block: on experts (gate and up of each expert, under a two-file
// checkpoint) as on linear modules; which shards, from the raw scalars.
TEST_F(VerifyReport, EveryReconciledShardIsCheckedAndPasses) {
  WriterOptions o = small_model();
  o.experts = 2;
  o.unequal_scales = true;
  write_checkpoint(dir("moe"), generate_checkpoint(o), 2);
  std::map<std::string, float> s2;
  for (const auto& e : fs::directory_iterator(dir("moe"))) {
    if (e.path().extension() != ".safetensors") continue;
    const SafetensorsFile f = SafetensorsFile::open(e.path());
    for (const auto& info : f.tensors())
      if (info.name.ends_with(".weight_scale_2")) s2[info.name.substr(0, info.name.size() - 15)] = f.tensor(info.name).get_f32(0);
  }
  std::multiset<std::string> want;
  auto group = [&](const std::string& module, const std::vector<std::pair<std::string, std::string>>& shards) {
    float mx = 0;
    for (const auto& [id, p] : shards) mx = std::max(mx, s2.at(p));
    for (const auto& [id, p] : shards)
      if (s2.at(p) < mx) want.insert(module + ": reconcile " + id);
  };
  group(kQkv, {{"shard q", kQ}, {"shard k", kK}, {"shard v", kV}});
  for (int e = 0; e < 2; ++e) {
    const std::string p = "model.layers.0.mlp.experts." + std::to_string(e), x = "expert " + std::to_string(e) + " ";
    group("model.layers.0.mlp.experts", {{x + "shard w1", p + ".gate_proj"}, {x + "shard w3", p + ".up_proj"}});
  }
  ASSERT_GE(want.size(), 3u);
  for (const char* backend : {"cutlass", "trtllm"}) {
    CliRun r = nvfp4({"verify", dir("moe").string(), "--reloads", "0", "--backend", backend, "--json"});
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    const json j = json::parse(r.out);
    std::multiset<std::string> got;
    for (const auto& c : j.at("checks"))
      if (c.at("name").get<std::string>().find(": reconcile ") != std::string::npos) {
        got.insert(c.at("name"));
        EXPECT_TRUE(c.at("ok").get<bool>()) << c.dump();
      }
    EXPECT_EQ(got, want) << backend;
  }
}

// Exit 2: input that cannot be checked, with one line on stderr and nothing on stdout (also with
// --json, so that a pipeline reading it never sees half a report).
TEST_F(VerifyReport, BadInputAndUsageExitTwoWithOneLine) {
  write_checkpoint(dir("ck"), generate_checkpoint(small_model()), 1);
  fs::copy(dir("ck"), dir("malformed"), fs::copy_options::recursive);
  {
    std::ofstream f(dir("malformed") / "model.safetensors", std::ios::binary | std::ios::trunc);
    const char header[] = "\x05\0\0\0\0\0\0\0{{{{{";
    f.write(header, sizeof header - 1);
  }
  struct Case { std::vector<std::string> args; std::string message; };
  const std::vector<Case> cases = {
      {{"verify", dir("missing").string()}, "missing"},
      {{"verify", dir("malformed").string()}, "model.safetensors"},
      {{"verify", dir("ck").string(), "--backend", "flashinfer"}, "--backend: must be one of cutlass|trtllm"},
      {{"verify", dir("ck").string(), "--reloads", "-1"}, "--reloads: -1 is out of range"},
      {{"verify", dir("ck").string(), "--jobs", "0"}, "--jobs: 0 is out of range"},
  };
  for (const auto& c : cases)
    for (bool js : {false, true}) {
      std::vector<std::string> a = c.args;
      if (js) a.push_back("--json");
      CliRun r = nvfp4(a);
      EXPECT_EQ(r.code, 2) << a[1] << " " << r.out;
      EXPECT_TRUE(r.out.empty()) << r.out;
      EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
      if (c.args.size() == 2) {
        EXPECT_EQ(lines(r.err), 1) << r.err;  // a usage error adds the usage line
      }
    }
}

// --- diff ---------------------------------------------------------------------------------------

const std::string kData = NVFP4_ENGINE_DUMPS;

// The dump's own names under a module, as the report's params must list them.
std::set<std::string> names_under(const std::string& dump, const std::string& module) {
  std::set<std::string> n;
  const SafetensorsFile f = SafetensorsFile::open(dump);
  for (const auto& info : f.tensors())
    if (info.name.rfind(module + ".", 0) == 0) n.insert(info.name.substr(module.size() + 1));
  return n;
}

// A copy of a committed dump with `edit` applied to its tensors, under `metadata`.
std::string edited(const TempDir& dir, const std::string& dump, const std::function<void(std::map<std::string, Tensor>&)>& edit,
                   std::map<std::string, std::string> metadata) {
  return diff_test::planted(dir, dump, edit, std::move(metadata));
}

std::string tail_line(const std::string& out) {
  const auto end = out.size() - 1, start = out.rfind('\n', end - 1);
  return out.substr(start + 1);
}

// E2M1 by hand: codes 0-7 are 0, 0.5, 1, 1.5, 2, 3, 4, 6; bit 3 the sign.
std::string code_text(int c) {
  const double v[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
  char b[16];
  std::snprintf(b, sizeof b, "0x%x", c);
  return std::string("code ") + b + " (" + g9((c & 8) ? -v[c & 7] : v[c & 7]) + ")";
}

TEST(DiffReport, TopLevelFieldsAndTheVerdictLine) {
  const std::string ck = kData + "/dense", dump = kData + "/dense.sglang.safetensors";
  CliRun r = nvfp4({"diff", ck, dump, "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j.at("schema"), "nvfp4-diff-report");
  EXPECT_EQ(j.at("schema_version"), schema_const("diff-report", "schema_version"));
  EXPECT_EQ(j.at("tool").at("name"), "nvfp4");
  EXPECT_EQ("nvfp4 " + j.at("tool").at("version").get<std::string>() + "\n", nvfp4({"--version"}).out);
  EXPECT_EQ(j.at("command_line").get<std::vector<std::string>>(), (std::vector<std::string>{"nvfp4", "diff", ck, dump, "--json"}));
  EXPECT_EQ(j.at("checkpoint"), ck);
  EXPECT_EQ(j.at("dump"), dump);
  EXPECT_EQ(j.at("engine"), "sglang");
  EXPECT_EQ(j.at("engine_from"), "the dump's metadata");
  // The committed dumps name no release: the newest known decodes them (tools/diff/releases.cpp).
  EXPECT_EQ(j.at("engine_version"), "0.5.23");
  EXPECT_EQ(j.at("engine_version_from"), "the newest known; neither --engine nor the dump's metadata names one");
  EXPECT_FALSE(j.contains("experts_backend")) << "a dense checkpoint has no experts";
  std::set<std::string> modules;
  for (const auto& m : j.at("modules")) {
    const std::string name = m.at("module");
    modules.insert(name);
    EXPECT_EQ(m.at("kind"), "linear");
    EXPECT_EQ(m.at("in_dump"), true);
    EXPECT_EQ(m.at("semantic"), "ok");
    EXPECT_EQ(m.at("layout"), "ok");
    const auto params = m.at("params").get<std::vector<std::string>>();
    EXPECT_EQ(std::set<std::string>(params.begin(), params.end()), names_under(dump, name)) << name;
    EXPECT_TRUE(m.at("mismatches").empty());
    EXPECT_TRUE(m.at("unreconciled").empty());
  }
  EXPECT_EQ(modules, (std::set<std::string>{kQkv, kO, kGateUp, kDown}));
  EXPECT_TRUE(j.at("unread").empty());
  EXPECT_EQ(j.at("modules_failed"), 0);
  EXPECT_EQ(j.at("passed"), true);

  CliRun t = nvfp4({"diff", ck, dump});
  EXPECT_EQ(t.code, 0);
  EXPECT_EQ(t.out.rfind("nvfp4 diff " + ck + " " + dump + "\nengine sglang 0.5.23 (engine from the dump's metadata; release from the newest known; neither --engine nor the dump's metadata "
                                                                                    "names one), modelopt checkpoint\n", 0), 0u) << t.out;
  for (const auto& m : modules)
    EXPECT_TRUE(std::regex_search(t.out, std::regex("\n" + esc(m) + " +linear +" + std::to_string(names_under(dump, m).size()) + " +ok +ok\n")))
        << m << "\n" << t.out;
  EXPECT_EQ(tail_line(t.out), "4 module(s) compared, 4 hold, 0 differ\n");

  // Where the engine came from: the flag, else the metadata, else the names.
  EXPECT_EQ(json::parse(nvfp4({"diff", ck, dump, "--engine", "sglang", "--json"}).out).at("engine_from"), "--engine");
  TempDir d;
  for (std::string e : {"sglang", "vllm"}) {
    const std::string bare = edited(d, "dense." + e + ".safetensors", [](auto&) {}, {});
    CliRun b = nvfp4({"diff", ck, bare, "--json"});
    ASSERT_EQ(b.code, 0) << b.err;
    EXPECT_EQ(json::parse(b.out).at("engine"), e);
    EXPECT_EQ(json::parse(b.out).at("engine_from"), "its parameter names");
  }
  // A checkpoint with experts names their backend; its module is of kind experts.
  const json moe = json::parse(nvfp4({"diff", kData + "/moe", kData + "/moe.sglang.flashinfer_cutlass.safetensors", "--json"}).out);
  EXPECT_EQ(moe.at("experts_backend"), "flashinfer_cutlass");
  bool experts = false;
  for (const auto& m : moe.at("modules"))
    if (m.at("module") == "model.layers.0.mlp.experts") {
      experts = true;
      EXPECT_EQ(m.at("kind"), "experts");
      const auto params = m.at("params").get<std::vector<std::string>>();
      EXPECT_EQ(std::set<std::string>(params.begin(), params.end()),
                names_under(kData + "/moe.sglang.flashinfer_cutlass.safetensors", "model.layers.0.mlp.experts"));
    }
  EXPECT_TRUE(experts);
}

// Every field of an unreconciled shard, from the checkpoint's raw scalars and block scales: its
// own scale, the one applied (the module's max), the factor applied / own, and how many of its
// blocks are kept raw where a reconcile would have changed them, S != e4m3(S * f32(own / applied)).
TEST(DiffReport, UnreconciledShardsEveryField) {
  const std::string ck = kData + "/unequal";
  SafetensorsFile f = SafetensorsFile::open(ck + "/model.safetensors");
  const std::map<std::string, std::vector<std::pair<std::string, std::string>>> shards = {
      {kQkv, {{"q", kQ}, {"k", kK}, {"v", kV}}}, {kGateUp, {{"0", "model.layers.0.mlp.gate_proj"}, {"1", "model.layers.0.mlp.up_proj"}}}};
  struct Want { std::string source; float own, applied; std::int64_t blocks; };
  std::map<std::pair<std::string, std::string>, Want> want;
  for (const auto& [mod, list] : shards) {
    float mx = 0;
    for (const auto& [id, p] : list) mx = std::max(mx, f.tensor(p + ".weight_scale_2").get_f32(0));
    for (const auto& [id, p] : list) {
      const float own = f.tensor(p + ".weight_scale_2").get_f32(0);
      if (own == mx) continue;
      const Tensor s = f.tensor(p + ".weight_scale");
      std::int64_t n = 0;
      for (std::int64_t i = 0; i < s.numel(); ++i) n += f32_to_e4m3_satfinite(e4m3_to_f32(s.data()[i]) * (own / mx)) != s.data()[i];
      want[{mod, id}] = {p, own, mx, n};
    }
  }
  ASSERT_GE(want.size(), 2u);
  for (std::string e : {"sglang", "vllm"}) {
    SCOPED_TRACE(e);
    const std::string dump = kData + "/unequal." + e + ".safetensors";
    CliRun r = nvfp4({"diff", ck, dump, "--json"}), t = nvfp4({"diff", ck, dump});
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(t.code, 1);
    const json j = json::parse(r.out);
    std::size_t seen = 0, failed = 0;
    for (const auto& m : j.at("modules")) {
      failed += !m.at("unreconciled").empty();
      for (const auto& u : m.at("unreconciled")) {
        const Want& w = want.at({m.at("module"), u.at("shard")});
        ++seen;
        EXPECT_EQ(u.at("source"), w.source);
        EXPECT_EQ(u.at("own_scale").get<double>(), static_cast<double>(w.own));
        EXPECT_EQ(u.at("applied_scale").get<double>(), static_cast<double>(w.applied));
        EXPECT_EQ(u.at("factor").get<double>(), static_cast<double>(w.applied) / w.own);
        EXPECT_EQ(u.at("blocks"), w.blocks);
        const std::string line = "  " + m.at("module").get<std::string>() + " shard " + u.at("shard").get<std::string>() + " (" + w.source +
                                 "): global scale " + g9(w.own) + ", applied " + g9(w.applied) + ", off by x" +
                                 g9(static_cast<double>(w.applied) / w.own) + " (" + std::to_string(w.blocks) + " blocks)\n";
        EXPECT_NE(t.out.find(line), std::string::npos) << line << t.out;
      }
    }
    EXPECT_EQ(seen, want.size());
    EXPECT_EQ(j.at("modules_failed"), failed);
    EXPECT_EQ(j.at("passed"), false);
    EXPECT_EQ(tail_line(t.out), "4 module(s) compared, " + std::to_string(4 - failed) + " hold, " + std::to_string(failed) + " differ\n");
  }
  // Experts: each up half under the gate's scale (vLLM's cutlass), own and applied from the raw
  // scalars, blocks counted the same way on the up_proj's scales.
  const std::string mck = kData + "/moe_unequal";
  SafetensorsFile mf = SafetensorsFile::open(mck + "/model.safetensors");
  const json mj = json::parse(nvfp4({"diff", mck, kData + "/moe_unequal.vllm.cutlass.safetensors", "--json"}).out);
  std::size_t seen = 0;
  for (const auto& m : mj.at("modules"))
    for (const auto& u : m.at("unreconciled")) {
      if (m.at("module") != "model.layers.0.mlp.experts") continue;
      const std::string shard = u.at("shard");
      const std::string e = shard.substr(7, shard.find(' ', 7) - 7);
      const std::string p = "model.layers.0.mlp.experts." + e;
      const float own = mf.tensor(p + ".up_proj.weight_scale_2").get_f32(0), applied = mf.tensor(p + ".gate_proj.weight_scale_2").get_f32(0);
      const Tensor s = mf.tensor(p + ".up_proj.weight_scale");
      std::int64_t n = 0;
      for (std::int64_t i = 0; i < s.numel(); ++i) n += f32_to_e4m3_satfinite(e4m3_to_f32(s.data()[i]) * (own / applied)) != s.data()[i];
      EXPECT_EQ(u.at("own_scale").get<double>(), static_cast<double>(own)) << shard;
      EXPECT_EQ(u.at("applied_scale").get<double>(), static_cast<double>(applied)) << shard;
      EXPECT_EQ(u.at("blocks"), n) << shard;
      ++seen;
    }
  EXPECT_EQ(seen, 4u);
}

// Three codes of o_proj changed in vLLM's dump (low nibble ^ 1): the first in row-major order is
// reported with its index, source and both values, from the checkpoint's own bytes, and all three
// are counted, under both verdicts; the text line says the same.
TEST(DiffReport, MismatchFieldsAndTheirTextLine) {
  const std::string ck = kData + "/dense";
  const Tensor w = SafetensorsFile::open(ck + "/model.safetensors").tensor(kO + ".weight");  // [64, 32]: K 64, no padding
  const std::vector<std::pair<int, int>> at = {{7, 5}, {2, 30}, {40, 0}};                      // first: row 2, byte 30
  TempDir d;
  const std::string dump = edited(
      d, "dense.vllm.safetensors",
      [&](auto& t) {
        for (auto [r, c] : at) t.at(kO + ".weight").data()[r * 32 + c] ^= 0x01;
      },
      SafetensorsFile::open(kData + "/dense.vllm.safetensors").metadata());
  const std::uint8_t was = w.data()[2 * 32 + 30];
  CliRun r = nvfp4({"diff", ck, dump, "--json"}), t = nvfp4({"diff", ck, dump});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(t.code, 1);
  const json j = json::parse(r.out);
  EXPECT_EQ(j.at("modules_failed"), 1);
  EXPECT_EQ(j.at("passed"), false);
  for (const auto& m : j.at("modules")) {
    if (m.at("module") != kO) {
      EXPECT_TRUE(m.at("mismatches").empty()) << m.dump();
      continue;
    }
    EXPECT_EQ(m.at("semantic"), "fail");
    EXPECT_EQ(m.at("layout"), "fail");
    ASSERT_EQ(m.at("mismatches").size(), 2u) << m.dump();
    for (const auto& x : m.at("mismatches")) {
      const bool sem = x.at("verdict") == "semantic";
      EXPECT_EQ(x.at("param"), "weight");
      EXPECT_EQ(x.at("index"), "[2, 30]");
      EXPECT_EQ(x.at("source"), kO + ".weight row 2 " + (sem ? "k 60" : "byte 30"));
      EXPECT_EQ(x.at("expected"), sem ? code_text(was & 0xF) : "byte " + std::to_string(was));
      EXPECT_EQ(x.at("found"), sem ? code_text((was ^ 1) & 0xF) : "byte " + std::to_string(was ^ 1));
      EXPECT_EQ(x.at("count"), 3);
      const std::string line = "  " + kO + ".weight [2, 30] (" + x.at("verdict").get<std::string>() + "): " + x.at("source").get<std::string>() +
                               ": expected " + x.at("expected").get<std::string>() + ", found " + x.at("found").get<std::string>() +
                               " (3 elements differ)\n";
      EXPECT_NE(t.out.find(line), std::string::npos) << line << t.out;
    }
  }
  EXPECT_TRUE(std::regex_search(t.out, std::regex("\n" + esc(kO) + " +linear +[0-9]+ +FAIL +FAIL\n"))) << t.out;
  EXPECT_EQ(tail_line(t.out), "4 module(s) compared, 3 hold, 1 differ\n");
}

// A module the dump does not hold is reported absent (not compared, not failed), and a dump tensor
// no module reads is listed as unread, in the JSON and the text alike.
TEST(DiffReport, AbsentModuleAndUnreadTensor) {
  const std::string ck = kData + "/dense", extra = "model.layers.0.extra_buffer";
  TempDir d;
  const std::string dump = edited(
      d, "dense.sglang.safetensors",
      [&](auto& t) {
        std::erase_if(t, [&](const auto& kv) { return kv.first.rfind(kO + ".", 0) == 0; });
        t.emplace(extra, Tensor::zeros(DType::U8, {2, 2}));
      },
      SafetensorsFile::open(kData + "/dense.sglang.safetensors").metadata());
  CliRun r = nvfp4({"diff", ck, dump, "--json"}), t = nvfp4({"diff", ck, dump});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(t.code, 0);
  const json j = json::parse(r.out);
  for (const auto& m : j.at("modules")) {
    const bool absent = m.at("module") == kO;
    EXPECT_EQ(m.at("in_dump"), !absent);
    EXPECT_EQ(m.at("semantic"), absent ? "absent" : "ok");
    EXPECT_EQ(m.at("layout"), absent ? "absent" : "ok");
    if (absent) {
      EXPECT_TRUE(m.at("params").empty());
    }
    EXPECT_TRUE(m.at("unexplained").empty()) << "nothing sits under a module's name unread";
  }
  EXPECT_EQ(j.at("unread").get<std::vector<std::string>>(), std::vector<std::string>{extra});
  EXPECT_EQ(j.at("unexplained"), 0);
  EXPECT_EQ(j.at("allow_unknown"), false);
  EXPECT_EQ(j.at("modules_failed"), 0);
  EXPECT_EQ(j.at("passed"), true);
  EXPECT_TRUE(std::regex_search(t.out, std::regex("\n" + esc(kO) + " +linear +absent +- +-\n"))) << t.out;
  EXPECT_NE(t.out.find("  1 dump tensor(s) under no quantized module of the checkpoint, e.g. " + extra + "\n"), std::string::npos) << t.out;
  EXPECT_EQ(tail_line(t.out), "3 module(s) compared, 3 hold, 0 differ, 1 absent from the dump\n");
}

// Exit 2: input diff cannot compare, with nothing on stdout.
TEST(DiffReport, BadInputAndUsageExitTwo) {
  TempDir d;
  const std::string garbage = (d.path() / "garbage.safetensors").string();
  {
    std::ofstream f(garbage, std::ios::binary);
    f << "not a safetensors file at all";
  }
  const std::string ck = kData + "/dense", dump = kData + "/dense.sglang.safetensors";
  struct Case { std::vector<std::string> args; std::string message; bool one_line; };
  const std::vector<Case> cases = {
      {{"diff", ck, (d.path() / "missing.safetensors").string()}, "missing.safetensors", true},
      {{"diff", ck, garbage}, "garbage.safetensors", true},
      {{"diff", (d.path() / "nockpt").string(), dump}, "nockpt", true},
      {{"diff", kData + "/odd", dump}, "cannot hold this module's packed weight", true},
      {{"diff", ck, dump, "--engine", "trt"}, "--engine: \"trt\" is not an engine: expected sglang or vllm, optionally ==VERSION", false},
      {{"diff", ck, dump, "--backend", "marlin"}, "--backend: must be one of cutlass|flashinfer_cutlass|trtllm", false},
      {{"diff", ck}, "DUMP is required", false},
  };
  for (const auto& c : cases)
    for (bool js : {false, true}) {
      std::vector<std::string> a = c.args;
      if (js) a.push_back("--json");
      CliRun r = nvfp4(a);
      EXPECT_EQ(r.code, 2) << c.message;
      EXPECT_TRUE(r.out.empty()) << r.out;
      EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
      if (c.one_line) {
        EXPECT_EQ(lines(r.err), 1) << r.err;
      }
    }
}

}  // namespace
}  // namespace nvfp4

// The text report of `nvfp4 verify` says what its JSON says, and both agree with the exit code:
// on a passing checkpoint, on one with planted NaN and zero scales (exit 1), and on input that
// cannot be checked (exit 2). Expectations worked out by hand or from the checkpoint's options.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "tools/test/report_fields_util.h"

namespace nvfp4::report_test {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

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

}  // namespace
}  // namespace nvfp4::report_test

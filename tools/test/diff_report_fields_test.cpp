// Every field of `nvfp4 diff`'s JSON and text on the committed engine dumps
// (tools/engine_dumps/data) and on copies with one planted fault: the top-level fields and the
// verdict line, unreconciled shards, mismatches, absent modules and unread tensors, and exit 2 for
// input diff cannot compare. Expectations from the checkpoints' raw tensors or by hand.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "core/safetensors.h"
#include "generator/encoders.h"
#include "tools/test/diff_test_util.h"
#include "tools/test/report_fields_util.h"

namespace nvfp4::report_test {
namespace {
using nlohmann::json;

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
      // Every name read, but g1_alphas_up: written and never read by this runner, an unused
      // placeholder (tools/diff/conventions_sglang_modelopt_moe.cpp).
      auto params = m.at("params").get<std::vector<std::string>>();
      EXPECT_EQ(m.at("placeholders"), std::vector<std::string>{"g1_alphas_up"});
      params.push_back("g1_alphas_up");
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
}  // namespace nvfp4::report_test

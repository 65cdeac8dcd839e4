// verify's reconcile checks on real checkpoints: the bound at its exact limit in E4M3's subnormal
// range, and one check per reconciled shard, on experts as on linear modules, each passing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "core/safetensors.h"
#include "tools/test/report_fields_util.h"

namespace nvfp4::report_test {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

// The reconcile bound at its limit, on real checkpoints: q reconciled so that its worst relative
// error is exactly 1/16 (hand-worked at kOwn in report_fields_util.h) passes. One f32 step lower
// own (2^-13 (1 - 2^-24)) is the next reconcile past 1/16: S * factor still rounds to 2^-9 (0.941
// of it), so the error becomes (17 * 2^-17 - own) / own = 2^-4 (1 + 2^-20) / (1 - 2^-24), above
// 1/16 by ~6e-8. That rounding is E4M3's own: below 2^-6 its steps are 2^-9 apart whatever the
// value, so a correct reconcile moves S own by up to 2^-10 common there, which no relative bound
// holds. It must pass too.
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

}  // namespace
}  // namespace nvfp4::report_test

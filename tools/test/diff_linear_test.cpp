// nvfp4 diff on linear modules: dumps sglang's and vLLM's own code wrote for ModelOpt
// and compressed-tensors checkpoints (aligned, odd, fused on disk, unequal shard scales), and
// copies of them with one planted fault each.
#include "tools/test/diff_test_util.h"

namespace nvfp4::diff_test {
namespace {

TEST(Diff, PassesWhereTheEngineIsRight) {
  for (std::string c : {"dense", "odd", "fused", "bf16_scalars", "w4a16"})
    for (std::string e : {"sglang", "vllm"}) {
      if (c == "w4a16" && e == "vllm") continue;  // not committed: tools/engine_dumps/README.md
      SCOPED_TRACE(c + " " + e);
      nlohmann::json j = diff_json(kData + "/" + c, kData + "/" + c + "." + e + ".safetensors", 0);
      EXPECT_EQ(j.at("engine"), e);
      ASSERT_EQ(j.at("modules").size(), 4u);
      for (const auto& m : j.at("modules")) {
        EXPECT_EQ(m.at("semantic"), "ok") << m.dump();
        EXPECT_EQ(m.at("layout"), "ok") << m.dump();
        // sglang: weight, weight_scale_interleaved, weight_scale, alpha, input_scale_inv,
        // weight_scale_2, input_scale; vLLM: weight, weight_scale, alpha and three global scales.
        EXPECT_EQ(m.at("params").size(), e == "sglang" ? 7u : 6u) << m.dump();
      }
      EXPECT_TRUE(j.at("unread").empty()) << j.at("unread").dump();
    }
}

// The fused modules of the one-layer checkpoints: shard id and on-disk prefix.
TEST(Diff, ReportsEveryUnreconciledShardWithItsFactor) {
  auto factor = expected_factors(kData + "/unequal/model.safetensors", false);
  std::set<std::pair<std::string, std::string>> expected;
  for (const auto& [k, f] : factor) expected.insert(k);
  ASSERT_GE(expected.size(), 2u);  // the writer gives each shard its own scale
  for (std::string e : {"sglang", "vllm"}) {
    SCOPED_TRACE(e);
    nlohmann::json j = diff_json(kData + "/unequal", kData + "/unequal." + e + ".safetensors", 1);
    std::set<std::pair<std::string, std::string>> got;
    for (const auto& m : j.at("modules")) {
      EXPECT_TRUE(m.at("mismatches").empty()) << m.dump();
      EXPECT_EQ(m.at("layout"), "ok");
      for (const auto& u : m.at("unreconciled")) {
        std::pair<std::string, std::string> key{m.at("module"), u.at("shard")};
        got.insert(key);
        EXPECT_EQ(u.at("factor").get<double>(), factor[key]) << u.dump();
        EXPECT_GT(u.at("blocks").get<int>(), 0);
      }
      EXPECT_EQ(m.at("semantic"), m.at("unreconciled").empty() ? "ok" : "fail");
    }
    EXPECT_EQ(got, expected);
  }
}

TEST(Diff, FlippedScaleByteAtItsPlace) {
  TempDir dir;
  std::uint8_t was = 0;
  std::string dump = planted(dir, "dense.sglang.safetensors", [&](auto& t) {
    std::uint8_t& b = t.at(kQkv + ".weight_scale_interleaved").data()[106];
    was = b;
    b = b == 0x38 ? 0x40 : 0x38;
  });
  nlohmann::json j = diff_json(kData + "/dense", dump, 1);
  for (std::string v : {"semantic", "layout"}) {
    const auto& x = only_mismatch(j, kQkv, v);
    EXPECT_EQ(x.at("param"), "weight_scale_interleaved");
    EXPECT_EQ(x.at("index"), "[26, 2]");
    EXPECT_EQ(x.at("source"), "model.layers.0.self_attn.k_proj.weight_scale row 6 k-block 2");
    EXPECT_EQ(x.at("count"), 1);
    // Both values as bytes: the checkpoint's (what sglang held before the flip) and the planted one.
    char before[8], after[8];
    std::snprintf(before, sizeof before, "(0x%02x)", was);
    std::snprintf(after, sizeof after, "(0x%02x)", was == 0x38 ? 0x40 : 0x38);
    EXPECT_NE(x.at("expected").get<std::string>().find(before), std::string::npos) << x.dump();
    EXPECT_NE(x.at("found").get<std::string>().find(after), std::string::npos) << x.dump();
  }
  expect_others_clean(j, kQkv);
}

TEST(Diff, WrongAlphaWithItsFactor) {
  TempDir dir;
  std::string dump = planted(dir, "dense.vllm.safetensors", [&](auto& t) { t.at(kO + ".alpha").template data_as<float>()[0] *= 2; });
  nlohmann::json j = diff_json(kData + "/dense", dump, 1);
  const auto& x = only_mismatch(j, kO, "semantic");
  EXPECT_EQ(x.at("param"), "alpha");
  EXPECT_NE(x.at("source").get<std::string>().find("off by a factor 2"), std::string::npos) << x.dump();
  EXPECT_EQ(module(j, kO).at("layout"), "ok");
  expect_others_clean(j, kO);
}

// The loaded (unswizzled) block scales left under vLLM's derived name, padded to its shape.
TEST(Diff, UnswizzledScaleUnderTheDerivedName) {
  TempDir dir;
  SafetensorsFile ck = SafetensorsFile::open(kData + "/dense/model.safetensors");
  std::string dump = planted(dir, "dense.vllm.safetensors", [&](auto& t) {
    Tensor& s = t.at(kGateUp + ".weight_scale");  // [128, 4]: gate rows 0-63, up rows 64-127
    std::memcpy(s.data(), ck.tensor("model.layers.0.mlp.gate_proj.weight_scale").data(), 256);
    std::memcpy(s.data() + 256, ck.tensor("model.layers.0.mlp.up_proj.weight_scale").data(), 256);
  });
  nlohmann::json j = diff_json(kData + "/dense", dump, 1);
  EXPECT_EQ(only_mismatch(j, kGateUp, "semantic").at("param"), "weight_scale");
  EXPECT_EQ(only_mismatch(j, kGateUp, "layout").at("param"), "weight_scale");
  EXPECT_GT(only_mismatch(j, kGateUp, "semantic").at("count").get<int>(), 100);
  expect_others_clean(j, kGateUp);
}

// A reload that refreshed the scales but not o_proj's weight: the weight of another checkpoint
// (seed 4) of the same shape stays. The first differing code is found by scanning here.
TEST(Diff, StaleWeightAfterReload) {
  TempDir dir;
  SafetensorsFile other = SafetensorsFile::open(kData + "/fused.sglang.safetensors");
  SafetensorsFile ck = SafetensorsFile::open(kData + "/dense/model.safetensors");
  std::string dump = planted(dir, "dense.sglang.safetensors", [&](auto& t) {
    Tensor& w = t.at(kO + ".weight");
    std::memcpy(w.data(), other.tensor(kO + ".weight").data(), w.nbytes());
  });
  Tensor mine = ck.tensor(kO + ".weight"), stale = other.tensor(kO + ".weight");
  std::int64_t first = 0;
  while (mine.data()[first] == stale.data()[first]) ++first;
  nlohmann::json j = diff_json(kData + "/dense", dump, 1);
  const auto& x = only_mismatch(j, kO, "semantic");
  EXPECT_EQ(x.at("param"), "weight");
  const std::int64_t cols = mine.size(1);
  EXPECT_EQ(x.at("index"), "[" + std::to_string(first / cols) + ", " + std::to_string(first % cols) + "]");
  EXPECT_EQ(only_mismatch(j, kO, "layout").at("param"), "weight");
  expect_others_clean(j, kO);
}

// gate and up exchanged in a fused gate_up (rows and their scales alike): the values are all the
// checkpoint's, in the wrong half, which only a decode through the shard order can see.
TEST(Diff, SwappedGateAndUp) {
  TempDir dir;
  std::string dump = planted(dir, "dense.vllm.safetensors", [&](auto& t) {
    Tensor& w = t.at(kGateUp + ".weight");  // [128, 32]
    std::vector<std::uint8_t> tmp(w.data(), w.data() + 64 * 32);
    std::memcpy(w.data(), w.data() + 64 * 32, 64 * 32);
    std::memcpy(w.data() + 64 * 32, tmp.data(), 64 * 32);
  });
  nlohmann::json j = diff_json(kData + "/dense", dump, 1);
  const auto& x = only_mismatch(j, kGateUp, "semantic");
  EXPECT_EQ(x.at("param"), "weight");
  EXPECT_NE(x.at("source").get<std::string>().find("gate_proj.weight row 0"), std::string::npos) << x.dump();
  expect_others_clean(j, kGateUp);
}

// odd: down_proj has K 48 (24 bytes a row) padded to 64 (32 bytes); byte 31 of row 0 is padding.
TEST(Diff, NonzeroPaddingIsALayoutMismatchOnly) {
  TempDir dir;
  std::string dump = planted(dir, "odd.sglang.safetensors", [&](auto& t) { t.at(kDown + ".weight").data()[31] = 0x11; });
  nlohmann::json j = diff_json(kData + "/odd", dump, 1);
  const auto& x = only_mismatch(j, kDown, "layout");
  EXPECT_EQ(x.at("index"), "[0, 31]");
  EXPECT_EQ(x.at("source"), "padding (must be zero)");
  EXPECT_EQ(module(j, kDown).at("semantic"), "ok");
  expect_others_clean(j, kDown);
}

TEST(Diff, TextReportNamesTheShardAndFactor) {
  CliRun r = nvfp4({"diff", kData + "/unequal", kData + "/unequal.sglang.safetensors"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("unreconciled shards"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(kQkv + " shard q (model.layers.0.self_attn.q_proj): global scale"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("4 module(s) compared, 2 hold, 2 differ"), std::string::npos) << r.out;
}

TEST(Diff, ADumpOfAnotherCheckpointIsBadInput) {
  CliRun r = nvfp4({"diff", kData + "/odd", kData + "/dense.sglang.safetensors"});
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.err.find("cannot hold this module's packed weight"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;

  TempDir dir;
  std::string foreign = (dir.path() / "x.safetensors").string();
  write_safetensors(foreign, {{"some.other.weight", Tensor::zeros(DType::U8, {4, 4})}}, {{"engine", "vllm"}});
  r = nvfp4({"diff", kData + "/dense", foreign});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("not a dump of this checkpoint"), std::string::npos) << r.err;

  r = nvfp4({"diff", kData + "/dense", kData + "/dense.sglang.safetensors", "--engine", "vllm"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("metadata says sglang"), std::string::npos) << r.err;
}

TEST(DiffCompressedTensors, PassesWhereTheEngineIsRight) {
  for (std::string e : {"sglang", "vllm"}) {
    SCOPED_TRACE(e);
    nlohmann::json j = diff_json(kData + "/ct_odd", kData + "/ct_odd." + e + ".safetensors", 0);
    for (const auto& m : j.at("modules")) expect_holds(j, m.at("module"));
    EXPECT_TRUE(j.at("unread").empty()) << j.at("unread").dump();
  }
}

// Encode scales on disk: both engines keep the max encode scale, so the decode scale applied is
// the smallest one, 1 / max; every shard with a smaller encode scale is off by
// f32(1 / max) / f32(1 / own) (< 1), computed here from the raw checkpoint scalars.
TEST(DiffCompressedTensors, EveryShardBelowTheMaxEncodeScaleIsOff) {
  auto factor = expected_factors(kData + "/ct/model.safetensors", true);
  ASSERT_GE(factor.size(), 2u);
  for (std::string e : {"sglang", "vllm"}) {
    SCOPED_TRACE(e);
    nlohmann::json j = diff_json(kData + "/ct", kData + "/ct." + e + ".safetensors", 1);
    std::size_t seen = 0;
    for (const auto& m : j.at("modules")) {
      EXPECT_TRUE(m.at("mismatches").empty()) << m.dump();
      for (const auto& u : m.at("unreconciled")) {
        auto it = factor.find({m.at("module"), u.at("shard")});
        ASSERT_NE(it, factor.end()) << u.dump();
        EXPECT_EQ(u.at("factor").get<double>(), it->second);
        EXPECT_LT(u.at("factor").get<double>(), 1.0);
        ++seen;
      }
    }
    EXPECT_EQ(seen, factor.size());
  }
}

// sglang's alpha on a compressed-tensors module is 1 / (in x w) of the max encode scales.
TEST(DiffCompressedTensors, WrongAlpha) {
  TempDir dir;
  std::string dump = planted(dir, "ct_odd.sglang.safetensors", [&](auto& t) { t.at(kDown + ".alpha").template data_as<float>()[0] *= 4; });
  nlohmann::json j = diff_json(kData + "/ct_odd", dump, 1);
  const auto& x = only_mismatch(j, kDown, "semantic");
  EXPECT_EQ(x.at("param"), "alpha");
  EXPECT_NE(x.at("source").get<std::string>().find("off by a factor 4"), std::string::npos) << x.dump();
}

}  // namespace
}  // namespace nvfp4::diff_test

namespace nvfp4::diff_test {
namespace {

// A dump may be a directory of files (one per rank or per shard of a large model): the same
// verdicts as the single file; a name in two files is refused.
TEST(Diff, ADirectoryOfDumpFiles) {
  TempDir dir;
  SafetensorsFile f = SafetensorsFile::open(kData + "/dense.vllm.safetensors");
  std::vector<TensorToWrite> attn, mlp;
  for (const auto& info : f.tensors()) (info.name.find(".mlp.") != std::string::npos ? mlp : attn).push_back({info.name, f.tensor(info.name)});
  write_safetensors(dir.path() / "attn.safetensors", attn, f.metadata());
  write_safetensors(dir.path() / "mlp.safetensors", mlp, f.metadata());
  nlohmann::json j = diff_json(kData + "/dense", dir.path().string(), 0);
  EXPECT_EQ(j.at("modules").size(), 4u);

  write_safetensors(dir.path() / "again.safetensors", {mlp.front()}, f.metadata());
  CliRun r = nvfp4({"diff", kData + "/dense", dir.path().string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("a name must be in one file"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace nvfp4::diff_test

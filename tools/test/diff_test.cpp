// nvfp4 diff (issue 12) on dumps sglang's and vLLM's own code wrote (tools/engine_dumps/data), and
// on copies of them with one planted fault each. Expected places and factors are worked out here
// from the checkpoint's files and the 128x4 layout formula, not taken from the command.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/codecs.h"
#include "core/safetensors.h"
#include "core/test/temp_dir.h"
#include "tools/test/cli_run.h"

namespace nvfp4 {
namespace {

const std::string kData = NVFP4_ENGINE_DUMPS;
const std::string kQkv = "model.layers.0.self_attn.qkv_proj", kGateUp = "model.layers.0.mlp.gate_up_proj",
                  kO = "model.layers.0.self_attn.o_proj", kDown = "model.layers.0.mlp.down_proj";

nlohmann::json diff_json(const std::string& ckpt, const std::string& dump, int expect_code) {
  CliRun r = nvfp4({"diff", ckpt, dump, "--json"});
  EXPECT_EQ(r.code, expect_code) << r.out << r.err;
  return r.out.empty() ? nlohmann::json::object() : nlohmann::json::parse(r.out);
}

const nlohmann::json& module(const nlohmann::json& j, const std::string& name) {
  for (const auto& m : j.at("modules"))
    if (m.at("module") == name) return m;
  throw std::runtime_error("no module " + name + " in the report");
}

// A copy of a dump with `edit` applied to its tensors (fresh, writable copies).
std::string planted(const TempDir& dir, const std::string& dump, const std::function<void(std::map<std::string, Tensor>&)>& edit) {
  SafetensorsFile f = SafetensorsFile::open(kData + "/" + dump);
  std::map<std::string, Tensor> t;
  for (const auto& info : f.tensors()) t[info.name] = f.tensor(info.name).clone();
  edit(t);
  std::vector<TensorToWrite> w;
  for (auto& [n, x] : t) w.push_back({n, x});
  std::string path = (dir.path() / dump).string();
  write_safetensors(path, w, f.metadata());
  return path;
}

float scalar(const std::string& ckpt_file, const std::string& name) {
  SafetensorsFile f = SafetensorsFile::open(ckpt_file);
  return f.tensor(name).get_f32(0);
}

TEST(Diff, PassesWhereTheEngineIsRight) {
  for (std::string c : {"dense", "odd", "fused"})
    for (std::string e : {"sglang", "vllm"}) {
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
const std::map<std::string, std::vector<std::pair<std::string, std::string>>> kShards = {
    {kQkv, {{"q", "model.layers.0.self_attn.q_proj"}, {"k", "model.layers.0.self_attn.k_proj"}, {"v", "model.layers.0.self_attn.v_proj"}}},
    {kGateUp, {{"0", "model.layers.0.mlp.gate_proj"}, {"1", "model.layers.0.mlp.up_proj"}}}};

// applied / own for every shard whose decode scale is not the one the engines apply, from the
// checkpoint's raw scalars. ModelOpt (decode scales): the max applies, so max / own. Compressed-
// tensors (encode scales): the max encode scale's f32 reciprocal applies, f32(1 / max) / f32(1 / own).
std::map<std::pair<std::string, std::string>, double> expected_factors(const std::string& ckpt_file, bool encode) {
  const std::string name = encode ? ".weight_global_scale" : ".weight_scale_2";
  std::map<std::pair<std::string, std::string>, double> factor;
  for (const auto& [mod, list] : kShards) {
    float mx = 0;
    for (const auto& [id, p] : list) mx = std::max(mx, scalar(ckpt_file, p + name));
    for (const auto& [id, p] : list) {
      float own = scalar(ckpt_file, p + name);
      if (own < mx) factor[{mod, id}] = encode ? static_cast<double>(1.0f / mx) / (1.0f / own) : static_cast<double>(mx) / own;
    }
  }
  return factor;
}

// Neither engine reconciles: every shard below its module's max global scale is reported, with
// the factor max / own read from the checkpoint's own scalars, and nothing else differs.
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

const nlohmann::json& only_mismatch(const nlohmann::json& j, const std::string& mod, const std::string& verdict) {
  const auto& m = module(j, mod);
  const nlohmann::json* hit = nullptr;
  for (const auto& x : m.at("mismatches"))
    if (x.at("verdict") == verdict) {
      EXPECT_EQ(hit, nullptr) << "more than one " << verdict << " mismatch: " << m.dump();
      hit = &x;
    }
  if (!hit) throw std::runtime_error("no " + verdict + " mismatch in " + m.dump());
  return *hit;
}

void expect_others_clean(const nlohmann::json& j, const std::string& mod) {
  for (const auto& m : j.at("modules"))
    if (m.at("module") != mod) {
      EXPECT_TRUE(m.at("mismatches").empty() && m.at("unreconciled").empty()) << m.dump();
    }
}

// One block scale changed in sglang's swizzled copy. Row 70 of qkv is k_proj's row 6 (q has 4
// heads x 16 = 64 rows); in the 128x4 layout m = 70 is (mT 0, i 2, j 6) and k-block 2 is (kT 0,
// kk 2), offset ((j * 4 + i) * 4 + kk) = 106, row 26 col 2 of the [128, 4] tensor.
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
    EXPECT_NE(x.at("expected").get<std::string>().find(std::to_string(e4m3_to_f32(was)).substr(0, 3)), std::string::npos) << x.dump();
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

}  // namespace
}  // namespace nvfp4

namespace nvfp4 {
namespace {

const std::string kExperts = "model.layers.0.mlp.experts";

TEST(DiffExperts, PassesWhereSglangIsRight) {
  for (std::string dump : {"moe.sglang.flashinfer_cutlass", "moe.sglang.flashinfer_trtllm", "moe_odd.sglang.flashinfer_trtllm"}) {
    SCOPED_TRACE(dump);
    std::string ck = dump.substr(0, dump.find(".sglang"));
    nlohmann::json j = diff_json(kData + "/" + ck, kData + "/" + dump + ".safetensors", 0);
    EXPECT_EQ(j.at("experts_backend"), dump.substr(dump.rfind('.') + 1));
    const auto& m = module(j, kExperts);
    EXPECT_EQ(m.at("semantic"), "ok") << m.dump();
    EXPECT_EQ(m.at("layout"), "ok") << m.dump();
  }
}

// Unequal gate and up scales per expert. trtllm gives the up half its own alpha (g1_alphas_up,
// through g1_scale_c): right. flashinfer_cutlass passes g1_alphas alone, the gate's, so every
// expert's up half is off by gate / up, read here from the checkpoint.
TEST(DiffExperts, SglangCutlassAppliesTheGateScaleToTheUpHalf) {
  const std::string ck = kData + "/moe_unequal/model.safetensors";
  nlohmann::json trt = diff_json(kData + "/moe_unequal", kData + "/moe_unequal.sglang.flashinfer_trtllm.safetensors", 1);
  EXPECT_EQ(module(trt, kExperts).at("semantic"), "ok") << module(trt, kExperts).dump();
  EXPECT_TRUE(module(trt, kExperts).at("unreconciled").empty());

  nlohmann::json cut = diff_json(kData + "/moe_unequal", kData + "/moe_unequal.sglang.flashinfer_cutlass.safetensors", 1);
  const auto& m = module(cut, kExperts);
  EXPECT_TRUE(m.at("mismatches").empty()) << m.dump();
  EXPECT_EQ(m.at("layout"), "ok");
  ASSERT_EQ(m.at("unreconciled").size(), 4u) << m.dump();
  for (int e = 0; e < 4; ++e) {
    const auto& u = m.at("unreconciled")[static_cast<std::size_t>(e)];
    const std::string p = kExperts + "." + std::to_string(e);
    float gate = scalar(ck, p + ".gate_proj.weight_scale_2"), up = scalar(ck, p + ".up_proj.weight_scale_2");
    EXPECT_EQ(u.at("shard"), "expert " + std::to_string(e) + " w3 (up)");
    EXPECT_EQ(u.at("source"), p + ".up_proj");
    EXPECT_EQ(u.at("factor").get<double>(), static_cast<double>(gate) / up);
  }
}

// Gate and up exchanged in expert 1 only. flashinfer_cutlass stores [up; gate], so the logical
// gate row 0 of expert 1 is stored row I = 64, where the up row 0 now sits.
TEST(DiffExperts, SwappedGateAndUpOfOneExpert) {
  TempDir dir;
  std::string dump = planted(dir, "moe.sglang.flashinfer_cutlass.safetensors", [&](auto& t) {
    Tensor& w = t.at(kExperts + ".w13_weight");  // [4, 128, 64]
    std::uint8_t* e1 = w.data() + 1 * 128 * 64;
    std::vector<std::uint8_t> tmp(e1, e1 + 64 * 64);
    std::memcpy(e1, e1 + 64 * 64, 64 * 64);
    std::memcpy(e1 + 64 * 64, tmp.data(), 64 * 64);
  });
  nlohmann::json j = diff_json(kData + "/moe", dump, 1);
  const auto& x = only_mismatch(j, kExperts, "semantic");
  EXPECT_EQ(x.at("param"), "w13_weight");
  EXPECT_EQ(x.at("index").get<std::string>().substr(0, 9), "[1, 64, 0") << x.dump();
  EXPECT_NE(x.at("source").get<std::string>().find(kExperts + ".1.gate_proj.weight row 0 k "), std::string::npos) << x.dump();
  EXPECT_EQ(only_mismatch(j, kExperts, "layout").at("param"), "w13_weight");
}

// One w2 block scale of expert 3 changed: row 100 is (mT 0, i 3, j 4), k-block 1 is kk 1, so the
// byte sits at ((4 * 4 + 3) * 4 + 1) = 77 of the expert's [128, 4] tile: index [3, 19, 1].
TEST(DiffExperts, FlippedExpertScaleByteAtItsPlace) {
  TempDir dir;
  std::string dump = planted(dir, "moe.sglang.flashinfer_cutlass.safetensors", [&](auto& t) {
    std::uint8_t& b = t.at(kExperts + ".w2_blockscale_swizzled").data()[3 * 512 + 77];
    b = b == 0x38 ? 0x40 : 0x38;
  });
  nlohmann::json j = diff_json(kData + "/moe", dump, 1);
  const auto& x = only_mismatch(j, kExperts, "semantic");
  EXPECT_EQ(x.at("param"), "w2_blockscale_swizzled");
  EXPECT_EQ(x.at("index"), "[3, 19, 1]");
  EXPECT_EQ(x.at("source"), kExperts + ".3.down_proj.weight_scale row 100 k-block 1");
  // w2's scales alias w2_weight_scale in sglang (same shape), but the dump holds two copies and only
  // one was changed: the layout verdict names the changed one.
  EXPECT_EQ(only_mismatch(j, kExperts, "layout").at("param"), "w2_blockscale_swizzled");
}

TEST(DiffExperts, WrongExpertAlpha) {
  TempDir dir;
  std::string dump = planted(dir, "moe.sglang.flashinfer_trtllm.safetensors", [&](auto& t) { t.at(kExperts + ".g2_alphas").template data_as<float>()[2] *= 0.5f; });
  nlohmann::json j = diff_json(kData + "/moe", dump, 1);
  const auto& x = only_mismatch(j, kExperts, "semantic");
  EXPECT_EQ(x.at("param"), "g2_alphas");
  EXPECT_EQ(x.at("index"), "[2]");
  EXPECT_NE(x.at("source").get<std::string>().find("(expert 2): off by a factor 0.5"), std::string::npos) << x.dump();
}

// A reload that refreshed everything but expert 0's trtllm w2 (the weights of another checkpoint
// of the same shape stay): named at expert 0, nowhere else.
TEST(DiffExperts, StaleExpertWeightAfterReload) {
  TempDir dir;
  SafetensorsFile other = SafetensorsFile::open(kData + "/moe_unequal.sglang.flashinfer_trtllm.safetensors");
  std::string dump = planted(dir, "moe.sglang.flashinfer_trtllm.safetensors", [&](auto& t) {
    Tensor& w = t.at(kExperts + ".w2_weight");
    std::memcpy(w.data(), other.tensor(kExperts + ".w2_weight").data(), w.nbytes() / 4);
  });
  nlohmann::json j = diff_json(kData + "/moe", dump, 1);
  const auto& x = only_mismatch(j, kExperts, "semantic");
  EXPECT_EQ(x.at("param"), "w2_weight");
  EXPECT_EQ(x.at("index").get<std::string>().substr(0, 3), "[0,") << x.dump();
  EXPECT_EQ(x.at("source").get<std::string>().rfind(kExperts + ".0.down_proj.weight row ", 0), 0u) << x.dump();
}

TEST(DiffExperts, BackendFromFlagsAndRefusals) {
  CliRun r = nvfp4({"diff", kData + "/moe", kData + "/moe.sglang.flashinfer_cutlass.safetensors", "--backend", "cutlass"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("sglang refuses moe_runner_backend=cutlass"), std::string::npos) << r.err;
  // The trtllm dump read as flashinfer_cutlass: its shuffled rows decode wrongly.
  r = nvfp4({"diff", kData + "/moe", kData + "/moe.sglang.flashinfer_trtllm.safetensors", "--backend", "flashinfer_cutlass"});
  EXPECT_EQ(r.code, 1) << r.out;
}

}  // namespace
}  // namespace nvfp4

namespace nvfp4 {
namespace {

const std::string kRouted = "model.layers.0.mlp.experts";

// vLLM's three backends on equal scales, and trtllm with I padded (48 -> 64) and H padded to 256.
TEST(DiffVllmExperts, PassesWhereVllmIsRight) {
  for (std::string dump : {"moe.vllm.cutlass", "moe.vllm.flashinfer_cutlass", "moe.vllm.flashinfer_trtllm", "moe_odd.vllm.flashinfer_trtllm"}) {
    SCOPED_TRACE(dump);
    std::string ck = dump.substr(0, dump.find(".vllm"));
    nlohmann::json j = diff_json(kData + "/" + ck, kData + "/" + dump + ".safetensors", 0);
    const auto& m = module(j, kRouted);
    EXPECT_EQ(m.at("semantic"), "ok") << m.dump();
    EXPECT_EQ(m.at("layout"), "ok") << m.dump();
    EXPECT_TRUE(j.at("unread").empty()) << j.at("unread").dump();
  }
}

// vLLM 0.33.0 keeps one w13 global scale per expert, the gate's, on every backend: each expert's
// up half is off by gate / up, read from the checkpoint.
TEST(DiffVllmExperts, UpHalvesOffByGateOverUpOnEveryBackend) {
  const std::string ck = kData + "/moe_unequal/model.safetensors";
  for (std::string b : {"cutlass", "flashinfer_cutlass", "flashinfer_trtllm"}) {
    SCOPED_TRACE(b);
    nlohmann::json j = diff_json(kData + "/moe_unequal", kData + "/moe_unequal.vllm." + b + ".safetensors", 1);
    const auto& m = module(j, kRouted);
    EXPECT_TRUE(m.at("mismatches").empty()) << m.dump();
    ASSERT_EQ(m.at("unreconciled").size(), 4u) << m.dump();
    for (int e = 0; e < 4; ++e) {
      const std::string p = kRouted + "." + std::to_string(e);
      float gate = scalar(ck, p + ".gate_proj.weight_scale_2"), up = scalar(ck, p + ".up_proj.weight_scale_2");
      EXPECT_EQ(m.at("unreconciled")[static_cast<std::size_t>(e)].at("factor").get<double>(), static_cast<double>(gate) / up);
    }
  }
}

// A byte in vLLM's hidden-size padding (H 128 -> 256: w13 columns 64..127 of each row are zero).
TEST(DiffVllmExperts, NonzeroHiddenPaddingIsALayoutMismatchOnly) {
  TempDir dir;
  std::string dump = planted(dir, "moe.vllm.flashinfer_trtllm.safetensors", [&](auto& t) {
    t.at(kRouted + ".routed_experts.w13_weight").data()[2 * 128 * 128 + 5 * 128 + 100] = 0x77;  // expert 2, row 5, byte 100
  });
  nlohmann::json j = diff_json(kData + "/moe", dump, 1);
  const auto& x = only_mismatch(j, kRouted, "layout");
  EXPECT_EQ(x.at("param"), "routed_experts.w13_weight");
  EXPECT_EQ(x.at("index"), "[2, 5, 100]");
  EXPECT_EQ(module(j, kRouted).at("semantic"), "ok");
}

// The activation scale vLLM's cutlass runner uses for expert 1 halved: the input scale and the
// alphas no longer agree with the checkpoint (a13 = the larger of the expert's gate and up).
TEST(DiffVllmExperts, WrongActivationScale) {
  TempDir dir;
  std::string dump = planted(dir, "moe.vllm.cutlass.safetensors", [&](auto& t) { t.at(kRouted + ".routed_experts.w13_input_scale").template data_as<float>()[1] *= 0.5f; });
  nlohmann::json j = diff_json(kData + "/moe", dump, 1);
  const auto& x = only_mismatch(j, kRouted, "semantic");
  EXPECT_EQ(x.at("param"), "routed_experts.w13_input_scale");
  EXPECT_EQ(x.at("index"), "[1]");
  EXPECT_NE(x.at("source").get<std::string>().find("off by a factor 0.5"), std::string::npos) << x.dump();
}

}  // namespace
}  // namespace nvfp4

namespace nvfp4 {
namespace {

TEST(DiffCompressedTensors, PassesWhereTheEngineIsRight) {
  for (std::string e : {"sglang", "vllm"}) {
    SCOPED_TRACE(e);
    nlohmann::json j = diff_json(kData + "/ct_odd", kData + "/ct_odd." + e + ".safetensors", 0);
    for (const auto& m : j.at("modules")) EXPECT_TRUE(m.at("semantic") == "ok" && m.at("layout") == "ok") << m.dump();
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
}  // namespace nvfp4

namespace nvfp4 {
namespace {

TEST(DiffCompressedTensorsExperts, PassesWhereSglangIsRight) {
  for (std::string b : {"flashinfer_cutlass", "flashinfer_trtllm"}) {
    SCOPED_TRACE(b);
    nlohmann::json j = diff_json(kData + "/ct_moe", kData + "/ct_moe.sglang." + b + ".safetensors", 0);
    const auto& m = module(j, kExperts);
    EXPECT_EQ(m.at("semantic"), "ok") << m.dump();
    EXPECT_EQ(m.at("layout"), "ok") << m.dump();
    EXPECT_TRUE(j.at("unread").empty()) << j.at("unread").dump();
  }
}

// Encode scales: sglang decodes both halves with the gate's, f32(1 / gate), so each up half is off
// by f32(1 / gate) / f32(1 / up), from the checkpoint's raw encode scales; on trtllm too.
TEST(DiffCompressedTensorsExperts, UpHalvesDecodedWithTheGateScale) {
  const std::string ck = kData + "/ct_moe_unequal/model.safetensors";
  for (std::string b : {"flashinfer_cutlass", "flashinfer_trtllm"}) {
    SCOPED_TRACE(b);
    nlohmann::json j = diff_json(kData + "/ct_moe_unequal", kData + "/ct_moe_unequal.sglang." + b + ".safetensors", 1);
    const auto& m = module(j, kExperts);
    EXPECT_TRUE(m.at("mismatches").empty()) << m.dump();
    ASSERT_EQ(m.at("unreconciled").size(), 4u) << m.dump();
    for (int e = 0; e < 4; ++e) {
      const std::string p = kExperts + "." + std::to_string(e);
      float gate = scalar(ck, p + ".gate_proj.weight_global_scale"), up = scalar(ck, p + ".up_proj.weight_global_scale");
      EXPECT_EQ(m.at("unreconciled")[static_cast<std::size_t>(e)].at("factor").get<double>(), static_cast<double>(1.0f / gate) / (1.0f / up));
    }
  }
}

// sglang's compressed-tensors trtllm pads I to 128 (64 for ModelOpt): a byte in that padding.
TEST(DiffCompressedTensorsExperts, NonzeroIntermediatePadding) {
  TempDir dir;
  std::string dump = planted(dir, "ct_moe.sglang.flashinfer_trtllm.safetensors", [&](auto& t) {
    Tensor& w2 = t.at(kExperts + ".w2_weight");  // [4, 128, 64]: columns 32-63 hold I 64..127, padding
    w2.data()[1 * 128 * 64 + 7 * 64 + 40] = 0x21;
  });
  nlohmann::json j = diff_json(kData + "/ct_moe", dump, 1);
  const auto& x = only_mismatch(j, kExperts, "layout");
  EXPECT_EQ(x.at("param"), "w2_weight");
  EXPECT_EQ(x.at("index"), "[1, 7, 40]");
  EXPECT_EQ(module(j, kExperts).at("semantic"), "ok");
}

TEST(DiffCompressedTensorsExperts, VllmOnEveryBackend) {
  const std::string ck = kData + "/ct_moe_unequal/model.safetensors";
  for (std::string b : {"cutlass", "flashinfer_cutlass", "flashinfer_trtllm"}) {
    SCOPED_TRACE(b);
    nlohmann::json ok = diff_json(kData + "/ct_moe", kData + "/ct_moe.vllm." + b + ".safetensors", 0);
    EXPECT_EQ(module(ok, kExperts).at("semantic"), "ok") << module(ok, kExperts).dump();
    EXPECT_EQ(module(ok, kExperts).at("layout"), "ok") << module(ok, kExperts).dump();
    nlohmann::json j = diff_json(kData + "/ct_moe_unequal", kData + "/ct_moe_unequal.vllm." + b + ".safetensors", 1);
    const auto& m = module(j, kExperts);
    EXPECT_TRUE(m.at("mismatches").empty()) << m.dump();
    ASSERT_EQ(m.at("unreconciled").size(), 4u) << m.dump();
    for (int e = 0; e < 4; ++e) {
      const std::string p = kExperts + "." + std::to_string(e);
      float gate = scalar(ck, p + ".gate_proj.weight_global_scale"), up = scalar(ck, p + ".up_proj.weight_global_scale");
      EXPECT_EQ(m.at("unreconciled")[static_cast<std::size_t>(e)].at("factor").get<double>(), static_cast<double>(1.0f / gate) / (1.0f / up));
    }
  }
}

}  // namespace
}  // namespace nvfp4

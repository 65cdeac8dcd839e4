// nvfp4 diff on dumps vLLM 0.19.1's, 0.20.0's, 0.26.0's and 0.28.0's own code wrote (tools/engine_dumps/README.md:
// each wheel, run on the CPU by generate.py), read through the rows tools/diff/conventions_vllm.cpp
// holds for those releases: the experts' parameters on the FusedMoE layer itself up to 0.23.0 (under
// routed_experts. from 0.24.0), 0.19.1's trtllm without H padding, 0.20.0's and 0.26.0's with H padded
// to 256, 0.26.0's and 0.28.0's I padded to 64 at the tail of w13, compressed-tensors' alphas absent
// (plain attributes) up to 0.27.1 and Parameters in 0.28.0. What holds holds; a dump of another checkpoint, tensors under the other releases'
// names, a planted fault, and 0.19.1's own fused-scales fault fail.
#include <gtest/gtest.h>

#include "core/printable.h"
#include "tools/test/diff_real_util.h"
#include "tools/test/diff_test_util.h"

namespace nvfp4::diff_test {
namespace {

using Tensors = std::map<std::string, Tensor>;
const std::vector<std::string> kMoeBackends = {"cutlass", "flashinfer_cutlass", "flashinfer_trtllm"};


class DiffRealVllm : public ::testing::TestWithParam<std::string> {
 protected:
  // CKPT.vllm-RELEASE[.BACKEND].safetensors
  std::string dump(const std::string& ckpt, const std::string& backend = "") const {
    return ckpt + ".vllm-" + GetParam() + (backend.empty() ? "" : "." + backend) + ".safetensors";
  }
  nlohmann::json run(const std::string& ckpt, const std::string& d, int code) const { return diff_json(kData + "/" + ckpt, kData + "/" + d, code); }
};

void expect_all_hold(const nlohmann::json& j) {
  for (const auto& m : j.at("modules")) {
    expect_holds(j, m.at("module"));
    EXPECT_TRUE(m.at("unexplained").empty()) << m.dump();
    EXPECT_FALSE(m.contains("placeholders")) << m.dump();
  }
  EXPECT_TRUE(j.at("unread").empty()) << j.at("unread").dump();
}

TEST_P(DiffRealVllm, DumpsAreTheReleasesOwn) {
  std::vector<std::string> dumps = {dump("dense"), dump("odd"), dump("ct_odd"), dump("fused"), dump("ct")};
  for (const std::string c : {"moe", "ct_moe", "moe_unequal"})
    for (const auto& b : kMoeBackends) dumps.push_back(dump(c, b));
  for (const auto& d : dumps) {
    const auto m = SafetensorsFile::open(kData + "/" + d).metadata();
    EXPECT_EQ(m.at("engine"), "vllm") << d;
    EXPECT_EQ(m.at("engine_version"), GetParam()) << d;
  }
}

// Aligned shapes, and odd ones (H 80, I 48: N and K padded to 32, the swizzle's rows to 128).
TEST_P(DiffRealVllm, LinearHolds) {
  for (const std::string c : {"dense", "odd", "ct_odd"}) {
    SCOPED_TRACE(c);
    nlohmann::json j = run(c, dump(c), 0);
    EXPECT_EQ(j.at("engine_version"), GetParam());
    EXPECT_EQ(j.at("engine_version_from"), "the dump's metadata");
    ASSERT_EQ(j.at("modules").size(), 4u);
    expect_all_hold(j);
  }
}

// Compressed-tensors linear with unequal shard scales: the max encode scale applies, every other
// shard is off by f32(1 / max) / f32(1 / own), from the checkpoint's scalars.
TEST_P(DiffRealVllm, CompressedTensorsShardsBelowTheMaxAreOff) {
  const auto factor = expected_factors(kData + "/ct/model.safetensors", true);
  ASSERT_GE(factor.size(), 2u);
  nlohmann::json j = run("ct", dump("ct"), 1);
  std::size_t seen = 0;
  for (const auto& m : j.at("modules")) {
    EXPECT_TRUE(m.at("mismatches").empty()) << m.dump();
    for (const auto& u : m.at("unreconciled")) {
      ASSERT_TRUE(factor.count({m.at("module"), u.at("shard")})) << u.dump();
      EXPECT_EQ(u.at("factor").get<double>(), factor.at({m.at("module"), u.at("shard")}));
      ++seen;
    }
  }
  EXPECT_EQ(seen, factor.size());
}

TEST_P(DiffRealVllm, ExpertsHoldOnEveryBackend) {
  for (const auto& b : kMoeBackends) {
    SCOPED_TRACE(b);
    expect_all_hold(run("moe", dump("moe", b), 0));
    expect_all_hold(run("ct_moe", dump("ct_moe", b), 0));
  }
}

// vLLM keeps one w13 global scale per expert, the gate's, on every backend of every release
// (flashinfer_fp4_moe.py:241-246@0.19.1): each expert's up half is off by gate / up.
TEST_P(DiffRealVllm, UpHalvesOffByGateOverUpOnEveryBackend) {
  for (const auto& b : kMoeBackends) {
    SCOPED_TRACE(b);
    expect_up_halves_off(run("moe_unequal", dump("moe_unequal", b), 1), kData + "/moe_unequal/model.safetensors", false);
  }
}

TEST_P(DiffRealVllm, ADumpOfAnotherCheckpointFails) {
  nlohmann::json j = run("unequal", dump("dense"), 1);
  for (const auto& m : j.at("modules")) EXPECT_EQ(m.at("semantic"), "fail") << m.dump();
  for (const auto& b : kMoeBackends) {
    SCOPED_TRACE(b);
    j = run("moe_unequal", dump("moe", b), 1);
    EXPECT_EQ(module(j, kExperts).at("semantic"), "fail");
  }
}

// The experts' tensors moved to the other releases' names (routed_experts. added up to 0.23.0,
// dropped from 0.24.0): no rule of this release reads them, so the module fails naming every one.
TEST_P(DiffRealVllm, ExpertsUnderAnotherReleasesNamesFailNamingThem) {
  TempDir dir;
  for (const auto& b : kMoeBackends) {
    SCOPED_TRACE(b);
    std::vector<std::string> moved;
    const std::string path = planted(dir, dump("moe", b), [&](Tensors& t) {
      Tensors out;
      for (auto& [n, x] : t) {
        if (n.rfind(kExperts + ".", 0) != 0) {
          out.emplace(n, x);
          continue;
        }
        const std::string rest = n.substr(kExperts.size() + 1), routed = "routed_experts.";
        moved.push_back(kExperts + "." + (rest.rfind(routed, 0) == 0 ? rest.substr(routed.size()) : routed + rest));
        out.emplace(moved.back(), x);
      }
      t = std::move(out);
    });
    nlohmann::json j = diff_json(kData + "/moe", path, 1);
    const auto& m = module(j, kExperts);
    EXPECT_EQ(m.at("unexplained").get<std::vector<std::string>>(), moved);
    EXPECT_TRUE(m.at("params").empty()) << m.dump();
  }
}

// One fault in every tensor the dump holds under the experts module (expert 1's first element, or
// the one scalar): the module fails naming that tensor and nothing else fails.
TEST_P(DiffRealVllm, AFaultInAnyExpertsTensorIsNamed) {
  TempDir dir;
  for (const auto& b : kMoeBackends)
    for (const std::string ckpt : {"moe", "ct_moe"}) {
      const SafetensorsFile f = SafetensorsFile::open(kData + "/" + dump(ckpt, b));
      for (const auto& info : f.tensors()) {
        if (info.name.rfind(kExperts + ".", 0) != 0) continue;
        SCOPED_TRACE(b + " " + ckpt + " " + info.name);
        nlohmann::json j = diff_json(kData + "/" + ckpt, planted(dir, dump(ckpt, b), [&](Tensors& t) {
          Tensor& x = t.at(info.name);
          const std::int64_t i = x.numel() / 4;
          if (x.dtype() == DType::F32) x.data_as<float>()[i] *= 0.5f;
          else x.data()[i] = x.data()[i] == 0x38 ? 0x40 : 0x38;
        }), 1);
        const auto& m = module(j, kExperts);
        ASSERT_FALSE(m.at("mismatches").empty()) << m.dump();
        for (const auto& x : m.at("mismatches")) EXPECT_EQ(kExperts + "." + x.at("param").get<std::string>(), info.name) << x.dump();
        expect_others_clean(j, kExperts);
      }
    }
}

INSTANTIATE_TEST_SUITE_P(Releases, DiffRealVllm, ::testing::Values("0.19.1", "0.20.0", "0.26.0", "0.28.0"), release_test_name);

class DiffRealVllmTailPad : public ::testing::TestWithParam<std::string> {};

// Fused on disk: from 0.20.0 every slot of the per-tensor scales is filled (linear.py@0.20.0, the
// fill-all loop), and the dumps hold.
TEST(DiffRealVllmFused, FusedOnDiskHoldsFrom0200) {
  for (const std::string v : {"0.20.0", "0.26.0", "0.28.0"}) expect_all_hold(diff_json(kData + "/fused", kData + "/fused.vllm-" + v + ".safetensors", 0));
}

// 0.26.0-0.28.0 pad I = 48 to 64 at the tail of the fused w13 ([w3; w1; 0], flashinfer_utils.py:221@0.26.0,
// :235@0.28.0), not per half: their dumps hold, and read under 0.29.0's rows (each half padded, the
// same names and H padding) every expert's w13 decodes wrong.
TEST_P(DiffRealVllmTailPad, TrtllmPadsIAtTheTailOfW13) {
  const std::string dump = kData + "/moe_odd.vllm-" + GetParam() + ".flashinfer_trtllm.safetensors";
  expect_all_hold(diff_json(kData + "/moe_odd", dump, 0));
  CliRun r = nvfp4({"diff", kData + "/moe_odd", dump, "--engine", "vllm==0.29.0", "--json"});
  ASSERT_EQ(r.code, 1) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  std::set<std::string> off;
  for (const auto& x : module(j, kExperts).at("mismatches"))
    if (x.at("verdict") == "semantic") off.insert(x.at("param"));
  EXPECT_EQ(off, (std::set<std::string>{"routed_experts.w13_weight", "routed_experts.w13_weight_scale"})) << module(j, kExperts).dump();
  expect_others_clean(j, kExperts);
}
INSTANTIATE_TEST_SUITE_P(Releases, DiffRealVllmTailPad, ::testing::Values("0.26.0", "0.28.0"), release_test_name);

// 0.19.1 loads a fused-on-disk per-tensor scale into slot 0 only (linear.py:912-915,1124-1129@0.19.1)
// and then deletes the slots, keeping their max: qkv (3 slots) and gate_up (2) fail naming every
// other slot of weight_scale_2 and input_scale; o_proj and down_proj (one shard) hold.
TEST(DiffRealVllm0191, FusedOnDiskFailsNamingTheUnwrittenSlots) {
  nlohmann::json j = diff_json(kData + "/fused", kData + "/fused.vllm-0.19.1.safetensors", 1);
  expect_holds(j, kO);
  expect_holds(j, kDown);
  for (const auto& [mod, slots] : {std::pair{kQkv, 2}, std::pair{kGateUp, 1}}) {
    const auto& m = module(j, mod);
    EXPECT_EQ(m.at("semantic"), "fail") << m.dump();
    std::map<std::string, nlohmann::json> by_param;
    for (const auto& x : m.at("mismatches")) by_param[x.at("param")] = x;
    for (const std::string p : {"weight_scale_2", "input_scale"}) {
      ASSERT_TRUE(by_param.count(p)) << m.dump();
      const auto& x = by_param.at(p);
      EXPECT_EQ(x.at("index"), "[1]");
      EXPECT_EQ(x.at("count"), slots);
      EXPECT_EQ(x.at("found"), "uninitialized");
      EXPECT_NE(x.at("source").get<std::string>().find("into slot 0 only (model_executor/layers/linear.py:912-915,1124-1129@0.19.1)"),
                std::string::npos) << x.dump();
      const float disk = scalar(kData + "/fused/model.safetensors", mod + "." + p);
      EXPECT_EQ(x.at("expected"), f32_text(disk));
    }
  }
}

}  // namespace
}  // namespace nvfp4::diff_test

// nvfp4 diff on dumps sglang's own code wrote (tools/engine_dumps/README.md, Older releases) for
// what the middle releases and the plain cutlass MoE runner hold: cutlass_moe_fp4's [w1; w3] with
// per-expert activation scales where 0.5.10.post1 and 0.5.15 serve it (ModelOpt), compressed-
// tensors on cutlass taking the non-trtllm path where ModelOpt is refused, 0.5.13's trtllm
// aliases, 0.5.15's trtllm alphas each half the other's, and fused-on-disk scales in slot 0 only.
// Each verdict is seen failing on a planted fault.
#include <gtest/gtest.h>

#include "tools/test/diff_real_util.h"

namespace nvfp4::diff_test {
namespace {

// --- the plain cutlass runner, ModelOpt: 0.5.10.post1 (the loaded scales kept raw beside the
// swizzle) and 0.5.15 (aliased; + g1_alphas_up, written and never read: an unused placeholder).

class DiffRealSglangCutlass : public ::testing::TestWithParam<std::string> {
 protected:
  std::string dump(const std::string& ckpt) const { return dump_of(GetParam(), ckpt, "cutlass"); }
  std::vector<std::string> unread() const { return GetParam() == "0.5.15" ? std::vector<std::string>{"g1_alphas_up"} : std::vector<std::string>{}; }
};

TEST_P(DiffRealSglangCutlass, ExpertsHold) {
  nlohmann::json j = diff_json(kData + "/moe", kData + "/" + dump("moe"), 0);
  EXPECT_EQ(j.at("experts_backend"), "cutlass");
  for (const auto& m : j.at("modules")) expect_holds(j, m.at("module"));
  expect_every_tensor_read(j, dump("moe"), unread());
}

// cutlass_moe_fp4 applies g1_alphas, the gate's, to both halves of w13: every expert's up half is
// off by gate / up (the factors from the checkpoint's scalars).
TEST_P(DiffRealSglangCutlass, AppliesTheGateScaleToTheUpHalf) {
  nlohmann::json j = diff_json(kData + "/moe_unequal", kData + "/" + dump("moe_unequal"), 1);
  expect_up_halves_off(j, kData + "/moe_unequal/model.safetensors", false);
}

// One fault per checked tensor: the weights and the swizzles (both verdicts), the kept loaded
// scales (Layout: a copy), the per-expert alphas and activation scales (Semantic), the scalars
// kept as loaded (Layout); g1_alphas_up (0.5.15), never read, is not checked.
TEST_P(DiffRealSglangCutlass, FaultsNameTheTensor) {
  std::vector<Planted> faults = {{"w13_weight", true, true},          {"w2_weight", true, true},
                                 {"w13_blockscale_swizzled", true, true}, {"w2_blockscale_swizzled", true, true},
                                 {"w13_weight_scale", false, true},   {"w2_weight_scale", false, true},
                                 {"g1_alphas", true, false},          {"g2_alphas", true, false},
                                 {"w13_input_scale_quant", true, false}, {"w2_input_scale_quant", true, false},
                                 {"w13_weight_scale_2", false, true}, {"w2_weight_scale_2", false, true},
                                 {"w13_input_scale", false, true},    {"w2_input_scale", false, true}};
  expect_faults_named("moe", dump("moe"), faults);
  if (!unread().empty()) expect_placeholder_unchecked("moe", dump("moe"), "g1_alphas_up");
}

// The per-expert activation scale: w13_input_scale_quant[e] = f32(1 / the larger of expert e's
// gate and up input scales), read off the checkpoint; a value shared over experts (the FlashInfer
// backends' max) fails.
TEST_P(DiffRealSglangCutlass, ActivationScalesArePerExpert) {
  const std::string ck = kData + "/moe_unequal/model.safetensors";
  TempDir dir;
  float largest = 0;
  for (int e = 0; e < 4; ++e)
    for (const char* p : {".gate_proj", ".up_proj"}) largest = std::max(largest, scalar(ck, kExperts + "." + std::to_string(e) + p + ".input_scale"));
  nlohmann::json j = diff_json(kData + "/moe_unequal", planted(dir, dump("moe_unequal"), [&](Tensors& t) {
    float* q = t.at(kExperts + ".w13_input_scale_quant").data_as<float>();
    for (int e = 0; e < 4; ++e) {
      const float gate = scalar(ck, kExperts + "." + std::to_string(e) + ".gate_proj.input_scale");
      const float up = scalar(ck, kExperts + "." + std::to_string(e) + ".up_proj.input_scale");
      EXPECT_EQ(q[e], 1.0f / std::max(gate, up)) << "expert " << e;
      q[e] = 1.0f / largest;
    }
  }), 1);
  const auto& x = only_mismatch(j, kExperts, "semantic");
  EXPECT_EQ(x.at("param"), "w13_input_scale_quant");
}

// A dump of another checkpoint (the same shapes) fails; the same dump read as flashinfer_cutlass
// ([w3; w1], one activation scale) fails too.
TEST_P(DiffRealSglangCutlass, AnotherCheckpointOrBackendFails) {
  nlohmann::json j = diff_json(kData + "/moe", kData + "/" + dump("moe_unequal"), 1);
  EXPECT_EQ(module(j, kExperts).at("semantic"), "fail");
  CliRun r = nvfp4({"diff", kData + "/moe", kData + "/" + dump("moe"), "--backend", "flashinfer_cutlass", "--json"});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(module(nlohmann::json::parse(r.out), kExperts).at("semantic"), "fail");
}

// Renamed to a name no rule reads: a scalar is reported absent and the new name fails the module
// as unexplained; the swizzle the kernel reads, absent, stops the diff naming it.
TEST_P(DiffRealSglangCutlass, RenamedTensorsFailNamingThem) {
  TempDir dir;
  auto renamed = [&](const std::string& from, const std::string& to) {
    return planted(dir, dump("moe"), [&](Tensors& t) {
      auto node = t.extract(kExperts + "." + from);
      node.key() = kExperts + "." + to;
      t.insert(std::move(node));
    });
  };
  nlohmann::json j = diff_json(kData + "/moe", renamed("g1_alphas", "g1_alpha"), 1);
  const auto& m = module(j, kExperts);
  EXPECT_EQ(only_mismatch(j, kExperts, "semantic").at("found"), "absent");
  EXPECT_EQ(m.at("unexplained"), (std::vector<std::string>{kExperts + ".g1_alpha"}));
  CliRun r = nvfp4({"diff", kData + "/moe", renamed("w13_blockscale_swizzled", "w13_swizzled")});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(kExperts + ".w13_blockscale_swizzled"), std::string::npos) << r.err;
}

// Compressed-tensors never refuses cutlass: the non-trtllm path, [w1; w3] through 0.5.16.
TEST_P(DiffRealSglangCutlass, CompressedTensorsHolds) {
  nlohmann::json j = diff_json(kData + "/ct_moe", kData + "/" + dump("ct_moe"), 0);
  for (const auto& m : j.at("modules")) expect_holds(j, m.at("module"));
  expect_every_tensor_read(j, dump("ct_moe"));
}

INSTANTIATE_TEST_SUITE_P(Releases, DiffRealSglangCutlass, ::testing::Values("0.5.10.post1", "0.5.15"), release_test_name);

// --- 0.5.15 otherwise.

const std::string kT15 = dump_of("0.5.15", "moe", "flashinfer_trtllm");

// trtllm: shuffled in place, *_blockscale_swizzled aliases of the shuffled scales (no placeholder),
// g1_alphas_up checked.
TEST(DiffRealSglang0515, TrtllmExpertsHold) {
  nlohmann::json j = diff_json(kData + "/moe", kData + "/" + kT15, 0);
  for (const auto& m : j.at("modules")) expect_holds(j, m.at("module"));
  expect_every_tensor_read(j, kT15);
}

// The loader still swaps w1 and w3 while _compute_gemm1_alphas reads column 0 as the gate's: the
// gate half gets the up's scale (g1_alphas) and the up half the gate's (g1_scale_c).
TEST(DiffRealSglang0515, TrtllmGivesEachHalfTheOthersScale) {
  const std::string ck = kData + "/moe_unequal/model.safetensors";
  nlohmann::json j = diff_json(kData + "/moe_unequal", kData + "/" + dump_of("0.5.15", "moe_unequal", "flashinfer_trtllm"), 1);
  const auto& m = module(j, kExperts);
  EXPECT_TRUE(m.at("mismatches").empty()) << m.dump();
  ASSERT_EQ(m.at("unreconciled").size(), 8u) << m.dump();
  for (int e = 0; e < 4; ++e) {
    const std::string p = kExperts + "." + std::to_string(e);
    const double gate = scalar(ck, p + ".gate_proj.weight_scale_2"), up = scalar(ck, p + ".up_proj.weight_scale_2");
    const auto& g = m.at("unreconciled")[static_cast<std::size_t>(2 * e)];
    const auto& u = m.at("unreconciled")[static_cast<std::size_t>(2 * e + 1)];
    EXPECT_EQ(g.at("shard"), "expert " + std::to_string(e) + " w1 (gate)");
    EXPECT_EQ(g.at("factor").get<double>(), up / gate);
    EXPECT_EQ(u.at("shard"), "expert " + std::to_string(e) + " w3 (up)");
    EXPECT_EQ(u.at("factor").get<double>(), gate / up);
  }
}

TEST(DiffRealSglang0515, TrtllmFaultsNameTheTensor) {
  expect_faults_named("moe", kT15,
                      {{"w13_weight", true, true},          {"w2_weight", true, true},           {"w13_weight_scale", true, true},
                       {"w2_weight_scale", true, true},     {"w13_blockscale_swizzled", false, true}, {"g1_alphas", true, false},
                       {"g1_alphas_up", true, false},       {"g2_alphas", true, false},          {"g1_scale_c", true, false},
                       {"w13_input_scale_quant", true, false}, {"w2_input_scale_quant", true, false}, {"w13_weight_scale_2", false, true},
                       {"w2_weight_scale_2", false, true},  {"w13_input_scale", false, true},    {"w2_input_scale", false, true}});
}

// Fused on disk: weight_loader_v2 writes the one scale into slot 0 only and the other slots stay as
// torch.empty left them, through 0.5.15.post1 (srt/layers/linear.py:808-815,1060-1062@0.5.10.post1 ·
// :835-842,1087-1089@0.5.15.post1): never a pass. The per-shard copies fail past slot 0; the
// max-derived alpha and input_scale_inv fail too wherever the leftover bytes exceed slot 0
// (0.5.13's do), and are right where they do not.
class DiffRealSglangFused : public ::testing::TestWithParam<std::string> {};

TEST_P(DiffRealSglangFused, ScalesInSlotZeroOnlyFail) {
  nlohmann::json j = diff_json(kData + "/fused", kData + "/" + dump_of(GetParam(), "fused"), 1);
  for (const std::string& mod : {kQkv, kGateUp}) {
    const auto& m = module(j, mod);
    std::set<std::string> layout;
    for (const auto& x : m.at("mismatches")) {
      const std::string p = x.at("param");
      if (x.at("verdict") == "layout") {
        layout.insert(p);
        EXPECT_NE(x.at("index"), "[0]") << x.dump();
      } else {
        EXPECT_TRUE(p == "alpha" || p == "input_scale_inv") << x.dump();
      }
    }
    EXPECT_EQ(layout, (std::set<std::string>{"weight_scale_2", "input_scale"})) << m.dump();
  }
  expect_holds(j, kO);
  expect_holds(j, kDown);
}

INSTANTIATE_TEST_SUITE_P(Releases, DiffRealSglangFused, ::testing::Values("0.5.10.post1", "0.5.11", "0.5.13", "0.5.15"), release_test_name);

// 0.5.11-0.5.14 refuse cutlass for ModelOpt experts but not for compressed-tensors, whose scheme
// tests only for trtllm: these releases' own runs wrote these dumps (and raised for ModelOpt).
class DiffRealSglangRefusingCutlass : public ::testing::TestWithParam<std::string> {};

TEST_P(DiffRealSglangRefusingCutlass, CompressedTensorsCutlassHolds) {
  const std::string dump = dump_of(GetParam(), "ct_moe", "cutlass");
  nlohmann::json j = diff_json(kData + "/ct_moe", kData + "/" + dump, 0);
  for (const auto& m : j.at("modules")) expect_holds(j, m.at("module"));
  expect_every_tensor_read(j, dump);
  // The ModelOpt checkpoint on cutlass: refused, with the release's reason.
  CliRun r = nvfp4({"diff", kData + "/moe", kData + "/" + dump_of(GetParam(), "moe", "flashinfer_cutlass"), "--backend", "cutlass"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("sglang " + GetParam() + " refuses moe_runner_backend=cutlass"), std::string::npos) << r.err;
}

INSTANTIATE_TEST_SUITE_P(Releases, DiffRealSglangRefusingCutlass, ::testing::Values("0.5.11", "0.5.13"), release_test_name);

// --- 0.5.13: the trtllm row of 0.5.12-0.5.13.post1.

const std::string kT13 = dump_of("0.5.13", "moe", "flashinfer_trtllm");

// Shuffled in place as 0.5.11, but *_blockscale_swizzled aliases of the shuffled scales (no
// placeholder left), no g1_alphas_up.
TEST(DiffRealSglang0513, TrtllmExpertsHold) {
  nlohmann::json j = diff_json(kData + "/moe", kData + "/" + kT13, 0);
  for (const auto& m : j.at("modules")) expect_holds(j, m.at("module"));
  expect_every_tensor_read(j, kT13);
}

// g1_alphas = in13 x w13_weight_scale_2[:, 0], the up's after the loader's swap, and g1_scale_c
// from it (modelopt_quant.py:1900,1956-1960@0.5.13): every expert's gate half off by up / gate.
TEST(DiffRealSglang0513, TrtllmAppliesTheUpScaleToTheGateHalf) {
  expect_halves_off(diff_json(kData + "/moe_unequal", kData + "/" + dump_of("0.5.13", "moe_unequal", "flashinfer_trtllm"), 1),
                    kData + "/moe_unequal/model.safetensors", false, ExpertRole::Gate);
}

TEST(DiffRealSglang0513, TrtllmFaultsNameTheTensor) {
  expect_faults_named("moe", kT13,
                      {{"w13_weight", true, true},          {"w13_weight_scale", true, true},    {"w2_blockscale_swizzled", false, true},
                       {"g1_alphas", true, false},          {"g1_scale_c", true, false},         {"w13_weight_scale_2", false, true}});
}

TEST(DiffRealSglang0515, CompressedTensorsTrtllmHolds) {
  const std::string dump = dump_of("0.5.15", "ct_moe", "flashinfer_trtllm");
  nlohmann::json j = diff_json(kData + "/ct_moe", kData + "/" + dump, 0);
  for (const auto& m : j.at("modules")) expect_holds(j, m.at("module"));
  expect_every_tensor_read(j, dump);
}

}  // namespace
}  // namespace nvfp4::diff_test

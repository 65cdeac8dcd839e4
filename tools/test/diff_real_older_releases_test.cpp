// nvfp4 diff on dumps sglang 0.5.10.post1's, 0.5.11's, 0.5.13's and 0.5.15's own code wrote
// (tools/engine_dumps/README.md: each wheel, run on the CPU by generate.py), not 0.5.23's rewritten:
// the rows tools/diff/conventions_sglang*.cpp hold for those releases hold on them, a planted fault
// fails the module and names the tensor, and what the releases themselves get wrong fails: the up's
// scale on the gate half (flashinfer_trtllm), the gate's on the up half (flashinfer_cutlass).
// diff_real_middle_releases_test.cpp: the plain cutlass runner, fused-on-disk scales, and what 0.5.13 and 0.5.15 do otherwise.
#include <gtest/gtest.h>

#include <set>

#include "tools/test/diff_real_util.h"

namespace nvfp4::diff_test {
namespace {

std::string dump_0510(const std::string& ckpt, const std::string& backend = "") { return dump_of("0.5.10.post1", ckpt, backend); }
std::string dump_0511(const std::string& ckpt, const std::string& backend = "") { return dump_of("0.5.11", ckpt, backend); }

// The release's own fault: the loader's w1/w3 swap makes g1_alphas the up's, which the kernel applies
// to the gate half, so with unequal gate and up scales every expert's gate half is off by up / gate.
void expect_gate_halves_off(const std::string& dump) {
  expect_halves_off(diff_json(kData + "/moe_unequal", kData + "/" + dump, 1), kData + "/moe_unequal/model.safetensors", false, ExpertRole::Gate);
}

// ModelOpt flashinfer_cutlass, 0.5.10.post1 and 0.5.11 alike.
const std::vector<Planted> kFlashinferCutlassFaults = {
    {"w13_weight", true, true},
    {"w2_weight", true, true},
    {"w13_blockscale_swizzled", true, true},
    {"w2_blockscale_swizzled", true, true},
    {"w13_weight_scale", false, true},  // the raw loaded copy: no kernel reads it
    {"w2_weight_scale", false, true},
    {"g1_alphas", true, false},
    {"g2_alphas", true, false},
    {"w13_input_scale_quant", true, false},
    {"w2_input_scale_quant", true, false},
    {"w13_weight_scale_2", false, true},
    {"w2_weight_scale_2", false, true},
    {"w13_input_scale", false, true},
    {"w2_input_scale", false, true}};

// Compressed-tensors flashinfer_cutlass, 0.5.10.post1 and 0.5.11 alike.
const std::vector<Planted> kCtFlashinferCutlassFaults = {{"w13_weight", true, true},
                       {"w2_weight", true, true},
                       {"w13_weight_scale", true, true},
                       {"w2_weight_scale", true, true},
                       {"g1_alphas", true, false},
                       {"g2_alphas", true, false},
                       {"w13_input_scale_quant", true, false},
                       {"w2_input_scale_quant", true, false},
                       {"w13_weight_scale_2", true, false},
                       {"w2_weight_scale_2", true, false},
                       {"w13_weight_global_scale", false, true},
                       {"w2_weight_global_scale", false, true},
                       {"w13_input_global_scale", false, true},
                       {"w2_input_global_scale", false, true}};

// The trtllm experts hold, every tensor read but the two placeholders the release never writes,
// the shuffled tensors under the release's own names.
void expect_trtllm_holds(const std::string& dump, const std::vector<std::string>& shuffled) {
  nlohmann::json j = diff_json(kData + "/moe", kData + "/" + dump, 0);
  for (const auto& m : j.at("modules")) expect_holds(j, m.at("module"));
  const auto& m = module(j, kExperts);
  EXPECT_EQ(m.at("placeholders"), (std::vector<std::string>{"w13_blockscale_swizzled", "w2_blockscale_swizzled"}));
  EXPECT_TRUE(m.at("unexplained").empty()) << m.dump();
  const auto params = m.at("params").get<std::vector<std::string>>();
  for (const auto& n : shuffled) EXPECT_NE(std::find(params.begin(), params.end(), n), params.end()) << n;
}

// --- what 0.5.10.post1, 0.5.11, 0.5.13 and 0.5.15 share: the linear rows (the kept loaded scales: raw
// through 0.5.11, the aliased swizzle from 0.5.12, a copy either way), the flashinfer_cutlass rows
// and compressed-tensors' [w1; w3] off trtllm; one test each, run on each release's own dumps.

class DiffRealSglang : public ::testing::TestWithParam<std::string> {
 protected:
  std::string dump(const std::string& ckpt, const std::string& backend = "") const { return dump_of(GetParam(), ckpt, backend); }
  // From 0.5.14 flashinfer_cutlass's experts also hold g1_alphas_up, written and never read.
  std::vector<std::string> unread() const { return GetParam() == "0.5.15" ? std::vector<std::string>{"g1_alphas_up"} : std::vector<std::string>{}; }
};

TEST_P(DiffRealSglang, DumpsAreTheReleasesOwn) {
  for (const std::string& d : {dump("dense"), dump("moe", "flashinfer_trtllm"), dump("moe_unequal", "flashinfer_trtllm"),
                              dump("ct_moe", "flashinfer_trtllm"), dump("moe", "flashinfer_cutlass"),
                              dump("moe_unequal", "flashinfer_cutlass"), dump("ct_moe", "flashinfer_cutlass")}) {
    const auto m = SafetensorsFile::open(kData + "/" + d).metadata();
    EXPECT_EQ(m.at("engine"), "sglang") << d;
    EXPECT_EQ(m.at("engine_version"), GetParam()) << d;
    // 0.5.10.post1's pin; the others pin 2.11.0 (tools/engine_dumps/README.md says why they ran on 2.9.1)
    EXPECT_EQ(m.at("torch").rfind("2.9.1", 0), 0u) << d;
  }
}

TEST_P(DiffRealSglang, LinearHolds) {
  nlohmann::json j = diff_json(kData + "/dense", kData + "/" + dump("dense"), 0);
  EXPECT_EQ(j.at("engine_version"), GetParam());
  ASSERT_EQ(j.at("modules").size(), 4u);
  for (const auto& m : j.at("modules")) expect_holds(j, m.at("module"));
}

// The loaded block scales the release keeps beside the swizzle (raw through 0.5.11, the swizzled
// bytes from 0.5.12, where the shapes agree): a copy no GEMM reads, so Layout only.
TEST_P(DiffRealSglang, FaultInTheKeptLoadedScalesIsLayout) {
  TempDir dir;
  const std::string path = planted(dir, dump("dense"), [](Tensors& t) { flip_scale(t.at(kQkv + ".weight_scale"), 70 * 4 + 2); });
  nlohmann::json j = diff_json(kData + "/dense", path, 1);
  EXPECT_EQ(only_mismatch(j, kQkv, "layout").at("param"), "weight_scale");
  EXPECT_EQ(module(j, kQkv).at("semantic"), "ok");
  expect_others_clean(j, kQkv);
}

TEST_P(DiffRealSglang, FaultInTheSwizzleIsSemantic) {
  TempDir dir;
  const std::string path = planted(dir, dump("dense"), [](Tensors& t) { flip_scale(t.at(kGateUp + ".weight_scale_interleaved"), 5 * 16 + 3); });
  nlohmann::json j = diff_json(kData + "/dense", path, 1);
  EXPECT_EQ(only_mismatch(j, kGateUp, "semantic").at("param"), "weight_scale_interleaved");
  expect_others_clean(j, kGateUp);
}

// ModelOpt on flashinfer_cutlass: w13 rows [w3; w1], the swizzle under w13/w2_blockscale_swizzled
// (decoded) and the raw loaded w13/w2_weight_scale kept beside it (compared with the checkpoint's
// bytes), g1_alphas the gate's for both halves, no g1_alphas_up.
TEST_P(DiffRealSglang, FlashinferCutlassExpertsHold) {
  nlohmann::json j = diff_json(kData + "/moe", kData + "/" + dump("moe", "flashinfer_cutlass"), 0);
  for (const auto& m : j.at("modules")) expect_holds(j, m.at("module"));
  expect_every_tensor_read(j, dump("moe", "flashinfer_cutlass"), unread());
}

// The releases' own fault on unequal gate and up scales: g1_alphas, the gate's, is the one alpha the
// kernel applies to both halves of w13 (quant_scales, modelopt_quant.py:1996-2003@0.5.10.post1,
// :2109-2127@0.5.11), so every expert's up half is off by gate / up.
TEST_P(DiffRealSglang, FlashinferCutlassAppliesTheGateScaleToTheUpHalf) {
  nlohmann::json j = diff_json(kData + "/moe_unequal", kData + "/" + dump("moe_unequal", "flashinfer_cutlass"), 1);
  expect_up_halves_off(j, kData + "/moe_unequal/model.safetensors", false);
  expect_every_tensor_read(j, dump("moe_unequal", "flashinfer_cutlass"), unread());
}

TEST_P(DiffRealSglang, FlashinferCutlassFaultsNameTheTensor) {
  expect_faults_named("moe", dump("moe", "flashinfer_cutlass"), kFlashinferCutlassFaults);
  for (const auto& n : unread()) expect_placeholder_unchecked("moe", dump("moe", "flashinfer_cutlass"), n);
}

// Compressed-tensors on flashinfer_cutlass: sglang's own cutlass_moe_fp4, w13 rows [w1; w3], the
// swizzle replacing w13/w2_weight_scale, per-expert activation scales.
TEST_P(DiffRealSglang, CompressedTensorsFlashinferCutlassHolds) {
  nlohmann::json j = diff_json(kData + "/ct_moe", kData + "/" + dump("ct_moe", "flashinfer_cutlass"), 0);
  for (const auto& m : j.at("modules")) expect_holds(j, m.at("module"));
  expect_every_tensor_read(j, dump("ct_moe", "flashinfer_cutlass"));
}

TEST_P(DiffRealSglang, CompressedTensorsFlashinferCutlassFaultsNameTheTensor) {
  expect_faults_named("ct_moe", dump("ct_moe", "flashinfer_cutlass"), kCtFlashinferCutlassFaults);
}

INSTANTIATE_TEST_SUITE_P(Releases, DiffRealSglang, ::testing::Values("0.5.10.post1", "0.5.11", "0.5.13", "0.5.15"), release_test_name);

// --- where they differ: the trtllm experts' names.

// 0.5.10.post1 (#22204): the shuffled tensors under gemm1_/gemm2_ names, w13_weight and w2_weight
// and their scales deleted.
TEST(DiffRealSglang0510, TrtllmExpertsHold) {
  expect_trtllm_holds(dump_0510("moe", "flashinfer_trtllm"),
                      {"gemm1_weights_fp4_shuffled", "gemm1_scales_fp4_shuffled", "gemm2_weights_fp4_shuffled", "gemm2_scales_fp4_shuffled", "g1_scale_c"});
}

// g1_alphas = in13 x w13_weight_scale_2[:, 0] (modelopt_quant.py:1707,1751-1755@0.5.10.post1;
// :1728,1765-1768@0.5.11), the up's after the loader's swap (fused_moe_triton/layer.py:775-780@0.5.11).
TEST(DiffRealSglang0510, TrtllmAppliesTheUpScaleToTheGateHalf) { expect_gate_halves_off(dump_0510("moe_unequal", "flashinfer_trtllm")); }
TEST(DiffRealSglang0511, TrtllmAppliesTheUpScaleToTheGateHalf) { expect_gate_halves_off(dump_0511("moe_unequal", "flashinfer_trtllm")); }

TEST(DiffRealSglang0510, TrtllmFaultsNameTheTensor) {
  TempDir dir;
  const std::string dump = dump_0510("moe", "flashinfer_trtllm");
  nlohmann::json j = diff_json(kData + "/moe", planted(dir, dump, [](Tensors& t) {
    t.at(kExperts + ".gemm2_weights_fp4_shuffled").data()[2 * 128 * 64 + 9 * 64 + 5] ^= 0x11;  // expert 2
  }), 1);
  const auto& w = only_mismatch(j, kExperts, "semantic");
  EXPECT_EQ(w.at("param"), "gemm2_weights_fp4_shuffled");
  EXPECT_EQ(w.at("index").get<std::string>().substr(0, 3), "[2,") << w.dump();
  expect_others_clean(j, kExperts);
  j = diff_json(kData + "/moe", planted(dir, dump, [](Tensors& t) { t.at(kExperts + ".g1_alphas").template data_as<float>()[1] *= 0.5f; }), 1);
  const auto& a = only_mismatch(j, kExperts, "semantic");
  EXPECT_EQ(a.at("param"), "g1_alphas");
  EXPECT_EQ(a.at("index"), "[1]");
  EXPECT_NE(a.at("source").get<std::string>().find("off by a factor 0.5"), std::string::npos) << a.dump();
}

TEST(DiffRealSglang0510, CompressedTensorsTrtllmHolds) {
  nlohmann::json j = diff_json(kData + "/ct_moe", kData + "/" + dump_0510("ct_moe", "flashinfer_trtllm"), 0);
  for (const auto& m : j.at("modules")) expect_holds(j, m.at("module"));
  EXPECT_FALSE(module(j, kExperts).contains("placeholders"));
}

// 0.5.11: the trtllm shuffle written over w13_weight and friends in place (copy_or_rebind_param,
// srt/layers/moe/moe_runner/flashinfer_trtllm.py:481-488@0.5.11).
TEST(DiffRealSglang0511, TrtllmExpertsHoldInPlace) {
  expect_trtllm_holds(dump_0511("moe", "flashinfer_trtllm"), {"w13_weight", "w13_weight_scale", "w2_weight", "w2_weight_scale", "g1_scale_c"});
}

// One fault per tensor the in-place trtllm row checks: the shuffled weights and scales under their
// loaded names (semantic, and layout byte for byte), the alphas and g1_scale_c, the kept scalars.
TEST(DiffRealSglang0511, TrtllmFaultsNameTheTensor) {
  expect_faults_named("moe", dump_0511("moe", "flashinfer_trtllm"),
                      {{"w13_weight", true, true},          {"w2_weight", true, true},           {"w13_weight_scale", true, true},
                       {"w2_weight_scale", true, true},     {"g1_alphas", true, false},          {"g2_alphas", true, false},
                       {"g1_scale_c", true, false},         {"w13_input_scale_quant", true, false}, {"w2_input_scale_quant", true, false},
                       {"w13_weight_scale_2", false, true}, {"w2_weight_scale_2", false, true},  {"w13_input_scale", false, true},
                       {"w2_input_scale", false, true}});
}

// Compressed-tensors: 0.5.10.post1's rows, the trtllm shuffle written over w13_weight and friends
// with replace_parameter (compressed_tensors_w4a4_nvfp4_moe.py:261-264@0.5.11).
TEST(DiffRealSglang0511, CompressedTensorsTrtllmHoldsInPlace) {
  const std::string dump = dump_0511("ct_moe", "flashinfer_trtllm");
  nlohmann::json j = diff_json(kData + "/ct_moe", kData + "/" + dump, 0);
  for (const auto& m : j.at("modules")) expect_holds(j, m.at("module"));
  expect_every_tensor_read(j, dump);
}

TEST(DiffRealSglang0511, CompressedTensorsTrtllmFaultsNameTheTensor) {
  expect_faults_named("ct_moe", dump_0511("ct_moe", "flashinfer_trtllm"),
                      {{"w13_weight", true, true}, {"w2_weight", true, true}, {"w13_weight_scale", true, true},
                       {"w2_weight_scale", true, true}, {"g1_scale_c", true, false}});
}

}  // namespace
}  // namespace nvfp4::diff_test

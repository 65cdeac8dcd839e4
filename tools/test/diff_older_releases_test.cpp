// nvfp4 diff on sglang 0.5.10.post1's conventions (tools/diff/conventions_sglang*.cpp), read off its
// wheel: linear modules keep the raw loaded weight_scale beside weight_scale_interleaved;
// flashinfer_trtllm experts sit under gemm1_/gemm2_ names with w13_weight and friends deleted, I
// padded to 128, the loader's w1/w3 swap putting the up's weight_scale_2 in column 0 so that
// g1_alphas (the gate half's scale) and g1_scale_c are both the up's, no g1_alphas_up, and
// w13/w2_blockscale_swizzled registered and never written. The dumps here are the committed 0.5.23
// dumps rewritten the way 0.5.10.post1's code lays them out (the FlashInfer permutations are the same
// in the FlashInfer each release pins), under metadata naming 0.5.10.post1;
// diff_real_older_releases_test.cpp runs the same rows on dumps that release's own code wrote.
#include <gtest/gtest.h>

#include <set>

#include "reference/shuffle.h"
#include "reference/swizzle.h"
#include "tools/test/diff_test_util.h"

namespace nvfp4::diff_test {
namespace {

using Tensors = std::map<std::string, Tensor>;

std::map<std::string, std::string> meta_0510(const std::string& dump) {
  auto m = SafetensorsFile::open(kData + "/" + dump).metadata();
  m["engine_version"] = "0.5.10.post1";
  return m;
}

void rename(Tensors& t, const std::string& from, const std::string& to) {
  auto node = t.extract(from);
  ASSERT_FALSE(node.empty()) << from;
  node.key() = to;
  t.insert(std::move(node));
}

// Linear: weight_scale back to the raw loaded scales, unswizzled from weight_scale_interleaved
// (the committed cases are aligned: N and K are the padded weight's).
void raw_linear_scales(Tensors& t) {
  for (auto& [n, x] : t) {
    const std::string suffix = ".weight_scale_interleaved";
    if (n.size() < suffix.size() || n.compare(n.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    const std::string m = n.substr(0, n.size() - suffix.size());
    const Tensor& w = t.at(m + ".weight");
    t.at(m + ".weight_scale") = ref::unswizzle_128x4(x, w.size(0), w.size(1) * 2 / 16);
  }
}

ref::Permutation gemm1_order(std::int64_t Ip) { return ref::compose(ref::gated_act_reorder(2 * Ip), ref::shuffle_a_rows(2 * Ip, 128)); }

// [E, 2 Ip0, C] in FlashInfer's gemm1 order over [w3; 0; w1; 0] halves of Ip0 rows -> the same rows
// with halves of Ip1 rows.
Tensor regrow_gemm1(const Tensor& t, std::int64_t Ip0, std::int64_t Ip1) {
  const std::int64_t E = t.size(0), C = t.size(2);
  const ref::Permutation p0 = gemm1_order(Ip0);
  Tensor unshuffled = Tensor::zeros(t.dtype(), {E, 2 * Ip1, C});
  for (std::int64_t e = 0; e < E; ++e)
    for (std::int64_t n = 0; n < 2 * Ip0; ++n) {
      const std::int64_t l = p0[static_cast<std::size_t>(n)], l1 = (l / Ip0) * Ip1 + l % Ip0;
      std::memcpy(unshuffled.data() + (e * 2 * Ip1 + l1) * C, t.data() + (e * 2 * Ip0 + n) * C, static_cast<std::size_t>(C));
    }
  return ref::permute_rows(unshuffled, gemm1_order(Ip1));
}

// [E, R, C0] -> [E, R, C1], zero columns after.
Tensor pad_columns(const Tensor& t, std::int64_t C1) {
  const std::int64_t E = t.size(0), R = t.size(1), C0 = t.size(2);
  Tensor out = Tensor::zeros(t.dtype(), {E, R, C1});
  for (std::int64_t r = 0; r < E * R; ++r) std::memcpy(out.data() + r * C1, t.data() + r * C0, static_cast<std::size_t>(C0));
  return out;
}

// sglang 0.5.23's ModelOpt flashinfer_trtllm experts (Ip0 = round_up(I, 64)) as 0.5.10.post1 holds
// them (Ip1 = round_up(I, 128)).
void experts_0510(Tensors& t) {
  const std::string x = kExperts + ".";
  const std::int64_t E = t.at(x + "w13_weight").size(0), Ip0 = t.at(x + "w13_weight").size(1) / 2, Ip1 = ref::round_up(Ip0, 128);
  const std::int64_t H = t.at(x + "w2_weight").size(1), Kb13 = H / 16;
  t[x + "gemm1_weights_fp4_shuffled"] = regrow_gemm1(t.at(x + "w13_weight"), Ip0, Ip1);
  t[x + "gemm1_scales_fp4_shuffled"] = ref::swizzle_128x4(regrow_gemm1(ref::unswizzle_128x4(t.at(x + "w13_weight_scale"), 2 * Ip0, Kb13), Ip0, Ip1));
  t[x + "gemm2_weights_fp4_shuffled"] = pad_columns(t.at(x + "w2_weight"), Ip1 / 2);
  t[x + "gemm2_scales_fp4_shuffled"] = ref::swizzle_128x4(pad_columns(ref::unswizzle_128x4(t.at(x + "w2_weight_scale"), H, Ip0 / 16), Ip1 / 16));
  for (const char* n : {"w13_weight", "w13_weight_scale", "w2_weight", "w2_weight_scale", "w13_blockscale_swizzled", "w2_blockscale_swizzled"}) t.erase(x + n);
  // The placeholders: the swizzle of the unwritten scales, whatever the memory held.
  Tensor p13 = Tensor::zeros(DType::F8_E4M3, {E, 2 * Ip1, ref::round_up(Kb13, 4)}), p2 = Tensor::zeros(DType::F8_E4M3, {E, H, ref::round_up(Ip1 / 16, 4)});
  std::memset(p13.data(), 0xA5, static_cast<std::size_t>(p13.nbytes()));
  std::memset(p2.data(), 0x5A, static_cast<std::size_t>(p2.nbytes()));
  t[x + "w13_blockscale_swizzled"] = p13;
  t[x + "w2_blockscale_swizzled"] = p2;
  // g1_alphas is the up's (0.5.23's g1_alphas_up), so g1_scale_c is unchanged; the per-tensor
  // columns are [up, gate].
  t.at(x + "g1_alphas") = t.at(x + "g1_alphas_up");
  t.erase(x + "g1_alphas_up");
  float* s2 = t.at(x + "w13_weight_scale_2").template data_as<float>();
  for (std::int64_t e = 0; e < E; ++e) std::swap(s2[2 * e], s2[2 * e + 1]);
}

TEST(DiffSglang0510, LinearKeepsTheLoadedScales) {
  TempDir dir;
  const std::string dump = "dense.sglang.safetensors";
  nlohmann::json j = diff_json(kData + "/dense", planted(dir, dump, raw_linear_scales, meta_0510(dump)), 0);
  EXPECT_EQ(j.at("engine_version"), "0.5.10.post1");
  for (const auto& m : j.at("modules")) expect_holds(j, m.at("module"));
  // 0.5.23's dump read as 0.5.10.post1: weight_scale holds the swizzle where the shapes agree.
  j = diff_json(kData + "/dense", planted(dir, dump, [](Tensors&) {}, meta_0510(dump)), 1);
  const auto& x = only_mismatch(j, kQkv, "layout");
  EXPECT_EQ(x.at("param"), "weight_scale");
  EXPECT_EQ(x.at("source"), "the loaded block scales");
  EXPECT_EQ(module(j, kQkv).at("semantic"), "ok");
}

TEST(DiffSglang0510, TrtllmExpertsUnderGemmNamesWithPlaceholders) {
  TempDir dir;
  const std::string dump = "moe.sglang.flashinfer_trtllm.safetensors";
  const std::string path = planted(dir, dump, [](Tensors& t) {
    raw_linear_scales(t);
    experts_0510(t);
  }, meta_0510(dump));
  nlohmann::json j = diff_json(kData + "/moe", path, 0);
  expect_holds(j, kExperts);
  const auto& m = module(j, kExperts);
  EXPECT_EQ(m.at("placeholders"), (std::vector<std::string>{"w13_blockscale_swizzled", "w2_blockscale_swizzled"}));
  EXPECT_TRUE(m.at("unexplained").empty());
  const auto params = m.at("params").get<std::vector<std::string>>();
  for (const char* n : {"gemm1_weights_fp4_shuffled", "gemm1_scales_fp4_shuffled", "gemm2_weights_fp4_shuffled", "gemm2_scales_fp4_shuffled", "g1_scale_c"})
    EXPECT_NE(std::find(params.begin(), params.end(), n), params.end()) << n;
  EXPECT_FALSE(module(j, kQkv).contains("placeholders"));
  CliRun t = nvfp4({"diff", kData + "/moe", path});
  EXPECT_EQ(t.code, 0);
  EXPECT_NE(t.out.find("  " + kExperts + ".w13_blockscale_swizzled: unused placeholder, not checked\n"), std::string::npos) << t.out;
  // The same dump read as 0.5.23 holds none of its names: never a pass.
  CliRun r = nvfp4({"diff", kData + "/moe", path, "--engine", "sglang==0.5.23", "--json"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(module(nlohmann::json::parse(r.out), kExperts).at("semantic"), "not read");
}

// Unequal gate and up scales: the kernel applies g1_alphas, the up's, to the gate half, so every
// expert's gate half is off by up / gate, from the checkpoint's scalars; the up half is right.
TEST(DiffSglang0510, TrtllmAppliesTheUpScaleToTheGateHalf) {
  TempDir dir;
  const std::string dump = "moe_unequal.sglang.flashinfer_trtllm.safetensors";
  nlohmann::json j = diff_json(kData + "/moe_unequal", planted(dir, dump, [](Tensors& t) {
    raw_linear_scales(t);
    experts_0510(t);
  }, meta_0510(dump)), 1);
  expect_halves_off(j, kData + "/moe_unequal/model.safetensors", false, ExpertRole::Gate);
}

// Compressed-tensors trtllm: 0.5.23's values and layout (I padded to 128 alike), under gemm1_/gemm2_
// names with the sources deleted.
TEST(DiffSglang0510, CompressedTensorsTrtllmUnderGemmNames) {
  auto gemm_names = [](Tensors& t) {
    const std::string x = kExperts + ".";
    rename(t, x + "w13_weight", x + "gemm1_weights_fp4_shuffled");
    rename(t, x + "w13_weight_scale", x + "gemm1_scales_fp4_shuffled");
    rename(t, x + "w2_weight", x + "gemm2_weights_fp4_shuffled");
    rename(t, x + "w2_weight_scale", x + "gemm2_scales_fp4_shuffled");
  };
  TempDir dir;
  const std::string dump = "ct_moe.sglang.flashinfer_trtllm.safetensors", unequal = "ct_moe_unequal.sglang.flashinfer_trtllm.safetensors";
  nlohmann::json j = diff_json(kData + "/ct_moe", planted(dir, dump, gemm_names, meta_0510(dump)), 0);
  for (const auto& m : j.at("modules")) expect_holds(j, m.at("module"));
  EXPECT_FALSE(module(j, kExperts).contains("placeholders"));
  expect_up_halves_off(diff_json(kData + "/ct_moe_unequal", planted(dir, unequal, gemm_names, meta_0510(unequal)), 1),
                       kData + "/ct_moe_unequal/model.safetensors", true);
}

// A 0.5.23 flashinfer_cutlass dump passed off as 0.5.10.post1 fails, naming what that release lays
// out otherwise: the swizzle aliased onto w13/w2_weight_scale, where 0.5.10.post1 keeps the loaded
// bytes beside a swizzle of its own, and g1_alphas_up, which 0.5.10.post1 never writes (the linear
// modules rewritten as that release lays them out, so that only the experts differ).
TEST(DiffSglang0510, FlashinferCutlassDumpOfANewerReleaseFails) {
  TempDir dir;
  const std::string dump = "moe.sglang.flashinfer_cutlass.safetensors";
  nlohmann::json j = diff_json(kData + "/moe", planted(dir, dump, raw_linear_scales, meta_0510(dump)), 1);
  const auto& m = module(j, kExperts);
  EXPECT_EQ(m.at("semantic"), "ok") << m.dump();
  std::set<std::string> layout;
  for (const auto& x : m.at("mismatches")) layout.insert(x.at("param").get<std::string>());
  EXPECT_EQ(layout, (std::set<std::string>{"w13_weight_scale", "w2_weight_scale"}));
  EXPECT_EQ(m.at("unexplained"), (std::vector<std::string>{kExperts + ".g1_alphas_up"}));
  expect_others_clean(j, kExperts);
}

}  // namespace
}  // namespace nvfp4::diff_test

// nvfp4 diff on experts: dumps sglang's and vLLM's own MoE code wrote on every backend
// each offers here (ModelOpt and compressed-tensors; equal, unequal and padded shapes), and copies
// of them with one planted fault each.
#include "tools/test/diff_test_util.h"

namespace nvfp4::diff_test {
namespace {

TEST(DiffExperts, PassesWhereSglangIsRight) {
  for (std::string dump : {"moe.sglang.flashinfer_cutlass", "moe.sglang.flashinfer_trtllm", "moe_odd.sglang.flashinfer_trtllm"}) {
    SCOPED_TRACE(dump);
    nlohmann::json j = diff_json(kData + "/" + dump.substr(0, dump.find(".sglang")), kData + "/" + dump + ".safetensors", 0);
    EXPECT_EQ(j.at("experts_backend"), dump.substr(dump.rfind('.') + 1));
    expect_holds(j, kExperts);
  }
}

// Unequal gate and up scales per expert. trtllm gives the up half its own alpha (g1_alphas_up,
// through g1_scale_c): right. flashinfer_cutlass passes g1_alphas alone, the gate's, so every
// expert's up half is off by gate / up, read here from the checkpoint.
TEST(DiffExperts, SglangCutlassAppliesTheGateScaleToTheUpHalf) {
  nlohmann::json trt = diff_json(kData + "/moe_unequal", kData + "/moe_unequal.sglang.flashinfer_trtllm.safetensors", 1);
  expect_holds(trt, kExperts);
  EXPECT_TRUE(module(trt, kExperts).at("unreconciled").empty());
  expect_up_halves_off(diff_json(kData + "/moe_unequal", kData + "/moe_unequal.sglang.flashinfer_cutlass.safetensors", 1),
                       kData + "/moe_unequal/model.safetensors", false);
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
  EXPECT_NE(r.err.find("sglang 0.5.23 refuses moe_runner_backend=cutlass"), std::string::npos) << r.err;
  // The trtllm dump read as flashinfer_cutlass: its shuffled rows decode wrongly.
  r = nvfp4({"diff", kData + "/moe", kData + "/moe.sglang.flashinfer_trtllm.safetensors", "--backend", "flashinfer_cutlass"});
  EXPECT_EQ(r.code, 1) << r.out;
}


// vLLM's three backends on equal scales, and trtllm with I padded (48 -> 64) and H padded to 256.
TEST(DiffVllmExperts, PassesWhereVllmIsRight) {
  for (std::string dump : {"moe.vllm.cutlass", "moe.vllm.flashinfer_cutlass", "moe.vllm.flashinfer_trtllm", "moe_odd.vllm.flashinfer_trtllm"}) {
    SCOPED_TRACE(dump);
    nlohmann::json j = diff_json(kData + "/" + dump.substr(0, dump.find(".vllm")), kData + "/" + dump + ".safetensors", 0);
    expect_holds(j, kExperts);
    EXPECT_TRUE(j.at("unread").empty()) << j.at("unread").dump();
  }
}

// vLLM 0.33.0 keeps one w13 global scale per expert, the gate's, on every backend: each expert's
// up half is off by gate / up, read from the checkpoint.
TEST(DiffVllmExperts, UpHalvesOffByGateOverUpOnEveryBackend) {
  for (std::string b : {"cutlass", "flashinfer_cutlass", "flashinfer_trtllm"}) {
    SCOPED_TRACE(b);
    expect_up_halves_off(diff_json(kData + "/moe_unequal", kData + "/moe_unequal.vllm." + b + ".safetensors", 1),
                         kData + "/moe_unequal/model.safetensors", false);
  }
}

// A byte in vLLM's hidden-size padding (H 128 -> 256: w13 columns 64..127 of each row are zero).
TEST(DiffVllmExperts, NonzeroHiddenPaddingIsALayoutMismatchOnly) {
  TempDir dir;
  std::string dump = planted(dir, "moe.vllm.flashinfer_trtllm.safetensors", [&](auto& t) {
    t.at(kExperts + ".routed_experts.w13_weight").data()[2 * 128 * 128 + 5 * 128 + 100] = 0x77;  // expert 2, row 5, byte 100
  });
  nlohmann::json j = diff_json(kData + "/moe", dump, 1);
  const auto& x = only_mismatch(j, kExperts, "layout");
  EXPECT_EQ(x.at("param"), "routed_experts.w13_weight");
  EXPECT_EQ(x.at("index"), "[2, 5, 100]");
  EXPECT_EQ(module(j, kExperts).at("semantic"), "ok");
}

// The activation scale vLLM's cutlass runner uses for expert 1 halved: the input scale and the
// alphas no longer agree with the checkpoint (a13 = the larger of the expert's gate and up).
TEST(DiffVllmExperts, WrongActivationScale) {
  TempDir dir;
  std::string dump = planted(dir, "moe.vllm.cutlass.safetensors", [&](auto& t) { t.at(kExperts + ".routed_experts.w13_input_scale").template data_as<float>()[1] *= 0.5f; });
  nlohmann::json j = diff_json(kData + "/moe", dump, 1);
  const auto& x = only_mismatch(j, kExperts, "semantic");
  EXPECT_EQ(x.at("param"), "routed_experts.w13_input_scale");
  EXPECT_EQ(x.at("index"), "[1]");
  EXPECT_NE(x.at("source").get<std::string>().find("off by a factor 0.5"), std::string::npos) << x.dump();
}

TEST(DiffCompressedTensorsExperts, PassesWhereSglangIsRight) {
  for (std::string b : {"flashinfer_cutlass", "flashinfer_trtllm"}) {
    SCOPED_TRACE(b);
    nlohmann::json j = diff_json(kData + "/ct_moe", kData + "/ct_moe.sglang." + b + ".safetensors", 0);
    expect_holds(j, kExperts);
    EXPECT_TRUE(j.at("unread").empty()) << j.at("unread").dump();
  }
}

// Encode scales: sglang decodes both halves with the gate's, f32(1 / gate), so each up half is off
// by f32(1 / gate) / f32(1 / up), from the checkpoint's raw encode scales; on trtllm too.
TEST(DiffCompressedTensorsExperts, UpHalvesDecodedWithTheGateScale) {
  for (std::string b : {"flashinfer_cutlass", "flashinfer_trtllm"}) {
    SCOPED_TRACE(b);
    expect_up_halves_off(diff_json(kData + "/ct_moe_unequal", kData + "/ct_moe_unequal.sglang." + b + ".safetensors", 1),
                         kData + "/ct_moe_unequal/model.safetensors", true);
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
  for (std::string b : {"cutlass", "flashinfer_cutlass", "flashinfer_trtllm"}) {
    SCOPED_TRACE(b);
    expect_holds(diff_json(kData + "/ct_moe", kData + "/ct_moe.vllm." + b + ".safetensors", 0), kExperts);
    expect_up_halves_off(diff_json(kData + "/ct_moe_unequal", kData + "/ct_moe_unequal.vllm." + b + ".safetensors", 1),
                         kData + "/ct_moe_unequal/model.safetensors", true);
  }
}

}  // namespace
}  // namespace nvfp4::diff_test

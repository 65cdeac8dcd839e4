// Checkpoint configs: every accepted way of declaring the quantization, the refusals, and the
// exclusion list (module mapping: module_map_test.cpp; `nvfp4 inspect`: tools/test/inspect_test.cpp).
#include <gtest/gtest.h>

#include <fstream>

#include "core/checkpoint.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "core/test/temp_dir.h"

namespace nvfp4 {
namespace {

// Every accepted way of declaring the quantization (docs/formats.md#checkpoint-declarations), and the refusals.
struct ConfigCase {
  std::string name, config_json, hf_quant_json;
  bool ok;
  CkptFormat format;
  std::vector<std::string> exclude;
  std::string error;
};

TEST(QuantConfig, AcceptedFormsAndRefusals) {
  const std::vector<ConfigCase> cases = {
      {"modelopt_flat", R"({"quantization_config": {"quant_method": "modelopt", "quant_algo": "NVFP4", "group_size": 16, "ignore": ["lm_head"]}})",
       "", true, CkptFormat::ModelOpt, {"lm_head"}, ""},
      {"modelopt_nested_hf", "{}", R"({"quantization": {"quant_algo": "NVFP4", "group_size": 16, "exclude_modules": ["*.mlp.gate", "lm_head"]}})",
       true, CkptFormat::ModelOpt, {"*.mlp.gate", "lm_head"}, ""},
      {"modelopt_config_groups", R"({"quantization_config": {"quant_method": "modelopt", "quant_algo": "NVFP4",
          "config_groups": {"group_0": {"weights": {"num_bits": 4, "type": "float", "group_size": 16}}}, "ignore": []}})",
       "", true, CkptFormat::ModelOpt, {}, ""},
      {"compressed_tensors", R"({"quantization_config": {"quant_method": "compressed-tensors", "format": "nvfp4-pack-quantized",
          "config_groups": {"g": {"weights": {"num_bits": 4, "group_size": 16}}}, "ignore": ["re:.*lm_head"]}})",
       "", true, CkptFormat::CompressedTensors, {"re:.*lm_head"}, ""},
      {"mixed_precision", "{}", R"({"quantization": {"quant_algo": "MIXED_PRECISION"}})", false, CkptFormat::ModelOpt, {},
       "quant_algo \"MIXED_PRECISION\" is not supported"},
      {"mxfp4_group_32", R"({"quantization_config": {"quant_method": "modelopt", "quant_algo": "NVFP4",
          "config_groups": {"group_0": {"weights": {"num_bits": 4, "group_size": 32}}}}})",
       "", false, CkptFormat::ModelOpt, {}, "group_size 32 is not NVFP4"},
      {"fp8_method", R"({"quantization_config": {"quant_method": "fp8"}})", "", false, CkptFormat::ModelOpt, {},
       "quant_method \"fp8\" is not NVFP4"},
      {"ct_format_mismatch", R"({"quantization_config": {"quant_method": "compressed-tensors", "format": "float-quantized"}})", "",
       false, CkptFormat::CompressedTensors, {}, "is not nvfp4-pack-quantized"},
      {"ignore_not_list", R"({"quantization_config": {"quant_method": "modelopt", "quant_algo": "NVFP4", "ignore": "lm_head"}})", "",
       false, CkptFormat::ModelOpt, {}, "must be a list of strings"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    TempDir d;
    write_safetensors(d.path() / "model.safetensors", {{"x", Tensor::zeros(DType::BF16, {2})}});
    std::ofstream(d.path() / "config.json") << c.config_json;
    if (!c.hf_quant_json.empty()) std::ofstream(d.path() / "hf_quant_config.json") << c.hf_quant_json;
    try {
      Checkpoint ck = Checkpoint::open(d.path());
      ASSERT_TRUE(c.ok) << "accepted";
      EXPECT_TRUE(ck.quant().present);
      EXPECT_EQ(ck.quant().format, c.format);
      EXPECT_EQ(ck.quant().exclude, c.exclude);
      EXPECT_EQ(ck.quant().group_size, 16);
    } catch (const Error& e) {
      ASSERT_FALSE(c.ok) << e.what();
      EXPECT_NE(std::string(e.what()).find(c.error), std::string::npos) << e.what();
    }
  }
}

TEST(QuantConfig, ExclusionWildcardsAndRegexes) {
  TempDir d;
  write_safetensors(d.path() / "model.safetensors", {{"x", Tensor::zeros(DType::BF16, {2})}});
  std::ofstream(d.path() / "config.json")
      << R"({"quantization_config": {"quant_method": "compressed-tensors", "ignore": ["lm_head", "re:.*mlp\\.gate$", "model.layers.1.*"]}})";
  Checkpoint c = Checkpoint::open(d.path());
  EXPECT_TRUE(c.excluded("lm_head"));
  EXPECT_TRUE(c.excluded("model.layers.0.mlp.gate"));
  EXPECT_FALSE(c.excluded("model.layers.0.mlp.gate_proj"));  // the regex is anchored
  EXPECT_TRUE(c.excluded("model.layers.1.self_attn.q_proj"));
  EXPECT_FALSE(c.excluded("model.layers.0.self_attn.q_proj"));
}

}  // namespace
}  // namespace nvfp4

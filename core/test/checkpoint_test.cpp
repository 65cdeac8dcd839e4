// Checkpoint discovery, module mapping, the block-scale summary and quantization configs (the
// `nvfp4 inspect` command on good and broken checkpoints: tools/test/inspect_test.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>

#include "core/checkpoint.h"
#include "core/checkpoint_writer.h"
#include "core/codecs.h"
#include "core/error.h"
#include "core/module_map.h"
#include "core/scale_summary.h"
#include "core/safetensors.h"
#include "core/test/small_model.h"
#include "core/test/temp_dir.h"

namespace nvfp4 {
namespace {
namespace fs = std::filesystem;

WriterOptions small() { return small_model(); }

TEST(ModuleMap, UnfusedModelOptMapsShardsAndGqaSizes) {
  TempDir d;
  WriterOptions o = small();
  write_checkpoint(d.path(), generate_checkpoint(o), 1);
  Checkpoint c = Checkpoint::open(d.path());
  ModelSpec s = map_modules(c);
  EXPECT_EQ(s.format, CkptFormat::ModelOpt);
  ASSERT_EQ(s.linears.size(), 4u);
  const LinearSpec& qkv = s.linears[3];
  EXPECT_EQ(qkv.name, "model.layers.0.self_attn.qkv_proj");
  EXPECT_EQ(qkv.shard_ids, (std::vector<std::string>{"q", "k", "v"}));
  EXPECT_EQ(qkv.shard_rows, (std::vector<std::int64_t>{64, 32, 32}));  // 4 heads, 2 kv heads, dim 16
  EXPECT_FALSE(qkv.fused_on_disk);
  const LinearSpec& gu = s.linears[1];
  EXPECT_EQ(gu.name, "model.layers.0.mlp.gate_up_proj");
  EXPECT_EQ(gu.shard_rows, (std::vector<std::int64_t>{96, 96}));
  EXPECT_EQ(gu.prefixes[0], "model.layers.0.mlp.gate_proj");
  EXPECT_TRUE(std::find(s.passthrough.begin(), s.passthrough.end(), "lm_head.weight") != s.passthrough.end());
}

TEST(ModuleMap, FusedCompressedTensorsShardedMapsWholeTensors) {
  TempDir d;
  WriterOptions o = small();
  o.fused = true;
  o.format = CkptFormat::CompressedTensors;
  write_checkpoint(d.path(), generate_checkpoint(o), 3);
  Checkpoint c = Checkpoint::open(d.path());
  EXPECT_EQ(c.file_count(), 3u);
  ModelSpec s = map_modules(c);
  EXPECT_EQ(s.format, CkptFormat::CompressedTensors);
  const LinearSpec& qkv = s.linears[3];
  EXPECT_TRUE(qkv.fused_on_disk);
  EXPECT_EQ(qkv.prefixes, (std::vector<std::string>{"model.layers.0.self_attn.qkv_proj"}));
  EXPECT_EQ(qkv.shard_rows, (std::vector<std::int64_t>{64, 32, 32}));  // split by config.json
}

TEST(ModuleMap, ExpertsGroupW1W3W2) {
  TempDir d;
  WriterOptions o = small();
  o.experts = 3;
  write_checkpoint(d.path(), generate_checkpoint(o), 2);
  ModelSpec s = map_modules(Checkpoint::open(d.path()));
  ASSERT_EQ(s.experts.size(), 1u);
  EXPECT_EQ(s.experts[0].name, "model.layers.0.mlp.experts");
  EXPECT_EQ(s.experts[0].E, 3);
  EXPECT_EQ(s.experts[0].H, 64);
  EXPECT_EQ(s.experts[0].I, 96);
  EXPECT_EQ(s.experts[0].prefixes[2][2], "model.layers.0.mlp.experts.2.down_proj");
}

TEST(ScaleSummary, AmaxIsTheQuantizersAndEveryBlockIsCounted) {
  // ModelOpt's export sets s2 = amax / (6 * 448), so the block holding a weight's amax gets scale
  // 448 and the element itself code 6: the dequantized maximum is 6 * 448 * s2 exactly (a fused
  // group shares one amax, hence one s2, when the shard scales are equal).
  TempDir d;
  write_checkpoint(d.path(), generate_checkpoint(small()), 1);
  const Checkpoint c = Checkpoint::open(d.path());
  const ModelSpec spec = map_modules(c);
  const auto sums = scale_summaries(c, spec);
  ASSERT_EQ(sums.size(), spec.linears.size() + spec.experts.size());
  for (std::size_t i = 0; i < spec.linears.size(); ++i) {
    const auto& l = spec.linears[i];
    double s2 = 0;
    for (const auto& p : l.prefixes) s2 = std::max(s2, static_cast<double>(c.tensor(p + ".weight_scale_2").get_f32(0)));
    EXPECT_EQ(sums[i].module, l.name);
    EXPECT_EQ(sums[i].amax, 2688.0 * s2) << l.name;
    EXPECT_EQ(sums[i].blocks, l.N() * l.K / 16) << l.name;
    std::int64_t total = 0;
    for (auto n : sums[i].exponents) total += n;
    EXPECT_EQ(total, sums[i].blocks) << l.name;
    EXPECT_GT(sums[i].exponents[15], 0) << "the amax block's 448 is in the top binade: " << l.name;
  }
}

TEST(ScaleSummary, HistogramGlyphs) {
  // 9 levels by share of the largest bucket: v * 9 - 1 over the top, floored.
  std::array<std::int64_t, 16> h{};
  h[1] = 1, h[2] = 9, h[3] = 10, h[4] = 50, h[5] = 100, h[15] = 12;
  // by hand: 0 -> ' ', 1, 9, 10 -> 8/100, 80/100, 89/100 = 0 '.', 50 -> 449/100 = 4 '+', 100 -> 8 '@',
  // nine empty, 12 -> 107/100 = 1 ':'
  EXPECT_EQ(histogram_glyphs(h), " ...+@         :");
  EXPECT_EQ(histogram_glyphs({}), std::string(16, ' '));
}

}  // namespace
}  // namespace nvfp4

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

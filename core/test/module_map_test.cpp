// Module mapping on checkpoints whose names and shapes are written here by hand, so that the
// naming rules are checked against the formats' own spelling rather than against our writer's
// (the writer's names through the mapping: generator/test/writer_mapping_test.cpp). Only names,
// dtypes and shapes matter to map_modules: every tensor is zeros.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/checkpoint.h"
#include "core/error.h"
#include "core/module_map.h"
#include "core/safetensors.h"
#include "core/test/temp_dir.h"

namespace nvfp4 {
namespace {

class HandCheckpoint {
 public:
  explicit HandCheckpoint(CkptFormat f) : ct_(f == CkptFormat::CompressedTensors) {}
  // The four tensors of one quantized module as the format names them: ModelOpt's
  // weight/weight_scale/weight_scale_2/input_scale, compressed-tensors' weight_packed/weight_scale/
  // weight_global_scale/input_global_scale.
  HandCheckpoint& quantized(const std::string& prefix, std::int64_t N, std::int64_t K) {
    add(prefix + (ct_ ? ".weight_packed" : ".weight"), Tensor::zeros(DType::U8, {N, K / 2}));
    add(prefix + ".weight_scale", Tensor::zeros(DType::F8_E4M3, {N, K / 16}));
    add(prefix + (ct_ ? ".weight_global_scale" : ".weight_scale_2"), Tensor::scalar_f32(1.0f));
    add(prefix + (ct_ ? ".input_global_scale" : ".input_scale"), Tensor::scalar_f32(1.0f));
    return *this;
  }
  HandCheckpoint& plain(const std::string& name, Shape shape) {
    add(name, Tensor::zeros(DType::BF16, std::move(shape)));
    return *this;
  }
  nlohmann::json config = nlohmann::json::object();

  // Tensor i goes to file i % files; more than one file gets an index.
  Checkpoint write(const std::filesystem::path& dir, int files = 1) const {
    std::vector<std::vector<TensorToWrite>> parts(static_cast<std::size_t>(files));
    nlohmann::json weight_map = nlohmann::json::object();
    for (std::size_t i = 0; i < tensors_.size(); ++i) {
      parts[i % parts.size()].push_back(tensors_[i]);
      weight_map[tensors_[i].name] = file_name(static_cast<int>(i % parts.size()), files);
    }
    for (int f = 0; f < files; ++f) write_safetensors(dir / file_name(f, files), parts[static_cast<std::size_t>(f)]);
    if (files > 1) std::ofstream(dir / "model.safetensors.index.json") << nlohmann::json{{"metadata", nlohmann::json::object()}, {"weight_map", weight_map}}.dump();
    std::ofstream(dir / "config.json") << config.dump();
    return Checkpoint::open(dir);
  }

 private:
  static std::string file_name(int f, int files) {
    return files == 1 ? "model.safetensors" : "model-0000" + std::to_string(f + 1) + "-of-0000" + std::to_string(files) + ".safetensors";
  }
  void add(const std::string& name, Tensor t) { tensors_.push_back({name, std::move(t)}); }
  bool ct_;
  std::vector<TensorToWrite> tensors_;
};

// One decoder layer of H = 64 (4 attention heads of 16, 2 KV heads) and I = 96.
constexpr std::int64_t H = 64, I = 96;
const std::string L = "model.layers.0";

TEST(ModuleMap, UnfusedModelOptMapsShardsAndGqaSizes) {
  TempDir d;
  HandCheckpoint h(CkptFormat::ModelOpt);
  h.plain("model.embed_tokens.weight", {64, H}).plain("lm_head.weight", {64, H});
  h.quantized(L + ".self_attn.q_proj", 64, H).quantized(L + ".self_attn.k_proj", 32, H).quantized(L + ".self_attn.v_proj", 32, H);
  h.quantized(L + ".self_attn.o_proj", H, 64);
  h.quantized(L + ".mlp.gate_proj", I, H).quantized(L + ".mlp.up_proj", I, H).quantized(L + ".mlp.down_proj", H, I);
  const ModelSpec s = map_modules(h.write(d.path()));
  EXPECT_EQ(s.format, CkptFormat::ModelOpt);
  ASSERT_EQ(s.linears.size(), 4u);  // sorted: down, gate_up, o, qkv
  const LinearSpec& qkv = s.linears[3];
  EXPECT_EQ(qkv.name, L + ".self_attn.qkv_proj");
  EXPECT_EQ(qkv.shard_ids, (std::vector<std::string>{"q", "k", "v"}));
  EXPECT_EQ(qkv.shard_rows, (std::vector<std::int64_t>{64, 32, 32}));
  EXPECT_EQ(qkv.K, H);
  EXPECT_FALSE(qkv.fused_on_disk);
  const LinearSpec& gu = s.linears[1];
  EXPECT_EQ(gu.name, L + ".mlp.gate_up_proj");
  EXPECT_EQ(gu.shard_ids, (std::vector<std::string>{"0", "1"}));
  EXPECT_EQ(gu.shard_rows, (std::vector<std::int64_t>{I, I}));
  EXPECT_EQ(gu.prefixes, (std::vector<std::string>{L + ".mlp.gate_proj", L + ".mlp.up_proj"}));
  EXPECT_EQ(s.linears[0].name, L + ".mlp.down_proj");
  EXPECT_EQ(s.linears[0].shard_ids, (std::vector<std::string>{"0"}));
  EXPECT_EQ(s.passthrough, (std::vector<std::string>{"lm_head.weight", "model.embed_tokens.weight"}));
}

TEST(ModuleMap, FusedCompressedTensorsShardedMapsWholeTensors) {
  TempDir d;
  HandCheckpoint h(CkptFormat::CompressedTensors);
  h.config = {{"hidden_size", H}, {"num_attention_heads", 4}, {"num_key_value_heads", 2}, {"head_dim", 16}};
  h.quantized(L + ".self_attn.qkv_proj", 128, H).quantized(L + ".self_attn.o_proj", H, 64);
  h.quantized(L + ".mlp.gate_up_proj", 2 * I, H).quantized(L + ".mlp.down_proj", H, I);
  const Checkpoint c = h.write(d.path(), 3);
  EXPECT_EQ(c.file_count(), 3u);
  const ModelSpec s = map_modules(c);
  EXPECT_EQ(s.format, CkptFormat::CompressedTensors);
  ASSERT_EQ(s.linears.size(), 4u);
  const LinearSpec& qkv = s.linears[3];
  EXPECT_TRUE(qkv.fused_on_disk);
  EXPECT_EQ(qkv.prefixes, (std::vector<std::string>{L + ".self_attn.qkv_proj"}));
  EXPECT_EQ(qkv.shard_rows, (std::vector<std::int64_t>{64, 32, 32}));  // split by config.json
  const LinearSpec& gu = s.linears[1];
  EXPECT_TRUE(gu.fused_on_disk);
  EXPECT_EQ(gu.shard_rows, (std::vector<std::int64_t>{I, I}));  // two halves
  EXPECT_TRUE(s.passthrough.empty());
}

// Experts of one layer under each spelling of the roles: Qwen-MoE's and DeepSeek's *_proj
// names, Mixtral's w1/w3/w2 (block_sparse_moe.experts.<e>.w1).
TEST(ModuleMap, ExpertsGroupByRoleWhicheverNameTheyGoBy) {
  for (const bool mixtral : {false, true}) {
    SCOPED_TRACE(mixtral ? "w1/w3/w2" : "gate_proj/up_proj/down_proj");
    TempDir d;
    HandCheckpoint h(CkptFormat::ModelOpt);
    const std::string m = L + (mixtral ? ".block_sparse_moe.experts" : ".mlp.experts");
    const char* gate = mixtral ? "w1" : "gate_proj";
    const char* up = mixtral ? "w3" : "up_proj";
    const char* down = mixtral ? "w2" : "down_proj";
    for (int e = 0; e < 3; ++e) {
      const std::string x = m + "." + std::to_string(e) + ".";
      h.quantized(x + down, H, I).quantized(x + gate, I, H).quantized(x + up, I, H);
    }
    const ModelSpec s = map_modules(h.write(d.path()));
    EXPECT_TRUE(s.linears.empty());
    ASSERT_EQ(s.experts.size(), 1u);
    const ExpertsSpec& x = s.experts[0];
    EXPECT_EQ(x.name, m);
    EXPECT_EQ(x.E, 3);
    EXPECT_EQ(x.H, H);
    EXPECT_EQ(x.I, I);
    ASSERT_EQ(x.prefixes.size(), 3u);
    EXPECT_EQ(x.prefixes[2][ExpertRole::Gate], m + ".2." + gate);
    EXPECT_EQ(x.prefixes[2][ExpertRole::Up], m + ".2." + up);
    EXPECT_EQ(x.prefixes[2][ExpertRole::Down], m + ".2." + down);
  }
}

TEST(ModuleMap, ARoleStoredUnderBothNamesIsRefused) {
  TempDir d;
  HandCheckpoint h(CkptFormat::ModelOpt);
  const std::string x = L + ".mlp.experts.0.";
  h.quantized(x + "gate_proj", I, H).quantized(x + "w1", I, H).quantized(x + "up_proj", I, H).quantized(x + "down_proj", H, I);
  const Checkpoint c = h.write(d.path());
  try {
    (void)map_modules(c);
    FAIL() << "mapped";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("expert 0 w1 also stored as " + x + "gate_proj"), std::string::npos) << e.what();
  }
}

TEST(ModuleMap, RoleNamesAreTheTablesBothWays) {
  for (const ExpertRole r : kExpertRoles) {
    EXPECT_EQ(expert_role(role_names(r).shard_id), r);
    EXPECT_EQ(expert_role(role_names(r).proj), r);
  }
  EXPECT_EQ(role_names(ExpertRole::Gate).shard_id, "w1");
  EXPECT_EQ(role_names(ExpertRole::Up).shard_id, "w3");
  EXPECT_EQ(role_names(ExpertRole::Down).shard_id, "w2");
  EXPECT_FALSE(expert_role("gate"));    // the router
  EXPECT_FALSE(expert_role("w13"));
}

}  // namespace
}  // namespace nvfp4

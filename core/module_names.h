// The naming rules of checkpoint modules, as data: which projections load into one fused module
// (q/k/v -> qkv_proj, gate/up -> gate_up_proj), and the names an MoE expert's three projections go
// by. map_modules (core/module_map.cpp) reads these tables; code that walks an expert's projections
// names them by ExpertRole, never by a bare index.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace nvfp4 {

// An MoE expert's projections, in the order ExpertsSpec::prefixes[e] holds them.
enum class ExpertRole : std::uint8_t { Gate, Up, Down };
inline constexpr std::array<ExpertRole, 3> kExpertRoles{ExpertRole::Gate, ExpertRole::Up, ExpertRole::Down};
constexpr std::size_t role_index(ExpertRole r) { return static_cast<std::size_t>(r); }

// A role's two spellings in checkpoints: vLLM's expert shard id, which Mixtral's checkpoints use
// as the module name, and the *_proj name of Qwen-MoE and DeepSeek checkpoints. vLLM maps the one
// onto the other in FusedMoE.make_expert_params_mapping
// (vllm/model_executor/layers/fused_moe/layer.py): gate_proj -> w1, up_proj -> w3, down_proj -> w2.
struct ExpertRoleNames {
  ExpertRole role;
  std::string_view shard_id;  // w1, w3, w2
  std::string_view proj;      // gate_proj, up_proj, down_proj
};
inline constexpr std::array<ExpertRoleNames, 3> kExpertRoleNames{{
    {ExpertRole::Gate, "w1", "gate_proj"},
    {ExpertRole::Up, "w3", "up_proj"},
    {ExpertRole::Down, "w2", "down_proj"},
}};
constexpr const ExpertRoleNames& role_names(ExpertRole r) { return kExpertRoleNames[role_index(r)]; }
// The role a checkpoint module leaf ("gate_proj", "w1", ...) names; nullopt for any other leaf.
std::optional<ExpertRole> expert_role(std::string_view leaf);

// Projections stored apart in a checkpoint that the engines load into one module: vLLM's
// packed_modules_mapping, with the shard ids of its stacked_params_mapping
// (vllm/model_executor/models/llama.py: (".qkv_proj", ".q_proj", "q"), (".gate_up_proj",
// ".gate_proj", 0), ...). A checkpoint may also store the fused module whole.
struct FusedShard {
  std::string_view leaf;  // "q_proj"
  std::string_view id;    // "q"
};
// How the rows of a module stored fused on disk divide into its shards.
enum class FusedSplit {
  AttentionHeads,  // q, k, v rows from config.json's head counts (grouped-query attention)
  Halves,          // two shards of equal rows
};
struct Fusion {
  std::string_view parent;      // the owning module's last component, with its dot: ".self_attn"
  std::string_view fused_leaf;  // "qkv_proj"
  std::span<const FusedShard> shards;
  FusedSplit split;
};
std::span<const Fusion> fusions();

}  // namespace nvfp4

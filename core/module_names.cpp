#include "core/module_names.h"

namespace nvfp4 {

std::optional<ExpertRole> expert_role(std::string_view leaf) {
  for (const auto& n : kExpertRoleNames)
    if (leaf == n.shard_id || leaf == n.proj) return n.role;
  return std::nullopt;
}

namespace {
constexpr FusedShard kQkv[] = {{"q_proj", "q"}, {"k_proj", "k"}, {"v_proj", "v"}};
constexpr FusedShard kGateUp[] = {{"gate_proj", "0"}, {"up_proj", "1"}};
constexpr Fusion kFusions[] = {
    {".self_attn", "qkv_proj", kQkv, FusedSplit::AttentionHeads},
    {".mlp", "gate_up_proj", kGateUp, FusedSplit::Halves},
};
}  // namespace

std::span<const Fusion> fusions() { return kFusions; }

}  // namespace nvfp4

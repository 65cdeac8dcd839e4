// Module mapping from tensor names (docs/formats.md#module-mapping): q/k/v -> qkv_proj, gate/up -> gate_up_proj,
// experts.<e>.{gate,up,down}_proj (or w1/w3/w2) -> experts; names fused on disk load whole. The
// naming rules are the tables of core/module_names.h. Shapes and dtypes are validated here, so
// every later stage can trust them.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/checkpoint.h"
#include "core/module_names.h"

namespace nvfp4 {

// Tensor-name suffixes of one on-disk format, in ModelOpt's meaning order.
struct FormatNames {
  std::string weight, weight_scale, weight_scale_2, input_scale;
  bool encode_scales;  // compressed-tensors stores reciprocals (global *encode* scales)
};
const FormatNames& format_names(CkptFormat f);

struct LinearSpec {
  std::string name;                     // module name, e.g. model.layers.0.self_attn.qkv_proj
  std::vector<std::string> shard_ids;   // {"q","k","v"}, {"0","1"} or {"0"}
  std::vector<std::int64_t> shard_rows; // N_i
  std::int64_t K = 0;
  bool fused_on_disk = false;           // one tensor (and one scalar) covers every shard
  std::vector<std::string> prefixes;    // on-disk prefixes: one per shard, or one when fused
  bool has_input_scale = true;
  std::int64_t N() const;               // sum of shard_rows
};

// One expert's checkpoint prefixes, indexed by role (ps[ExpertRole::Up]).
struct RolePrefixes : std::array<std::string, 3> {
  using std::array<std::string, 3>::operator[];
  std::string& operator[](ExpertRole r) { return (*this)[role_index(r)]; }
  const std::string& operator[](ExpertRole r) const { return (*this)[role_index(r)]; }
};

struct ExpertsSpec {
  std::string name;                     // e.g. model.layers.0.mlp.experts
  std::int64_t E = 0, H = 0, I = 0;
  std::vector<RolePrefixes> prefixes;   // per expert
  bool has_input_scale = true;
  // Set when the checkpoint view holds a chunk of a layer's experts (Checkpoint::
  // experts_input_maxima): the layer's maxima, which both pipelines then use in place of the
  // chunk's own.
  std::optional<ExpertsInputMaxima> layer_input_maxima;
};

struct ModelSpec {
  CkptFormat format = CkptFormat::ModelOpt;
  std::vector<LinearSpec> linears;
  std::vector<ExpertsSpec> experts;
  std::vector<std::string> passthrough;  // tensors that are not part of a quantized module
};

ModelSpec map_modules(const Checkpoint& ckpt);

// One unit of streaming work: a linear module or one experts module, with the names of
// every checkpoint tensor it reads. map_modules(ckpt.subset(u.tensors)) maps exactly that module.
struct ModuleUnit {
  std::string name;
  bool experts = false;
  std::vector<std::string> tensors;
  std::uint64_t bytes = 0;  // on disk
  // A chunk of one layer's experts (max_experts_bytes): experts [first_expert, first_expert + n)
  // seen under `renamed` names, renumbered from 0 (Checkpoint::renamed_subset), so the chunk is an
  // experts module of its own. Empty for whole modules.
  std::vector<std::string> renamed;
  std::int64_t first_expert = 0;
  std::string module;  // the spec's module: name, or for a chunk the layer's experts module
};
// In the order of spec.linears, then spec.experts. With max_experts_bytes > 0, a layer's experts
// larger than that are split into chunks of whole experts (at least one each).
std::vector<ModuleUnit> module_units(const Checkpoint& ckpt, const ModelSpec& spec, std::uint64_t max_experts_bytes = 0);
// The view of `c` that one unit loads: its tensors (a chunk renumbered from 0). A chunk also
// carries its layer's input-scale maxima (experts_layer_input_maxima), so that it processes and
// multiplies to the same bytes as the same experts of the whole layer.
Checkpoint unit_view(const Checkpoint& c, const ModelSpec& spec, const ModuleUnit& u);
// The maxima over all of x's experts of the decoded input scales (F32 or BF16; compressed-tensors'
// stored reciprocals inverted), folded in expert order, gate before up. nullopt without input scales.
std::optional<ExpertsInputMaxima> experts_layer_input_maxima(const Checkpoint& c, const ExpertsSpec& x, CkptFormat f);
// What a report's table says a module is: "linear", "linear xN" (N shards), "experts xE"; "" for a
// name the spec does not hold.
std::string module_kind(const ModelSpec& spec, const std::string& module);
// A reload may change the layout on disk (fused or not, format, files) but not a module's shape:
// BadInput naming `dir` and the module otherwise.
void require_same_structure(const ModelSpec& loaded, const ModelSpec& incoming, const std::string& dir);

}  // namespace nvfp4

// An engine's NVFP4 post-processing conventions as data: one table per engine
// (conventions_sglang*.cpp, conventions_vllm.cpp), each row keyed by (release range, checkpoint
// format, backend) and citing the upstream code it was read off. diff_linear and diff_experts
// decode a dump through the row releases.h resolves; the answers (a backend the release refuses,
// conventions not decoded) sit in the same table. What each release holds, release by release, is
// in docs/engine-releases.md.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/checkpoint.h"
#include "tools/diff/engine_dump.h"
#include "tools/diff/module_diff.h"

namespace nvfp4::diff {

enum class MoeBackend { Cutlass, FlashinferCutlass, Trtllm };
std::string moe_backend_name(MoeBackend b);

struct ReleaseRange {
  std::string first, last;  // inclusive, both in the engine's known releases
};

// --- scalars: how each f32 parameter the engine derives is formed from the checkpoint's scales.

enum class When { Always, WithInputScales };  // WithInputScales: only where the checkpoint has input scales
// Slots, and the label each carries in a report: One (0-dim or [1]); PerShard ("q", "0");
// PerExpert ("expert 3"); PerExpertHalf ([E, 2] flattened, gate then up, no label).
enum class Slots { One, PerShard, PerExpert, PerExpertHalf };

// Linear. ModelOpt (decode scales): per shard s2 (weight_scale_2) and in (input_scale, 1 without);
// compressed-tensors: the encode scales on disk (weight_global_scale, input_global_scale). Every
// product and quotient is f32.
enum class LinearQuantity {
  MaxInputTimesMaxWeight,  // max in x max s2
  InvMaxInput,             // 1 / max in
  MaxWeight,               // max s2
  MaxInput,                // max in
  ShardWeight,             // each shard's s2
  ShardInputOr1,           // each shard's in, 1.0 where the checkpoint has none
  MaxWeightEnc,            // the largest weight encode scale
  MaxInputEnc,             // the largest input encode scale
  InvMaxWeightEnc,         // 1 / the largest weight encode scale
  InvMaxInputEnc,          // 1 / the largest input encode scale
  InvOfMaxEncProduct,      // 1 / (max input enc x max weight enc)
  ProductOfInvMaxEnc,      // (1 / max input enc) x (1 / max weight enc)
};

// Experts. ModelOpt (decode scales, per expert): gate, up, w2 weight_scale_2; a13 and a2, the
// activation scales the kernel applies (ExpertsConvention::activation: the larger of the expert's
// gate and up input scales, or the max over every expert; 1 without input scales).
// Compressed-tensors (encode scales on disk): a13 and a2 are the *smallest* input encode scales of
// the expert or over every expert; the weight scale is the gate's for both halves.
enum class ExpertsQuantity {
  A13, A2,                  // the activation decode scales
  InvA13, InvA2,            // 1 / a13, 1 / a2
  GateTimesA13,             // g1 alpha: gate s2 x a13
  UpTimesA13,               // the up half's alpha: up s2 x a13
  W2TimesA2,                // g2 alpha: w2 s2 x a2
  G1TimesInvA2,             // (gate s2 x a13) x 1 / a2
  G1UpTimesInvA2,           // 1 / a2 x (up s2 x a13)
  HalfWeight,               // each half's s2, as loaded
  HalfWeightUpGate,         // each half's s2 in the columns a loader that swaps w1 and w3 writes: [up, gate]
  W2Weight,                 // w2's s2, as loaded
  EitherHalfInput,          // each w13 slot: either half's input scale (whichever loaded last)
  W2Input,                  // w2's input scale, as loaded
  InvGateEnc, InvW2Enc,     // 1 / gate enc, 1 / w2 enc
  MinEnc13, MinEnc2,        // a13, a2 (encode)
  EncG1,                    // (1 / a13) x (1 / gate enc)
  EncG2,                    // (1 / a2) x (1 / w2 enc)
  EncScaleC,                // a2 x EncG1
  HalfWeightEnc, W2WeightEnc,  // the weight encode scales, as on disk
  HalfInputEnc, W2InputEnc,    // the input encode scales, as on disk (HalfInputEnc: each slot its own half's)
};

template <class Quantity>
struct ScalarRule {
  std::string name;  // under the module (and the row's prefix)
  Quantity quantity;
  Verdict verdict;   // semantic: what a GEMM multiplies by; layout: copies kept for a reload
  Slots slots;
  When when;
  std::string what;  // how the report names the value
};
using LinearScalar = ScalarRule<LinearQuantity>;
using ExpertsScalar = ScalarRule<ExpertsQuantity>;

// --- linear modules

enum class LoadedScales {
  None,                   // the loaded block scales are replaced by the swizzle
  AliasWhereShapesAgree,  // kept under loaded_scales: the swizzled bytes where the shapes agree, else as loaded
  AsLoaded,               // kept under loaded_scales as loaded, the swizzle a Parameter of its own
};

// Where a fused-on-disk checkpoint's one per-tensor scale goes (a module whose shards share one
// tensor on disk): into every shard slot, or into slot 0 only, the other slots left as created
// (torch.empty) and read by the max the engine derives its scalars from.
enum class FusedScales { EverySlot, SlotZeroOnly };

struct LinearConvention {
  Engine engine;
  ReleaseRange releases;
  CkptFormat format;
  std::string backends;      // the dense FP4 GEMM runners that share this layout (diff cannot tell them apart)
  std::string weight;        // the packed E2M1 weight
  std::int64_t weight_align; // N and K padded with zeros to multiples of this; 1: unpadded
  std::string swizzled;      // the 128x4 swizzle of the loaded block scales, rows padded to 128 of the unpadded N
  std::string loaded_scales; // where the loaded block scales stay ("" with LoadedScales::None)
  LoadedScales loaded;
  std::vector<LinearScalar> scalars;  // checked in this order
  std::string cite;          // upstream FILE:LINE@VERSION (package-relative), first · last
  // SlotZeroOnly: a fused-on-disk module fails, naming the per-tensor slots left unwritten (the
  // engine may have deleted them: its derived scalars hold whatever the max read).
  FusedScales fused_scales = FusedScales::EverySlot;
  std::string fused_cite = {};  // the loader that writes slot 0 only
};

// --- experts modules

enum class W13Order { GateFirst, UpFirst };  // w13's rows per expert: [w1; w3] or [w3; w1]
enum class ExpertsLayout {
  Swizzle128x4,      // rows as `order` says, block scales 128x4-swizzled per expert
  FlashinferTrtllm,  // each half padded to Ip, FlashInfer's gated reorder and row shuffle
                     // (epilogue tile 128), then the 128x4 swizzle of the shuffled scales
};
// The global scale the engine's alphas apply to w13's halves: the gate's to both, each half its own,
// the up's to both, or each half the other's.
enum class W13Scales { GateForBoth, EachOwn, UpForBoth, Swapped };
enum class ActivationScale { PerExpert, OverEveryExpert };
enum class IntermediatePad { PerHalf, Tail };

struct LayoutName {
  std::string dump, reference;  // the dump's name, and the reference post-processing's for the same bytes
};

struct ExpertsConvention {
  Engine engine;
  ReleaseRange releases;
  CkptFormat format;
  MoeBackend backend;
  std::string prefix;          // parameters under the module: "" or "routed_experts."
  std::string w13, w2;         // the packed weights
  std::string swz13, swz2;     // the swizzled block scales the kernel reads
  std::vector<LayoutName> layout;  // compared byte for byte, in this order
  // The loaded *_weight_scale: the swizzle aliased onto it where the shapes agree (the reference's
  // default), or kept as loaded, in the stored row order, beside a swizzle of its own (AsLoaded).
  LoadedScales loaded = LoadedScales::AliasWhereShapesAgree;
  W13Order order;
  ExpertsLayout shuffle;
  std::int64_t hidden_align;   // H padded to this with zero w13 columns and w2 rows first; 1: none
  // 1: I unpadded. Else each w13 half holds Ip rows, read off the dump's shape: at least I and a
  // multiple of this (engines pad to 64 or 128).
  std::int64_t intermediate_align;
  // How the Ip - I padding rows sit in w13: after each half ([w3; 0; w1; 0]), or all after the
  // two unpadded halves ([w3; w1; 0; 0]: the padded tensor's "halves" straddle w3 and w1).
  IntermediatePad intermediate_pad = IntermediatePad::PerHalf;
  W13Scales w13_scales;
  ActivationScale activation;
  std::vector<ExpertsScalar> scalars;  // checked in this order
  // Parameters the release registers that this backend never reads (never written at all, like
  // sglang 0.5.10.post1's trtllm *_blockscale_swizzled, or written and unread, like g1_alphas_up
  // off trtllm): reported by name as unused placeholders, not checked, not failed.
  std::vector<std::string> placeholders = {};
  std::string cite;
  // Other backends this row decodes: the release runs the same post-processing and kernel for them
  // (sglang's compressed-tensors experts: every backend but trtllm).
  std::vector<MoeBackend> also = {};
};

// --- what diff does for a release: decode it through the rows above, or stop.

enum class Support { Decoded, Refused, NotDecoded };
struct ReleaseRule {
  Engine engine;
  std::string first, last;             // the release range the row holds for, inclusive
  std::optional<MoeBackend> backend;   // the experts' backend; none: every module and backend
  Support support;
  std::string why;                     // for Refused and NotDecoded: what the release does
  std::string cite;                    // upstream FILE:LINE@VERSION (package-relative), first · last
  std::optional<CkptFormat> format = std::nullopt;  // the checkpoint format it answers for; none: every format
};

struct EngineConventions {
  Engine engine;
  std::vector<std::string> releases;   // every known release, oldest first
  std::vector<LinearConvention> linear;
  std::vector<ExpertsConvention> experts;
  // Refused or NotDecoded. A row with a backend answers for that backend's experts before any
  // conventions row; one without answers where no conventions row decodes the release.
  std::vector<ReleaseRule> answers;
};

const EngineConventions& sglang_conventions();
const EngineConventions& vllm_conventions();
const EngineConventions& conventions(Engine e);

}  // namespace nvfp4::diff

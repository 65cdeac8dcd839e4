// The decoders diff_linear and diff_experts share: where a module row comes from in the
// checkpoint, an engine's E2M1 codes and block scales decoded through its stored row order and
// compared with the checkpoint's, byte-for-byte layout checks, the places of the 128x4 layout, and
// the value strings reports print.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "tools/diff/module_diff.h"

namespace nvfp4::diff {

// --- one block scale

enum class BlockMatch {
  Same,        // the checkpoint's byte, and the engine applies the shard's own global scale
  Reconciled,  // e4m3_satfinite(S * f32(own / applied)): within the E4M3 rounding of a reconcile
  Raw,         // the checkpoint's byte under another global scale: off by applied / own
  Differs,     // anything else
};
// ckpt: the checkpoint's byte (decoded under `own`); eng: the engine's (decoded under `applied`).
// The reconcile is vLLM's f32 order (reference/reconcile.h): the factor, the product, then E4M3.
BlockMatch match_block(std::uint8_t ckpt, std::uint8_t eng, float own, float applied);

std::string scale_str(std::uint8_t e4m3_byte);  // "0.125 (0x20)"
std::string code_str(std::uint8_t e2m1_code);   // "code 0x3 (1.5)"

// --- the 128x4 layout (docs/formats.md#the-128x4-block-scale-layout: m = 128 mT + 32 i + j,
// k = 4 kT + kk, stored in the order mT, kT, j, i,
// kk), so that a report names the engine's index and the checkpoint's row and k-block of the same
// byte. Only for messages: which bytes are compared comes from the reference's swizzle.

// The flat offset of logical (m, k) in a swizzled [Mp, Kp] tensor.
std::int64_t swizzled_offset(std::int64_t m, std::int64_t k, std::int64_t Kp);
// The logical (m, k) stored at a flat offset.
std::pair<std::int64_t, std::int64_t> unlocate_swizzled(std::int64_t offset, std::int64_t Mp, std::int64_t Kp);

// --- rows

// Where one logical row of a module comes from in the checkpoint: the tensor, its row there, and
// its scale group, the global scale its blocks decode under (linear: the shard; experts: 2 x
// expert + half for w13, the expert for w2).
struct RowSource {
  std::string tensor;
  std::int64_t row = -1;
  std::size_t group = 0;
};

// One projection as the engine stores it: `experts` x N logical rows of K codes; logical row r of
// expert x at stored row stored[r] of that expert's rows ([E, R, C] tensors when per_expert, [R, C]
// otherwise, where every index a report prints starts with the expert).
struct RowMap {
  std::int64_t experts = 1;
  bool per_expert = false;
  std::int64_t N = 0, K = 0;
  std::vector<std::int64_t> stored;  // empty: row r is stored at r
  std::function<RowSource(std::int64_t x, std::int64_t r, bool scales)> source;
  std::int64_t at(std::int64_t r) const { return stored.empty() ? r : stored[static_cast<std::size_t>(r)]; }
};

// The tensors of one projection and the global scales its blocks decode under.
struct Projection {
  RowMap rows;
  std::string weight, scales;    // the dump's names, as mismatches carry them
  Tensor ckpt_weight;            // the checkpoint's packed rows [experts x N, K/2], as loaded
  Tensor ckpt_scales;            // and their block scales [experts x N, K/16]
  Tensor eng_weight;             // the engine's packed weight, padded rows and columns included
  Tensor eng_scales;             // its block scales unswizzled, [experts x R, Kbs]
  std::int64_t R = 0, Kbs = 0;   // stored rows per expert and k-blocks per stored row of eng_scales
  std::int64_t Kbp = 0;          // k-blocks per row of the swizzled tensor, for the index a report prints
  std::vector<float> own, applied;  // per scale group: its own decode scale, the one the engine applies
  bool say_reconciled_onto = false; // a differing block's expected value names the scale it would be reconciled onto
};

// Semantic, row by row in logical order: each row's E2M1 codes (when `codes`) and block scales
// (when `blocks`) against the checkpoint's, the first difference of each parameter logged with its
// index in the engine's tensor and its source. Returns, per scale group, the blocks the engine kept
// as the checkpoint's while applying another group's scale (BlockMatch::Raw).
std::vector<std::int64_t> decode_rows(const Projection& p, bool codes, bool blocks, MismatchLog& log);

// Layout: `got`'s bytes against `expect`'s (same shape: callers check it, each with its own
// message). where(i) names the first differing byte i: {index, source}. Values print as E4M3
// scales or as bytes.
void compare_bytes(const std::string& param, const Tensor& expect, const Tensor& got, bool scales,
                   const std::function<std::pair<std::string, std::string>(std::int64_t)>& where, MismatchLog& log);

}  // namespace nvfp4::diff

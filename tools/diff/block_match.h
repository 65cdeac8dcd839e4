// How one engine block scale relates to the checkpoint's, given the global scale the engine applies
// to its shard (semantic verdict), and the value strings reports print.
#pragma once
#include <cstdint>
#include <string>

namespace nvfp4::diff {

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

}  // namespace nvfp4::diff

#include "tools/diff/block_match.h"

#include <cstdio>

#include "generator/encoders.h"
#include "tools/diff/module_diff.h"

namespace nvfp4::diff {

BlockMatch match_block(std::uint8_t ckpt, std::uint8_t eng, float own, float applied) {
  if (own == applied) return ckpt == eng ? BlockMatch::Same : BlockMatch::Differs;
  if (eng == f32_to_e4m3_satfinite(e4m3_to_f32(ckpt) * (own / applied))) return BlockMatch::Reconciled;
  return ckpt == eng ? BlockMatch::Raw : BlockMatch::Differs;
}

std::string scale_str(std::uint8_t b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", b);
  return f32_text(e4m3_to_f32(b)) + " (" + buf + ")";
}

std::string code_str(std::uint8_t c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%x", c);
  return std::string("code ") + buf + " (" + f32_text(e2m1_to_f32(c)) + ")";
}

}  // namespace nvfp4::diff

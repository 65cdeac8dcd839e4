#include "core/pipeline.h"

#include "core/error.h"

namespace nvfp4 {

std::string backend_name(Backend b) { return b == Backend::Cutlass ? "cutlass" : "trtllm"; }

Backend parse_backend(const std::string& s) {
  if (s == "cutlass") return Backend::Cutlass;
  if (s == "trtllm") return Backend::Trtllm;
  throw Error(ErrorKind::Usage, "", "", "backend must be cutlass or trtllm, not \"" + s + "\"");
}

std::string gemm_mode_name(GemmMode m) { return m == GemmMode::W4A4 ? "w4a4" : "w4a16"; }

GemmMode parse_gemm_mode(const std::string& s) {
  if (s == "w4a4") return GemmMode::W4A4;
  if (s == "w4a16") return GemmMode::W4A16;
  throw Error(ErrorKind::Usage, "", "", "mode must be w4a4 or w4a16, not \"" + s + "\"");
}

}  // namespace nvfp4

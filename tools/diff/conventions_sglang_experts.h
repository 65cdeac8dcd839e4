// The experts rows of sglang's conventions table (conventions_sglang.cpp holds the linear rows, the
// answers and the table), one file per checkpoint format, and the names both share.
#pragma once
#include <string>
#include <vector>

#include "tools/diff/conventions.h"

namespace nvfp4::diff::sglang_rows {

// ModelOptNvFp4FusedMoEMethod on flashinfer_trtllm, flashinfer_cutlass and the plain cutlass runner
// (conventions_sglang_modelopt_moe.cpp).
std::vector<ExpertsConvention> modelopt_experts();
// CompressedTensorsW4A4Nvfp4MoE on flashinfer_trtllm and every other backend
// (conventions_sglang_ct_moe.cpp).
std::vector<ExpertsConvention> ct_experts();

// prepare_static_weights_for_trtllm_fp4_moe's outputs under names of their own, the sources deleted
// (0.5.10.post1).
inline const std::vector<LayoutName> kGemmLayout = {{"gemm1_weights_fp4_shuffled", "w13_weight"},
                                                    {"gemm2_weights_fp4_shuffled", "w2_weight"},
                                                    {"gemm1_scales_fp4_shuffled", "w13_weight_scale"},
                                                    {"gemm2_scales_fp4_shuffled", "w2_weight_scale"}};
// From 0.5.11 those outputs replace w13_weight and friends in place (ModelOpt: copy_or_rebind_param,
// srt/layers/moe/moe_runner/flashinfer_trtllm.py:481-488@0.5.11; compressed-tensors:
// replace_parameter, compressed_tensors_w4a4_nvfp4_moe.py:261-264@0.5.11).
inline const std::vector<LayoutName> kInPlaceTrtllmLayout = {{"w13_weight", "w13_weight"},
                                                             {"w2_weight", "w2_weight"},
                                                             {"w13_weight_scale", "w13_weight_scale"},
                                                             {"w2_weight_scale", "w2_weight_scale"}};

inline const std::string kMq = "srt/layers/quantization/modelopt_quant.py";
inline const std::string kCtm = "srt/layers/quantization/compressed_tensors/schemes/compressed_tensors_w4a4_nvfp4_moe.py";

}  // namespace nvfp4::diff::sglang_rows

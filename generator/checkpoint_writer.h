// Synthetic NVFP4 checkpoints (`nvfp4 make-checkpoint`): seeded random weights quantized with
// ModelOpt's arithmetic, written fused or unfused, ModelOpt or compressed-tensors names, one
// file or several with an index. The in-memory result is kept so that tests can compare what
// was written with what is read back.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "core/checkpoint.h"
#include "core/tensor.h"

namespace nvfp4 {

enum class ScalarStyle { Dim0F32, Dim1F32, Dim0BF16 };  // how ModelOpt scalars are stored

struct WriterOptions {
  bool fused = false;              // qkv_proj / gate_up_proj as one tensor each
  CkptFormat format = CkptFormat::ModelOpt;
  int layers = 2;
  std::int64_t hidden = 128;       // H, multiple of 16
  std::int64_t intermediate = 256; // I, multiple of 16
  int experts = 0;                 // 0: dense MLP; otherwise MoE experts replace it
  int files = 1;
  std::uint64_t seed = 0;
  std::int64_t head_dim = 32;
  std::int64_t kv_heads = 0;       // 0: half the attention heads (GQA), at least 1
  bool unequal_scales = false;     // shards quantized with their own amax (unfused only)
  bool input_scales = true;        // false: W4A16 checkpoint without input scales
  ScalarStyle scalars = ScalarStyle::Dim0F32;
  std::uint8_t zero_block_code = 0x38;  // E4M3 byte of an all-zero block (ModelOpt: 1.0)
  double zero_block_fraction = 0.02;    // share of blocks planted all-zero
};

struct GeneratedCheckpoint {
  std::map<std::string, Tensor> tensors;
  nlohmann::json config;           // config.json
  nlohmann::json hf_quant_config;  // null for compressed-tensors
  std::map<std::string, int> slots;  // which file a tensor goes to (modulo the file count)
};

GeneratedCheckpoint generate_checkpoint(const WriterOptions& opt);
// Writes every file atomically (temporary + rename) into dir, creating it if needed, and removes
// the checkpoint files (sidecars, *.safetensors) of an earlier checkpoint there that it did not write.
void write_checkpoint(const std::filesystem::path& dir, const GeneratedCheckpoint& g, int files);
// generate_checkpoint + write_checkpoint, the same files byte for byte, with bounded memory: every
// tensor is declared first (the files' headers), then the modules are generated on `threads`
// threads a few rows at a time, each piece written straight to its place in its file (for
// `nvfp4 make-checkpoint` at real sizes). Returns the number of tensors written. on_job_done, if
// given, is called (from the writing threads) after each module is written, with the total.
std::size_t write_checkpoint_streaming(const std::filesystem::path& dir, const WriterOptions& opt, int threads,
                                       const std::function<void(std::size_t total)>& on_job_done = {});

}  // namespace nvfp4

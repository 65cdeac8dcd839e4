// The JSON files beside a checkpoint's tensors: config.json (which may hold quantization_config),
// hf_quant_config.json (ModelOpt) and model.safetensors.index.json (which file holds which tensor).
#pragma once
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace nvfp4 {

enum class CkptFormat { ModelOpt, CompressedTensors };
std::string format_name(CkptFormat f);

struct QuantConfig {
  bool present = false;          // some config file declared the quantization
  CkptFormat format = CkptFormat::ModelOpt;
  std::string quant_algo;        // "NVFP4" (ModelOpt) or "nvfp4-pack-quantized" (compressed-tensors)
  int group_size = 16;
  std::vector<std::string> exclude;  // fnmatch wildcards, or "re:<regex>" (compressed-tensors)
  std::string source;            // the file it came from
};

struct CheckpointConfigs {
  nlohmann::json config = nlohmann::json::object();  // config.json, {} when absent
  QuantConfig quant;
};
// config.json and hf_quant_config.json of dir, each optional; the quantization they declare must
// be NVFP4 and, when both declare it, the same format.
CheckpointConfigs read_configs(const std::filesystem::path& dir);

inline constexpr const char* kIndexFile = "model.safetensors.index.json";
using WeightMap = std::map<std::string, std::string>;  // tensor name -> file name in the directory
// The index's weight_map (every file it names a plain name that exists), or nullopt without an index.
std::optional<WeightMap> read_weight_map(const std::filesystem::path& dir);

}  // namespace nvfp4

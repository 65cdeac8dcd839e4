// A checkpoint directory: config.json (may hold quantization_config), hf_quant_config.json
// (ModelOpt), one or more *.safetensors and model.safetensors.index.json when sharded.
// Opening validates every file and the index; tensors are zero-copy views.
#pragma once
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/checkpoint_config.h"
#include "core/safetensors.h"

namespace re2 {
class RE2;
}

namespace nvfp4 {

// The maxima over every expert of one layer of its decoded input scales (w13: gate and up; w2:
// down). A view holding only a chunk of that layer's experts carries them, so that what the
// pipelines derive from the maxima (g1/g2 alphas, *_input_scale_quant, g1_scale_c) is the whole
// layer's, as in an engine that loads the layer at once (ExpertsSpec::layer_input_maxima).
struct ExpertsInputMaxima {
  float w13 = 0, w2 = 0;
};

class Checkpoint {
 public:
  static Checkpoint open(const std::filesystem::path& dir);

  const std::filesystem::path& dir() const { return dir_; }
  const QuantConfig& quant() const { return quant_; }
  const nlohmann::json& config() const { return config_; }  // config.json, {} when absent
  std::vector<std::string> tensor_names() const;
  bool has(const std::string& name) const { return index_.count(name) != 0; }
  const TensorInfo& info(const std::string& name) const;
  std::string file_of(const std::string& name) const;
  Tensor tensor(const std::string& name) const;
  // True when a config excludes the module prefix from quantization.
  bool excluded(const std::string& prefix) const;
  std::size_t file_count() const { return files_.size(); }
  // Throws a BadInput error naming the first file truncated while mapped (see SafetensorsFile).
  void check_intact() const;
  // The same checkpoint seen through only `names` (each must exist): shares the mapped files and
  // the configs, so a pipeline loads one module of a large checkpoint without touching the rest.
  Checkpoint subset(const std::vector<std::string>& names) const;
  // A view holding `names` under new names (rename[i] for names[i]): a chunk of one layer's
  // experts renumbered from 0 is itself a valid experts module. Errors and file_of() still name
  // the tensors as the files do.
  Checkpoint renamed_subset(const std::vector<std::string>& names, const std::vector<std::string>& rename) const;
  // This view with the layer-wide input-scale maxima of the experts module `module` attached (a
  // chunk of its experts); experts_input_maxima(module) returns them, nullptr when none are.
  Checkpoint with_experts_input_maxima(const std::string& module, ExpertsInputMaxima m) const;
  const ExpertsInputMaxima* experts_input_maxima(const std::string& module) const;
  // Drops the process's resident pages of these tensors (SafetensorsFile::release); unknown names
  // are ignored.
  void release(const std::vector<std::string>& names) const;

 private:
  struct Entry { std::size_t file; const TensorInfo* info; };
  // The steps of open().
  void compile_exclusions();
  void map_files(const std::vector<std::filesystem::path>& paths, const std::optional<WeightMap>& weight_map);
  std::filesystem::path dir_;
  QuantConfig quant_;
  nlohmann::json config_ = nlohmann::json::object();
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, Entry> index_;
  std::map<std::string, ExpertsInputMaxima> experts_maxima_;
  // The "re:" exclusion patterns, compiled once at open. RE2: linear time, bounded memory, no
  // recursion, whatever the pattern and the name.
  std::vector<std::shared_ptr<const re2::RE2>> exclude_re_;
};

}  // namespace nvfp4

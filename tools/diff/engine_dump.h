// An engine's own parameters after post-processing, as tools/dump_engine_state.py
// writes them: one safetensors file, or a directory of them. Every name is unique across files;
// tensors are zero-copy views of the mapped files.
#pragma once
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/safetensors.h"

namespace nvfp4::diff {

enum class Engine { Sglang, Vllm };
std::string engine_name(Engine e);

class EngineDump {
 public:
  static EngineDump open(const std::filesystem::path& path);
  // One file already parsed (fuzzing, tests).
  static EngineDump of(SafetensorsFile f);
  const std::string& label() const { return label_; }
  bool has(const std::string& name) const { return index_.count(name) != 0; }
  Tensor tensor(const std::string& name) const;  // BadInput if absent
  std::string file_of(const std::string& name) const;
  std::vector<std::string> names() const;
  // Drops the process's resident pages of these tensors (SafetensorsFile::release), so that a diff
  // streaming through a dump larger than memory keeps its RSS bounded; unknown names are ignored.
  void release(const std::vector<std::string>& names) const;
  // Metadata of every file merged (dump_engine_state.py: engine, backend, torch, aliases).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  std::string label_;
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, std::size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// The engine named by --engine, else by the dump's metadata, else by names only one engine uses
// (sglang: input_scale_inv, weight_scale_interleaved, blockscale_swizzled; vLLM: *_global_scale_inv,
// weight_global_scale). Usage error when nothing decides it, or the two sources disagree.
Engine resolve_engine(const EngineDump& d, const std::string& flag, std::string* how);

}  // namespace nvfp4::diff

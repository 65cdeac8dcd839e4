// An engine's own parameters after post-processing, as tools/dump_engine_state.py
// writes them: one safetensors file, or a directory of them, or tensors a caller holds in memory
// (the Python package's nvfp4.diff on a live state dict). Every name is unique across sources;
// tensors are zero-copy views of the mapped files or of the caller's memory, so every check reads
// both kinds of dump through the same interface.
#pragma once
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/safetensors.h"

namespace nvfp4::diff {

enum class Engine { Sglang, Vllm };
std::string engine_name(Engine e);

// One tensor of an in-memory dump: its name, dtype, shape and bytes (row-major, contiguous).
struct DumpView {
  std::string name;
  DType dtype = DType::U8;
  Shape shape;
  std::span<const std::uint8_t> bytes;
};

class EngineDump {
 public:
  static EngineDump open(const std::filesystem::path& path);
  // One file already parsed (fuzzing, tests).
  static EngineDump of(SafetensorsFile f);
  // Tensors in memory, as views: `keepalive` (or the caller) keeps their bytes alive as long as the
  // dump. `metadata` stands in for a file's (engine, engine_version, backend). `label` names the
  // dump in errors. BadInput naming the tensor when its bytes do not hold its dtype and shape, or a
  // name comes twice.
  static EngineDump of_views(std::string label, const std::vector<DumpView>& views, std::map<std::string, std::string> metadata = {},
                             std::shared_ptr<const void> keepalive = nullptr);
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
  static constexpr std::size_t kInMemory = static_cast<std::size_t>(-1);
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, std::size_t> index_;  // name -> its file in files_, or kInMemory
  std::map<std::string, Tensor> in_memory_;   // views of_views() was given
  std::map<std::string, std::string> metadata_;
};

// The engine named by --engine, else by the dump's metadata, else by names only one engine uses
// (sglang: input_scale_inv, weight_scale_interleaved, blockscale_swizzled; vLLM: *_global_scale_inv,
// weight_global_scale). Usage error when nothing decides it, or the two sources disagree.
Engine resolve_engine(const EngineDump& d, const std::string& flag, std::string* how);

}  // namespace nvfp4::diff

#include "tools/diff/engine_dump.h"

#include <algorithm>

#include "core/error.h"
#include "core/printable.h"

namespace nvfp4::diff {

std::string engine_name(Engine e) { return e == Engine::Sglang ? "sglang" : "vllm"; }

EngineDump EngineDump::open(const std::filesystem::path& path) {
  EngineDump d;
  d.label_ = path.string();
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    for (const auto& e : std::filesystem::directory_iterator(path, ec))
      if (e.path().extension() == ".safetensors") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    if (files.empty()) bad_input(path.string(), "", "no *.safetensors file in this directory");
  } else {
    files.push_back(path);
  }
  for (const auto& f : files) {
    d.files_.push_back(std::make_shared<SafetensorsFile>(SafetensorsFile::open(f)));
    const SafetensorsFile& sf = *d.files_.back();
    for (const TensorInfo& t : sf.tensors())
      if (!d.index_.emplace(t.name, d.files_.size() - 1).second)
        bad_input(f.string(), t.name, "also in " + d.files_[d.index_.at(t.name)]->label() + ": a name must be in one file");
    for (const auto& [k, v] : sf.metadata()) d.metadata_.emplace(k, v);
  }
  return d;
}

EngineDump EngineDump::of(SafetensorsFile f) {
  EngineDump d;
  d.label_ = f.label();
  d.files_.push_back(std::make_shared<SafetensorsFile>(std::move(f)));
  for (const TensorInfo& t : d.files_[0]->tensors()) d.index_.emplace(t.name, 0);
  d.metadata_ = d.files_[0]->metadata();
  return d;
}

EngineDump EngineDump::of_views(std::string label, const std::vector<DumpView>& views, std::map<std::string, std::string> metadata,
                                std::shared_ptr<const void> keepalive) {
  EngineDump d;
  d.label_ = std::move(label);
  d.metadata_ = std::move(metadata);
  for (const DumpView& v : views) {
    for (std::int64_t n : v.shape)
      if (n < 0) bad_input(d.label_, v.name, "negative dimension in shape " + shape_str(v.shape));
    const std::size_t need = dtype_nbytes(v.dtype, shape_numel(v.shape));
    if (need != v.bytes.size())
      bad_input(d.label_, v.name,
                "holds " + std::to_string(v.bytes.size()) + " bytes but " + std::string(dtype_name(v.dtype)) + shape_str(v.shape) + " needs " +
                    std::to_string(need));
    if (!d.index_.emplace(v.name, kInMemory).second) bad_input(d.label_, v.name, "given twice: a name must be given once");
    auto storage = Storage::external(v.bytes.data(), v.bytes.size(), keepalive);
    d.in_memory_.emplace(v.name, Tensor::external(v.dtype, v.shape, std::move(storage)));
  }
  return d;
}

Tensor EngineDump::tensor(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) bad_input(label_, name, "not in the dump");
  if (it->second == kInMemory) return in_memory_.at(name);
  return files_[it->second]->tensor(name);
}

std::string EngineDump::file_of(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() || it->second == kInMemory ? label_ : files_[it->second]->label();
}

void EngineDump::release(const std::vector<std::string>& names) const {
  for (const auto& n : names) {
    auto it = index_.find(n);
    if (it == index_.end() || it->second == kInMemory) continue;  // the caller's memory is the caller's
    if (const TensorInfo* info = files_[it->second]->find(n)) files_[it->second]->release(*info);
  }
}

std::vector<std::string> EngineDump::names() const {
  std::vector<std::string> v;
  v.reserve(index_.size());
  for (const auto& [k, _] : index_) v.push_back(k);
  return v;
}

namespace {
bool ends_with(const std::string& s, const std::string& t) { return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0; }

// Names only one engine's post-processing creates (checked against sglang
// 0.5.23 modelopt_quant.py and vLLM 0.33.0 kernels/linear/nvfp4/cutlass.py).
int votes(const EngineDump& d, Engine e) {
  int n = 0;
  for (const auto& name : d.names()) {
    bool sgl = ends_with(name, ".input_scale_inv") || ends_with(name, ".weight_scale_interleaved") || ends_with(name, "_blockscale_swizzled");
    bool vl = ends_with(name, ".input_global_scale_inv") || ends_with(name, ".weight_global_scale");
    n += e == Engine::Sglang ? sgl : vl;
  }
  return n;
}
}  // namespace

Engine resolve_engine(const EngineDump& d, const std::string& flag, std::string* how) {
  auto parse = [](const std::string& s) -> int { return s == "sglang" ? 0 : s == "vllm" ? 1 : -1; };
  int meta = -1;
  if (auto it = d.metadata().find("engine"); it != d.metadata().end()) {
    meta = parse(it->second);
    if (meta < 0) bad_input(d.label(), "", "metadata engine \"" + printable_short(it->second, 40) + "\" is neither sglang nor vllm");
  }
  if (!flag.empty()) {
    int f = parse(flag);
    if (meta >= 0 && meta != f)
      throw Error(ErrorKind::Usage, d.label(), "", "--engine " + flag + " but the dump's metadata says " + d.metadata().at("engine"));
    *how = "--engine";
    return f ? Engine::Vllm : Engine::Sglang;
  }
  if (meta >= 0) {
    *how = "the dump's metadata";
    return meta ? Engine::Vllm : Engine::Sglang;
  }
  int s = votes(d, Engine::Sglang), v = votes(d, Engine::Vllm);
  if (s > 0 && v == 0) return *how = "its parameter names", Engine::Sglang;
  if (v > 0 && s == 0) return *how = "its parameter names", Engine::Vllm;
  throw Error(ErrorKind::Usage, d.label(), "", "cannot tell which engine wrote this dump from its names; pass --engine sglang or --engine vllm");
}

}  // namespace nvfp4::diff

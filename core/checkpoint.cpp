#include "core/checkpoint.h"

#include <fnmatch.h>
#include <re2/re2.h>

#include <algorithm>
#include <set>

#include "core/error.h"

namespace nvfp4 {
namespace fs = std::filesystem;

namespace {

// The *.safetensors files to open: those the index names, else every one in the directory, sorted.
std::vector<fs::path> shard_paths(const fs::path& dir, const std::optional<WeightMap>& weight_map) {
  std::vector<fs::path> paths;
  if (weight_map) {
    std::set<std::string> files;
    for (const auto& [name, f] : *weight_map) files.insert(f);
    for (const auto& f : files) paths.push_back(dir / f);
  } else {
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().extension() == ".safetensors") paths.push_back(e.path());
    std::sort(paths.begin(), paths.end());
  }
  if (paths.empty()) bad_input(dir.string(), "", "no *.safetensors files");
  return paths;
}

}  // namespace

Checkpoint Checkpoint::open(const fs::path& dir) {
  Checkpoint c;
  c.dir_ = dir;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) bad_input(dir.string(), "", "not a checkpoint directory");
  CheckpointConfigs configs = read_configs(dir);
  c.config_ = std::move(configs.config);
  c.quant_ = std::move(configs.quant);
  c.compile_exclusions();
  const std::optional<WeightMap> weight_map = read_weight_map(dir);
  c.map_files(shard_paths(dir, weight_map), weight_map);
  return c;
}

// The "re:" patterns of the exclusion list, compiled once.
void Checkpoint::compile_exclusions() {
  for (const auto& pat : quant_.exclude) {
    if (pat.rfind("re:", 0) != 0) continue;
    re2::RE2::Options o;
    o.set_log_errors(false);
    o.set_max_mem(8 << 20);  // a pattern whose automaton needs more is refused, not run
    auto re = std::make_shared<const re2::RE2>(pat.substr(3), o);
    if (!re->ok()) bad_input(quant_.source, "", "invalid regex in ignore list: " + pat + " (" + re->error() + ")");
    exclude_re_.push_back(std::move(re));
  }
}

// Opens every file and indexes its tensors: each name stored once, and where there is an index,
// in the file it names, with every name it lists present.
void Checkpoint::map_files(const std::vector<fs::path>& paths, const std::optional<WeightMap>& weight_map) {
  const fs::path index = dir_ / kIndexFile;
  for (const auto& p : paths) {
    files_.push_back(std::make_shared<SafetensorsFile>(SafetensorsFile::open(p)));
    std::size_t fi = files_.size() - 1;
    for (const auto& t : files_.back()->tensors()) {
      auto [it, fresh] = index_.emplace(t.name, Entry{fi, &t});
      if (!fresh)
        bad_input(p.string(), t.name, "also stored in " + files_[it->second.file]->label());
      if (weight_map) {
        auto w = weight_map->find(t.name);
        if (w == weight_map->end()) bad_input(p.string(), t.name, "tensor is not listed in " + index.filename().string());
        if (w->second != p.filename().string())
          bad_input(index.string(), t.name, "listed in " + w->second + " but stored in " + p.filename().string());
      }
    }
  }
  if (weight_map)
    for (const auto& [name, f] : *weight_map)
      if (!index_.count(name)) bad_input((dir_ / f).string(), name, "tensor listed in the index is missing from the file");
}

std::vector<std::string> Checkpoint::tensor_names() const {
  std::vector<std::string> r;
  for (const auto& [n, e] : index_) r.push_back(n);
  return r;
}

const TensorInfo& Checkpoint::info(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) bad_input(dir_.string(), name, "tensor not found in the checkpoint");
  return *it->second.info;
}

std::string Checkpoint::file_of(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? dir_.string() : files_[it->second.file]->label();
}

Tensor Checkpoint::tensor(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) bad_input(dir_.string(), name, "tensor not found in the checkpoint");
  return files_[it->second.file]->tensor(it->second.info->name);  // the file's own name (renamed views)
}

void Checkpoint::check_intact() const {
  for (const auto& f : files_) f->check_intact();
}

void Checkpoint::release(const std::vector<std::string>& names) const {
  for (const auto& n : names) {
    auto it = index_.find(n);
    if (it != index_.end()) files_[it->second.file]->release(*it->second.info);
  }
}

Checkpoint Checkpoint::renamed_subset(const std::vector<std::string>& names, const std::vector<std::string>& rename) const {
  Checkpoint c;
  c.dir_ = dir_;
  c.quant_ = quant_;
  c.config_ = config_;
  c.files_ = files_;
  c.exclude_re_ = exclude_re_;
  c.experts_maxima_ = experts_maxima_;
  for (std::size_t i = 0; i < names.size(); ++i) {
    auto it = index_.find(names[i]);
    if (it == index_.end()) bad_input(dir_.string(), names[i], "tensor not found in the checkpoint");
    c.index_.emplace(rename.at(i), it->second);
  }
  return c;
}

Checkpoint Checkpoint::with_experts_input_maxima(const std::string& module, ExpertsInputMaxima m) const {
  Checkpoint c = *this;
  c.experts_maxima_[module] = m;
  return c;
}

const ExpertsInputMaxima* Checkpoint::experts_input_maxima(const std::string& module) const {
  auto it = experts_maxima_.find(module);
  return it == experts_maxima_.end() ? nullptr : &it->second;
}

Checkpoint Checkpoint::subset(const std::vector<std::string>& names) const { return renamed_subset(names, names); }

bool Checkpoint::excluded(const std::string& prefix) const {
  std::size_t r = 0;
  for (const auto& pat : quant_.exclude) {
    if (pat.rfind("re:", 0) == 0) {
      if (re2::RE2::FullMatch(prefix, *exclude_re_[r++])) return true;
    } else if (pat == prefix || fnmatch(pat.c_str(), prefix.c_str(), 0) == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace nvfp4

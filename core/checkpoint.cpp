#include "core/checkpoint.h"

#include <fnmatch.h>
#include <re2/re2.h>

#include <algorithm>
#include <set>

#include "core/error.h"
#include "core/regular_file.h"

namespace nvfp4 {
namespace fs = std::filesystem;
using json = nlohmann::json;

std::string format_name(CkptFormat f) {
  return f == CkptFormat::ModelOpt ? "modelopt" : "compressed-tensors";
}

namespace {

json read_json(const fs::path& p) {
  const std::string text = read_small_file(p);  // regular files only, size-capped
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    std::string w = e.what();
    auto k = w.find("] ");
    bad_input(p.string(), "", "invalid JSON: " + (k == std::string::npos ? w : w.substr(k + 2)));
  }
}

std::vector<std::string> string_list(const json& j, const std::string& file, const std::string& key) {
  std::vector<std::string> r;
  if (j.is_null()) return r;
  if (!j.is_array()) bad_input(file, "", "\"" + key + "\" must be a list of strings");
  for (const auto& v : j) {
    if (!v.is_string()) bad_input(file, "", "\"" + key + "\" must be a list of strings");
    r.push_back(v.get<std::string>());
  }
  return r;
}

int group_size_of(const json& j, const std::string& file) {
  if (!j.is_number_unsigned()) bad_input(file, "", "group_size must be a positive integer, not " + j.dump());
  // Compared at full width: 2^32 + 16 narrowed to int would read as a valid 16.
  const auto g = j.get<std::uint64_t>();
  if (g != 16) bad_input(file, "", "group_size " + std::to_string(g) + " is not NVFP4 (which uses 16)");
  return 16;
}

// ModelOpt: hf_quant_config.json {"quantization": {...}} (nested) or config.json
// quantization_config (flat, or with config_groups). docs/formats.md#checkpoint-declarations.
void parse_modelopt(const json& q, const std::string& file, QuantConfig& out) {
  out.present = true;
  out.format = CkptFormat::ModelOpt;
  out.source = file;
  const json& body = q.contains("quantization") ? q["quantization"] : q;
  if (!body.is_object()) bad_input(file, "", "\"quantization\" must be an object");
  if (body.contains("quant_algo")) {
    if (!body["quant_algo"].is_string()) bad_input(file, "", "quant_algo must be a string");
    out.quant_algo = body["quant_algo"].get<std::string>();
    if (out.quant_algo != "NVFP4")
      bad_input(file, "", "quant_algo \"" + out.quant_algo + "\" is not supported (only NVFP4)");
  }
  if (body.contains("group_size")) out.group_size = group_size_of(body["group_size"], file);
  // Newer ModelOpt configs (convert_hf_quant_config_format) describe weights in config_groups.
  if (body.contains("config_groups") && body["config_groups"].is_object())
    for (const auto& [name, g] : body["config_groups"].items()) {
      if (!g.is_object() || !g.contains("weights") || !g["weights"].is_object()) continue;
      const json& w = g["weights"];
      if (w.contains("num_bits") && w["num_bits"] != 4) bad_input(file, "", "config group " + name + ": weights are not 4-bit");
      if (w.contains("group_size")) out.group_size = group_size_of(w["group_size"], file);
    }
  if (body.contains("exclude_modules")) out.exclude = string_list(body["exclude_modules"], file, "exclude_modules");
  if (body.contains("ignore")) {
    auto more = string_list(body["ignore"], file, "ignore");
    out.exclude.insert(out.exclude.end(), more.begin(), more.end());
  }
}

void parse_compressed_tensors(const json& q, const std::string& file, QuantConfig& out) {
  out.present = true;
  out.format = CkptFormat::CompressedTensors;
  out.source = file;
  if (q.contains("format") && q["format"].is_string()) out.quant_algo = q["format"].get<std::string>();
  if (!out.quant_algo.empty() && out.quant_algo != "nvfp4-pack-quantized")
    bad_input(file, "", "compressed-tensors format \"" + out.quant_algo + "\" is not nvfp4-pack-quantized");
  if (q.contains("config_groups") && q["config_groups"].is_object()) {
    for (const auto& [name, g] : q["config_groups"].items()) {
      if (!g.is_object() || !g.contains("weights")) continue;
      const json& w = g["weights"];
      if (w.contains("num_bits") && w["num_bits"] != 4)
        bad_input(file, "", "config group " + name + ": weights are not 4-bit");
      if (w.contains("group_size")) out.group_size = group_size_of(w["group_size"], file);
    }
  }
  if (q.contains("ignore")) out.exclude = string_list(q["ignore"], file, "ignore");
}

}  // namespace

Checkpoint Checkpoint::open(const fs::path& dir) {
  Checkpoint c;
  c.dir_ = dir;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) bad_input(dir.string(), "", "not a checkpoint directory");

  if (fs::exists(dir / "config.json")) {
    c.config_ = read_json(dir / "config.json");
    if (!c.config_.is_object()) bad_input((dir / "config.json").string(), "", "must hold a JSON object");
    if (c.config_.contains("quantization_config")) {
      const json& q = c.config_["quantization_config"];
      std::string file = (dir / "config.json").string();
      if (!q.is_object()) bad_input(file, "", "quantization_config must be an object");
      std::string method = q.value("quant_method", "");
      if (method == "compressed-tensors") parse_compressed_tensors(q, file, c.quant_);
      else if (method == "modelopt" || q.contains("quant_algo")) parse_modelopt(q, file, c.quant_);
      else if (!method.empty()) bad_input(file, "", "quant_method \"" + method + "\" is not NVFP4 (modelopt or compressed-tensors)");
    }
  }
  if (fs::exists(dir / "hf_quant_config.json")) {
    json q = read_json(dir / "hf_quant_config.json");
    if (!q.is_object()) bad_input((dir / "hf_quant_config.json").string(), "", "must hold a JSON object");
    QuantConfig hf;
    parse_modelopt(q, (dir / "hf_quant_config.json").string(), hf);
    if (c.quant_.present && c.quant_.format != CkptFormat::ModelOpt)
      bad_input(hf.source, "", "says ModelOpt but config.json says " + format_name(c.quant_.format));
    c.quant_ = hf;
  }

  for (const auto& pat : c.quant_.exclude) {
    if (pat.rfind("re:", 0) != 0) continue;
    re2::RE2::Options o;
    o.set_log_errors(false);
    o.set_max_mem(8 << 20);  // a pattern whose automaton needs more is refused, not run
    auto re = std::make_shared<const re2::RE2>(pat.substr(3), o);
    if (!re->ok()) bad_input(c.quant_.source, "", "invalid regex in ignore list: " + pat + " (" + re->error() + ")");
    c.exclude_re_.push_back(std::move(re));
  }

  // Which files, and which tensor lives where.
  std::vector<fs::path> paths;
  std::map<std::string, std::string> weight_map;
  fs::path index = dir / "model.safetensors.index.json";
  if (fs::exists(index)) {
    json j = read_json(index);
    if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
      bad_input(index.string(), "", "missing the \"weight_map\" object");
    std::set<std::string> files;
    for (const auto& [name, f] : j["weight_map"].items()) {
      if (!f.is_string()) bad_input(index.string(), name, "weight_map entry must be a file name");
      std::string fname = f.get<std::string>();
      if (fname.find('/') != std::string::npos || fname == ".." || fname.empty())
        bad_input(index.string(), name, "file \"" + fname + "\" is not a plain file name in the directory");
      if (!fs::exists(dir / fname)) bad_input(index.string(), name, "points at missing file " + fname);
      weight_map[name] = fname;
      files.insert(fname);
    }
    for (const auto& f : files) paths.push_back(dir / f);
  } else {
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().extension() == ".safetensors") paths.push_back(e.path());
    std::sort(paths.begin(), paths.end());
  }
  if (paths.empty()) bad_input(dir.string(), "", "no *.safetensors files");

  for (const auto& p : paths) {
    c.files_.push_back(std::make_shared<SafetensorsFile>(SafetensorsFile::open(p)));
    std::size_t fi = c.files_.size() - 1;
    for (const auto& t : c.files_.back()->tensors()) {
      auto [it, fresh] = c.index_.emplace(t.name, Entry{fi, &t});
      if (!fresh)
        bad_input(p.string(), t.name, "also stored in " + c.files_[it->second.file]->label());
      if (!weight_map.empty()) {
        auto w = weight_map.find(t.name);
        if (w == weight_map.end()) bad_input(p.string(), t.name, "tensor is not listed in " + index.filename().string());
        if (w->second != p.filename().string())
          bad_input(index.string(), t.name, "listed in " + w->second + " but stored in " + p.filename().string());
      }
    }
  }
  for (const auto& [name, f] : weight_map)
    if (!c.index_.count(name)) bad_input((dir / f).string(), name, "tensor listed in the index is missing from the file");
  return c;
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
  for (std::size_t i = 0; i < names.size(); ++i) {
    auto it = index_.find(names[i]);
    if (it == index_.end()) bad_input(dir_.string(), names[i], "tensor not found in the checkpoint");
    c.index_.emplace(rename.at(i), it->second);
  }
  return c;
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

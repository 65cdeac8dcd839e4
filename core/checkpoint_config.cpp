#include "core/checkpoint_config.h"

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
// quantization_config (flat, or with config_groups).
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

CheckpointConfigs read_configs(const fs::path& dir) {
  CheckpointConfigs out;
  if (fs::exists(dir / "config.json")) {
    out.config = read_json(dir / "config.json");
    if (!out.config.is_object()) bad_input((dir / "config.json").string(), "", "must hold a JSON object");
    if (out.config.contains("quantization_config")) {
      const json& q = out.config["quantization_config"];
      std::string file = (dir / "config.json").string();
      if (!q.is_object()) bad_input(file, "", "quantization_config must be an object");
      std::string method = q.value("quant_method", "");
      if (method == "compressed-tensors") parse_compressed_tensors(q, file, out.quant);
      else if (method == "modelopt" || q.contains("quant_algo")) parse_modelopt(q, file, out.quant);
      else if (!method.empty()) bad_input(file, "", "quant_method \"" + method + "\" is not NVFP4 (modelopt or compressed-tensors)");
    }
  }
  if (fs::exists(dir / "hf_quant_config.json")) {
    json q = read_json(dir / "hf_quant_config.json");
    if (!q.is_object()) bad_input((dir / "hf_quant_config.json").string(), "", "must hold a JSON object");
    QuantConfig hf;
    parse_modelopt(q, (dir / "hf_quant_config.json").string(), hf);
    if (out.quant.present && out.quant.format != CkptFormat::ModelOpt)
      bad_input(hf.source, "", "says ModelOpt but config.json says " + format_name(out.quant.format));
    out.quant = hf;
  }
  return out;
}

std::optional<WeightMap> read_weight_map(const fs::path& dir) {
  const fs::path index = dir / kIndexFile;
  if (!fs::exists(index)) return std::nullopt;
  json j = read_json(index);
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    bad_input(index.string(), "", "missing the \"weight_map\" object");
  WeightMap weight_map;
  for (const auto& [name, f] : j["weight_map"].items()) {
    if (!f.is_string()) bad_input(index.string(), name, "weight_map entry must be a file name");
    std::string fname = f.get<std::string>();
    if (fname.find('/') != std::string::npos || fname == ".." || fname.empty())
      bad_input(index.string(), name, "file \"" + fname + "\" is not a plain file name in the directory");
    if (!fs::exists(dir / fname)) bad_input(index.string(), name, "points at missing file " + fname);
    weight_map[name] = fname;
  }
  return weight_map;
}

}  // namespace nvfp4

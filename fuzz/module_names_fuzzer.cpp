// Module-name mapping and exclusion patterns: the input builds tensor names from tokens (the
// words engines use, huge expert indices, raw bytes, very long runs) and up to two exclusion
// patterns (fnmatch wildcards or "re:" regexes, RE2-matched). Every name gets a small, valid NVFP4
// module (weight, block scale, global scales), so mapping itself is what is exercised. Outcome: a
// typed one-line error, or a spec in which every on-disk prefix is one of the names made and is
// used by exactly one module. max_len 16 KiB.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/checkpoint.h"
#include "core/error.h"
#include "core/module_map.h"
#include "core/module_names.h"
#include "core/safetensors.h"
#include "fuzz/byte_reader.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/fuzz_checkpoint_dir.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > (16u << 10)) return 0;
  using namespace nvfp4;
  namespace fs = std::filesystem;
  // The expert roles' spellings from core/module_names.h, in the places the committed corpus
  // (corpus/module_names/) picks them by: gate_proj, up_proj, ..., down_proj, w1, w2, w3.
  using R = ExpertRole;
  static const std::string_view kTokens[] = {
      ".", "model", "layers", "0", "1", "07", "self_attn", "mlp", "experts", "q_proj", "k_proj", "v_proj", "qkv_proj", "o_proj",
      role_names(R::Gate).proj, role_names(R::Up).proj, "gate_up_proj", role_names(R::Down).proj, role_names(R::Gate).shard_id,
      role_names(R::Down).shard_id, role_names(R::Up).shard_id, "99999999999999999999999", "*", "?", "[", "\n", "\x1b["};
  fuzz::ByteReader in(data, size);
  std::set<std::string> names;
  for (int n = static_cast<int>(in.in(1, 12)); n > 0; --n) {
    std::string name;
    for (int t = static_cast<int>(in.in(1, 12)); t > 0; --t) {
      const int k = static_cast<int>(in.in(0, std::size(kTokens) + 1));
      if (k < static_cast<int>(std::size(kTokens))) name += kTokens[k];
      else if (k == static_cast<int>(std::size(kTokens))) name += in.str(8);
      else name += std::string(static_cast<std::size_t>(in.in(1, 4000)), 'a');  // long runs for the matchers
    }
    names.insert(name);
  }
  std::vector<std::string> patterns;
  for (int n = static_cast<int>(in.in(0, 2)); n > 0; --n) patterns.push_back((in.flag() ? "re:" : "") + in.str(24));

  // Every name a 2 x 16 module: U8 [2, 8] weight, F8 [2, 1] scale, F32 scalar scales of 1.
  std::vector<TensorToWrite> ts;
  Tensor w = Tensor::empty(DType::U8, {2, 8}), s = Tensor::empty(DType::F8_E4M3, {2, 1}), one = Tensor::empty(DType::F32, {});
  for (std::size_t i = 0; i < w.nbytes(); ++i) w.data()[i] = 0x21;
  s.data()[0] = s.data()[1] = 0x38;
  *one.data_as<float>() = 1.0f;
  for (const auto& n : names)
    for (const auto& [suffix, t] : {std::pair{".weight", w}, {".weight_scale", s}, {".weight_scale_2", one}, {".input_scale", one}})
      ts.push_back({n + suffix, t});
  const fs::path dir = fuzz::checkpoint_dir() / "names";
  fs::remove_all(dir);
  fs::create_directories(dir);
  try {
    write_safetensors(dir / "model.safetensors", ts);
  } catch (const Error& e) {  // a name that is not UTF-8 cannot be written
    fuzz::check_error_line(e.what());
    return 0;
  }
  nlohmann::json q = {{"quantization", {{"quant_algo", "NVFP4"}, {"group_size", 16}}}};
  for (const auto& p : patterns) q["quantization"]["exclude_modules"].push_back(p);
  try {
    std::ofstream(dir / "hf_quant_config.json") << q.dump();
  } catch (const nlohmann::json::type_error&) {  // a pattern that is not UTF-8 cannot be in a JSON file
    return 0;
  }
  try {
    const ModelSpec spec = map_modules(Checkpoint::open(dir));
    std::set<std::string> used;
    auto use = [&](const std::string& p) {
      FUZZ_CHECK(names.count(p), "prefix %s was never made", p.c_str());
      FUZZ_CHECK(used.insert(p).second, "prefix %s used by two modules", p.c_str());
    };
    for (const auto& l : spec.linears)
      for (const auto& p : l.prefixes) use(p);
    for (const auto& x : spec.experts)
      for (const auto& e : x.prefixes)
        for (const auto& p : e) use(p);
    FUZZ_CHECK(used.size() == names.size(), "%zu names made, %zu mapped", names.size(), used.size());
  } catch (const Error& e) {
    fuzz::check_error_line(e.what());
  }
  return 0;
}

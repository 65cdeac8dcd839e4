// Helpers of the nvfp4 diff tests: the committed engine dumps (tools/engine_dumps/data),
// copies of them with one planted fault, and expectations worked out from the checkpoints' own
// scalars, never taken from the command.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "core/module_names.h"
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/codecs.h"
#include "core/safetensors.h"
#include "core/test/temp_dir.h"
#include "tools/test/cli_run.h"

namespace nvfp4::diff_test {

inline const std::string kData = NVFP4_ENGINE_DUMPS;
inline const std::string kQkv = "model.layers.0.self_attn.qkv_proj", kGateUp = "model.layers.0.mlp.gate_up_proj",
                  kO = "model.layers.0.self_attn.o_proj", kDown = "model.layers.0.mlp.down_proj";

inline nlohmann::json diff_json(const std::string& ckpt, const std::string& dump, int expect_code) {
  CliRun r = nvfp4({"diff", ckpt, dump, "--json"});
  EXPECT_EQ(r.code, expect_code) << r.out << r.err;
  return r.out.empty() ? nlohmann::json::object() : nlohmann::json::parse(r.out);
}

inline const nlohmann::json& module(const nlohmann::json& j, const std::string& name) {
  for (const auto& m : j.at("modules"))
    if (m.at("module") == name) return m;
  throw std::runtime_error("no module " + name + " in the report");
}

// A copy of a dump with `edit` applied to its tensors (fresh, writable copies), under the dump's
// own metadata or `metadata` where given.
inline std::string planted(const TempDir& dir, const std::string& dump, const std::function<void(std::map<std::string, Tensor>&)>& edit,
                           const std::optional<std::map<std::string, std::string>>& metadata = std::nullopt) {
  SafetensorsFile f = SafetensorsFile::open(kData + "/" + dump);
  std::map<std::string, Tensor> t;
  for (const auto& info : f.tensors()) t[info.name] = f.tensor(info.name).clone();
  edit(t);
  std::vector<TensorToWrite> w;
  for (auto& [n, x] : t) w.push_back({n, x});
  std::string path = (dir.path() / dump).string();
  write_safetensors(path, w, metadata ? *metadata : f.metadata());
  return path;
}

inline float scalar(const std::string& ckpt_file, const std::string& name) {
  SafetensorsFile f = SafetensorsFile::open(ckpt_file);
  return f.tensor(name).get_f32(0);
}

inline const std::map<std::string, std::vector<std::pair<std::string, std::string>>> kShards = {
    {kQkv, {{"q", "model.layers.0.self_attn.q_proj"}, {"k", "model.layers.0.self_attn.k_proj"}, {"v", "model.layers.0.self_attn.v_proj"}}},
    {kGateUp, {{"0", "model.layers.0.mlp.gate_proj"}, {"1", "model.layers.0.mlp.up_proj"}}}};

// applied / own for every shard whose decode scale is not the one the engines apply, from the
// checkpoint's raw scalars. ModelOpt (decode scales): the max applies, so max / own. Compressed-
// tensors (encode scales): the max encode scale's f32 reciprocal applies, f32(1 / max) / f32(1 / own).
inline std::map<std::pair<std::string, std::string>, double> expected_factors(const std::string& ckpt_file, bool encode) {
  const std::string name = encode ? ".weight_global_scale" : ".weight_scale_2";
  std::map<std::pair<std::string, std::string>, double> factor;
  for (const auto& [mod, list] : kShards) {
    float mx = 0;
    for (const auto& [id, p] : list) mx = std::max(mx, scalar(ckpt_file, p + name));
    for (const auto& [id, p] : list) {
      float own = scalar(ckpt_file, p + name);
      if (own < mx) factor[{mod, id}] = encode ? static_cast<double>(1.0f / mx) / (1.0f / own) : static_cast<double>(mx) / own;
    }
  }
  return factor;
}

// Neither engine reconciles: every shard below its module's max global scale is reported, with
// the factor max / own read from the checkpoint's own scalars, and nothing else differs.
inline const nlohmann::json& only_mismatch(const nlohmann::json& j, const std::string& mod, const std::string& verdict) {
  const auto& m = module(j, mod);
  const nlohmann::json* hit = nullptr;
  for (const auto& x : m.at("mismatches"))
    if (x.at("verdict") == verdict) {
      EXPECT_EQ(hit, nullptr) << "more than one " << verdict << " mismatch: " << m.dump();
      hit = &x;
    }
  if (!hit) throw std::runtime_error("no " + verdict + " mismatch in " + m.dump());
  return *hit;
}

inline void expect_others_clean(const nlohmann::json& j, const std::string& mod) {
  for (const auto& m : j.at("modules"))
    if (m.at("module") != mod) {
      EXPECT_TRUE(m.at("mismatches").empty() && m.at("unreconciled").empty()) << m.dump();
    }
}

// One block scale changed in sglang's swizzled copy. Row 70 of qkv is k_proj's row 6 (q has 4
// heads x 16 = 64 rows); in the 128x4 layout m = 70 is (mT 0, i 2, j 6) and k-block 2 is (kT 0,
inline const std::string kExperts = "model.layers.0.mlp.experts";

// Both verdicts hold for the module.
inline void expect_holds(const nlohmann::json& j, const std::string& mod) {
  const auto& m = module(j, mod);
  EXPECT_EQ(m.at("semantic"), "ok") << m.dump();
  EXPECT_EQ(m.at("layout"), "ok") << m.dump();
}

// The experts module of j fails only on its unreconciled halves: every expert's `off` half (up, or
// gate) decoded with the other half's global scale, by exactly that factor from the checkpoint's
// scalars (encode: compressed-tensors' encode scales, whose decode scale is 1 / encode).
inline void expect_halves_off(const nlohmann::json& j, const std::string& ckpt_file, bool encode, ExpertRole off) {
  const auto& m = module(j, kExperts);
  EXPECT_TRUE(m.at("mismatches").empty()) << m.dump();
  EXPECT_EQ(m.at("layout"), "ok");
  ASSERT_EQ(m.at("unreconciled").size(), 4u) << m.dump();
  const std::string name = encode ? ".weight_global_scale" : ".weight_scale_2";
  const bool up = off == ExpertRole::Up;
  for (int e = 0; e < 4; ++e) {
    const std::string p = kExperts + "." + std::to_string(e);
    const float gate = scalar(ckpt_file, p + ".gate_proj" + name), upv = scalar(ckpt_file, p + ".up_proj" + name);
    const double dgate = encode ? static_cast<double>(1.0f / gate) : gate, dup = encode ? static_cast<double>(1.0f / upv) : upv;
    const auto& u = m.at("unreconciled")[static_cast<std::size_t>(e)];
    EXPECT_EQ(u.at("shard"), "expert " + std::to_string(e) + (up ? " w3 (up)" : " w1 (gate)"));
    EXPECT_EQ(u.at("source"), p + (up ? ".up_proj" : ".gate_proj"));
    EXPECT_EQ(u.at("factor").get<double>(), up ? dgate / dup : dup / dgate);
  }
}

inline void expect_up_halves_off(const nlohmann::json& j, const std::string& ckpt_file, bool encode) {
  expect_halves_off(j, ckpt_file, encode, ExpertRole::Up);
}

}  // namespace nvfp4::diff_test

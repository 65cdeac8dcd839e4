// Shared by the report-field tests (verify_report_*_test.cpp, diff_report_fields_test.cpp): the
// small model's module names and shapes, a checkpoint whose q shard is reconciled by a hand-worked
// factor, and the small text helpers the expectations are written with. Expectations are worked
// out from the generator's options, the checkpoint's raw tensors or by hand, never read back from
// the code that produced the report.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "core/test/temp_dir.h"
#include "generator/checkpoint_writer.h"
#include "generator/test/small_model.h"
#include "tools/test/cli_run.h"

// A named namespace, not an anonymous one: the VerifyReport fixture is shared by several
// translation units of one test binary, and googletest requires one fixture type per suite.
namespace nvfp4::report_test {

inline const std::string kQkv = "model.layers.0.self_attn.qkv_proj", kO = "model.layers.0.self_attn.o_proj",
                         kGateUp = "model.layers.0.mlp.gate_up_proj", kDown = "model.layers.0.mlp.down_proj";
inline const std::string kQ = "model.layers.0.self_attn.q_proj", kK = "model.layers.0.self_attn.k_proj",
                         kV = "model.layers.0.self_attn.v_proj";

inline std::string g9(double v) {
  char b[40];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}

// s as a regular expression matching itself.
inline std::string esc(const std::string& s) { return std::regex_replace(s, std::regex(R"([.+*?()\[\]{}|^$\\])"), R"(\$&)"); }

inline int lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

// small_model(): one dense layer, H = 64 in 4 heads of 16 over 2 KV heads, I = 96. So, per module,
// N x K: qkv (64 + 32 + 32) x 64 in three shards, o_proj 64 x 64, gate_up (96 + 96) x 64 in two,
// down_proj 64 x 96.
struct Shape2 { std::int64_t N, K; int shards; };
inline const std::map<std::string, Shape2> kModules = {
    {kQkv, {128, 64, 3}}, {kO, {64, 64, 1}}, {kGateUp, {192, 64, 2}}, {kDown, {64, 96, 1}}};

// q's block scales all 1.0 (E4M3 0x38) under its own global scale `own`, k and v under `common`:
// q alone is reconciled, by the factor own / common, and every q block lands on the same value.
inline GeneratedCheckpoint with_q_reconciled(float own, float common) {
  GeneratedCheckpoint g = generate_checkpoint(small_model());
  g.tensors.at(kQ + ".weight_scale_2") = Tensor::scalar_f32(own);
  g.tensors.at(kK + ".weight_scale_2") = Tensor::scalar_f32(common);
  g.tensors.at(kV + ".weight_scale_2") = Tensor::scalar_f32(common);
  Tensor& s = g.tensors.at(kQ + ".weight_scale");
  std::memset(s.data(), 0x38, s.nbytes());
  return g;
}

// Hand-worked: q's S = 1 under own = 2^-13, common = 17 * 2^-8. The factor own / common = 2^-5 / 17
// puts S * factor = 0.941 * 2^-9, in E4M3's subnormal range (below 2^-6, steps of 2^-9): it
// rounds to 2^-9 (byte 0x01). Dequantized, 2^-9 * 17 * 2^-8 = 17 * 2^-17 against 1 * 2^-13 =
// 16 * 2^-17: a relative error of exactly 1/16.
inline const float kOwn = std::ldexp(1.0f, -13), kCommon = 17 * std::ldexp(1.0f, -8);

// A "const" the published schema (docs/schema/) declares for a top-level field.
inline nlohmann::json schema_const(const std::string& schema, const std::string& field) {
  std::ifstream f(std::string(NVFP4_SOURCE_DIR) + "/docs/schema/" + schema + ".schema.json");
  return nlohmann::json::parse(f).at("properties").at(field).at("const");
}

inline const nlohmann::json* check_named(const nlohmann::json& j, const std::string& name) {
  for (const auto& c : j.at("checks"))
    if (c.at("name") == name) return &c;
  return nullptr;
}

class VerifyReport : public ::testing::Test {
 protected:
  std::filesystem::path dir(const std::string& n) const { return tmp_.path() / n; }
  TempDir tmp_;
};

}  // namespace nvfp4::report_test

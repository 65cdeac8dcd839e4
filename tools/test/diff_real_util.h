// Helpers of the tests on dumps the engines' own code wrote (tools/engine_dumps/README.md, Older
// releases): their names, one planted fault per checked tensor, every tensor read.
#pragma once
#include <set>

#include "tools/test/diff_test_util.h"

namespace nvfp4::diff_test {

using Tensors = std::map<std::string, Tensor>;

// The dumps of one release: CKPT.sglang-RELEASE[.BACKEND].safetensors.
// A release as a gtest parameter name: v0_19_1 for 0.19.1.
inline std::string release_test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string n = "v" + info.param;
  for (char& c : n)
    if (c == '.') c = '_';
  return n;
}

inline std::string dump_of(const std::string& release, const std::string& ckpt, const std::string& backend = "") {
  return ckpt + ".sglang-" + release + (backend.empty() ? "" : "." + backend) + ".safetensors";
}

inline void flip_scale(Tensor& t, std::int64_t i) {
  std::uint8_t& b = t.data()[i];
  b = b == 0x38 ? 0x40 : 0x38;
}

// Every tensor the dump holds under the experts module is read by a check, or is one of the
// unused placeholders the row names (none by default): none unexplained.
inline void expect_every_tensor_read(const nlohmann::json& j, const std::string& dump, const std::vector<std::string>& placeholders = {}) {
  const auto& m = module(j, kExperts);
  EXPECT_TRUE(m.at("unexplained").empty()) << m.dump();
  if (placeholders.empty()) EXPECT_FALSE(m.contains("placeholders")) << m.dump();
  else EXPECT_EQ(m.at("placeholders"), placeholders) << m.dump();
  std::set<std::string> held, read(placeholders.begin(), placeholders.end());
  const SafetensorsFile f = SafetensorsFile::open(kData + "/" + dump);
  for (const auto& info : f.tensors())
    if (info.name.rfind(kExperts + ".", 0) == 0) held.insert(info.name.substr(kExperts.size() + 1));
  for (const auto& p : m.at("params")) read.insert(p.get<std::string>());
  EXPECT_EQ(read, held);
}

// A fault in an unused placeholder fails nothing: the module holds, the report names it under
// "not checked".
inline void expect_placeholder_unchecked(const std::string& ckpt, const std::string& dump, const std::string& name) {
  TempDir dir;
  const std::string path = planted(dir, dump, [&](std::map<std::string, Tensor>& t) { t.at(kExperts + "." + name).data_as<float>()[1] *= 0.5f; });
  nlohmann::json j = diff_json(kData + "/" + ckpt, path, 0);
  expect_holds(j, kExperts);
  CliRun r = nvfp4({"diff", kData + "/" + ckpt, path});
  EXPECT_NE(r.out.find("  " + kExperts + "." + name + ": unused placeholder, not checked\n"), std::string::npos) << r.out;
}

// One fault per tensor the flashinfer_cutlass rows check, planted in expert 1 (or the one scalar):
// the module fails under each verdict the row gives that tensor, naming it, and nowhere else.
struct Planted {
  std::string tensor;
  bool semantic, layout;
};

inline void plant(Tensor& t) {
  const std::int64_t i = t.numel() / 4;  // expert 1's first element in [E = 4, ..] tensors; 0 in a 0-dim one
  if (t.dtype() == DType::F32) t.data_as<float>()[i] *= 0.5f;
  else if (t.dtype() == DType::F8_E4M3) flip_scale(t, i);
  else t.data()[i] ^= 0x11;
}

inline void expect_faults_named(const std::string& ckpt, const std::string& dump, const std::vector<Planted>& cases) {
  TempDir dir;
  for (const Planted& c : cases) {
    SCOPED_TRACE(c.tensor);
    nlohmann::json j = diff_json(kData + "/" + ckpt, planted(dir, dump, [&](Tensors& t) { plant(t.at(kExperts + "." + c.tensor)); }), 1);
    const auto& m = module(j, kExperts);
    for (auto [v, expect] : {std::pair{"semantic", c.semantic}, std::pair{"layout", c.layout}}) {
      if (expect) EXPECT_EQ(only_mismatch(j, kExperts, v).at("param"), c.tensor);
      else EXPECT_EQ(m.at(v), "ok") << m.dump();
    }
    EXPECT_TRUE(m.at("unreconciled").empty()) << m.dump();
    expect_others_clean(j, kExperts);
  }
}

}  // namespace nvfp4::diff_test

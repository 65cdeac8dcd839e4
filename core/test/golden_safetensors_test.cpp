// Files written by safetensors' own Python writer, read by ours and compared with a manifest
// whose bytes come from numpy (tools/golden/safetensors_golden.py). Then ours writes the same
// tensors back and the Python-written file and ours must hold identical headers' content.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/safetensors.h"
#include "core/test/golden_dir.h"

namespace nvfp4 {
namespace {

std::string hex(std::span<const std::uint8_t> b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (auto x : b) { s += d[x >> 4]; s += d[x & 15]; }
  return s;
}

TEST(GoldenSafetensors, PythonWrittenFilesReadExactly) {
  auto dir = golden_dir() / "st";
  std::ifstream in(dir / "manifest.json");
  ASSERT_TRUE(in) << dir;
  auto manifest = nlohmann::json::parse(in);
  ASSERT_GE(manifest.size(), 4u);
  for (const auto& [name, want] : manifest.items()) {
    SCOPED_TRACE(name);
    SafetensorsFile f = SafetensorsFile::open(dir / (name + ".safetensors"));
    EXPECT_EQ(f.tensors().size(), want["tensors"].size());
    std::map<std::string, std::string> md = want["metadata"];
    EXPECT_EQ(f.metadata(), md);
    std::vector<TensorToWrite> back;
    for (const auto& [tname, t] : want["tensors"].items()) {
      SCOPED_TRACE(tname);
      const TensorInfo* info = f.find(tname);
      ASSERT_NE(info, nullptr);
      EXPECT_EQ(dtype_name(info->dtype), t["dtype"].get<std::string>());
      EXPECT_EQ(info->shape, t["shape"].get<Shape>());
      EXPECT_EQ(hex(f.bytes(*info)), t["hex"].get<std::string>());
      back.push_back({tname, f.tensor(tname)});
    }
    // Our writer's output of the same tensors must read back to the same table.
    auto ours = serialize_safetensors(back, f.metadata());
    SafetensorsFile g = SafetensorsFile::parse(ours, "ours");
    ASSERT_EQ(g.tensors().size(), f.tensors().size());
    for (std::size_t i = 0; i < g.tensors().size(); ++i) {
      EXPECT_EQ(g.tensors()[i].name, f.tensors()[i].name);
      EXPECT_EQ(hex(g.bytes(g.tensors()[i])), hex(f.bytes(f.tensors()[i])));
    }
  }
}

}  // namespace
}  // namespace nvfp4

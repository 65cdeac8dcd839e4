// `nvfp4 process` and `nvfp4 gemm` (reference pipeline) on checkpoints written by safetensors'
// own Python writer (ModelOpt one file; compressed-tensors two files + index), compared bit for bit
// with tools/golden/pipeline_golden.py: an independent numpy/ml_dtypes implementation of the
// post-processing and an exact Fraction GEMM rounded once.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/safetensors.h"
#include "core/test/golden_dir.h"
#include "core/test/temp_dir.h"
#include "tools/cli/cli.h"

namespace nvfp4 {
namespace {

std::string run(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  int code = cli::run(args, out, err);
  EXPECT_EQ(code, 0) << err.str();
  return err.str();
}

std::string first_diff(const Tensor& got, const std::span<const std::uint8_t> want, const TensorInfo& info) {
  if (got.dtype() != info.dtype || got.shape() != info.shape)
    return "got " + describe(got) + ", expected " + std::string(dtype_name(info.dtype)) + shape_str(info.shape);
  for (std::size_t i = 0; i < want.size(); ++i)
    if (got.data()[i] != want[i]) {
      char b[96];
      std::snprintf(b, sizeof b, "byte %zu: got 0x%02x, expected 0x%02x", i, got.data()[i], want[i]);
      return b;
    }
  return "";
}

class GoldenPipeline : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(GoldenPipeline, ProcessAndGemmMatchIndependentPython) {
  auto [ckpt, backend] = GetParam();
  auto root = golden_dir() / "pipeline";
  std::ifstream mf(root / "manifest.json");
  auto manifest = nlohmann::json::parse(mf);
  SafetensorsFile expected = SafetensorsFile::open(root / ("expected_" + ckpt + ".safetensors"));
  TempDir tmp;

  run({"process", (root / ckpt).string(), "--pipeline", "reference", "--backend", backend, "--out", (tmp.path() / "p.safetensors").string()});
  SafetensorsFile got = SafetensorsFile::open(tmp.path() / "p.safetensors");
  int compared = 0;
  for (const auto& key : manifest["checkpoints"][ckpt]) {
    std::string k = key.get<std::string>();
    if (k.rfind(backend + "/", 0) != 0) continue;
    std::string name = k.substr(backend.size() + 1);
    ASSERT_NE(got.find(name), nullptr) << name << " missing from nvfp4 process output";
    const TensorInfo* info = expected.find(k);
    std::string d = first_diff(got.tensor(name), expected.bytes(*info), *info);
    EXPECT_EQ(d, "") << ckpt << " " << backend << " " << name;
    ++compared;
  }
  EXPECT_GE(compared, backend == "trtllm" ? 16 : 14);

  for (const auto& c : manifest["gemm"]) {
    std::string name = c["name"];
    std::vector<std::string> args{"gemm", (root / ckpt).string(), "--module", c["module"], "--mode", c["mode"],
                                  "--backend", backend, "--input", (root / "inputs" / (name + ".safetensors")).string(),
                                  "--out", (tmp.path() / (name + ".safetensors")).string()};
    if (c["expert"].get<int>() >= 0) {
      args.insert(args.end(), {"--expert", std::to_string(c["expert"].get<int>()), "--proj", c["proj"]});
    }
    run(args);
    SafetensorsFile y = SafetensorsFile::open(tmp.path() / (name + ".safetensors"));
    const TensorInfo* info = expected.find("gemm/" + backend + "/" + name);
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(first_diff(y.tensor("y"), expected.bytes(*info), *info), "") << ckpt << " " << backend << " gemm " << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Checkpoints, GoldenPipeline,
                         ::testing::Combine(::testing::Values("modelopt", "ct"), ::testing::Values("cutlass", "trtllm")),
                         [](const auto& i) { return std::get<0>(i.param) + "_" + std::get<1>(i.param); });

}  // namespace
}  // namespace nvfp4

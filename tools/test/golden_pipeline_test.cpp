// `nvfp4 process` and `nvfp4 gemm` on checkpoints written by safetensors' own Python writer
// (ModelOpt one file; compressed-tensors two files + index), over several seeds and shapes, every
// projection (qkv, gate_up, w13, w2) in both GEMM modes, for every pipeline: post-processing
// compared bit for bit with tools/golden/pipeline_golden.py (an independent numpy/ml_dtypes
// implementation), the two pipelines' `process` files byte for byte with each other, and GEMMs with
// an exact Fraction GEMM rounded once: bitwise for the reference (its oracle is exact), within the
// optimized kernels' derived bound otherwise.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "checks/gemm_vs_oracle.h"
#include "core/safetensors.h"
#include "core/test/golden_dir.h"
#include "core/test/temp_dir.h"
#include "optimized/gemm.h"
#include "tools/cli/cli.h"
#include "optimized/kernels/dispatch.h"

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

std::vector<char> slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// One set of tools/golden/pipeline_golden.py (its own seed and shapes).
void check_set(const std::string& set, const nlohmann::json& m, const std::string& ckpt, const std::string& backend,
               const std::string& pipeline) {
  SCOPED_TRACE("golden set " + set + ", " + ckpt + ", " + backend + ", " + pipeline);
  auto root = golden_dir() / "pipeline" / set;
  SafetensorsFile expected = SafetensorsFile::open(root / ("expected_" + ckpt + ".safetensors"));
  TempDir tmp;

  run({"process", (root / ckpt).string(), "--pipeline", pipeline, "--backend", backend, "--out", (tmp.path() / "p.safetensors").string()});
  SafetensorsFile got = SafetensorsFile::open(tmp.path() / "p.safetensors");
  int compared = 0;
  for (const auto& key : m["checkpoints"][ckpt]) {
    std::string k = key.get<std::string>();
    if (k.rfind(backend + "/", 0) != 0) continue;  // gemm/ and gemm_abs/ entries are checked below
    std::string name = k.substr(backend.size() + 1);
    ASSERT_NE(got.find(name), nullptr) << name << " missing from nvfp4 process output";
    const TensorInfo* info = expected.find(k);
    std::string d = first_diff(got.tensor(name), expected.bytes(*info), *info);
    EXPECT_EQ(d, "") << name;
    ++compared;
  }
  EXPECT_GE(compared, backend == "trtllm" ? 16 : 14);
  if (pipeline != "reference") {
    run({"process", (root / ckpt).string(), "--pipeline", "reference", "--backend", backend, "--out", (tmp.path() / "r.safetensors").string()});
    EXPECT_TRUE(slurp(tmp.path() / "p.safetensors") == slurp(tmp.path() / "r.safetensors"))
        << pipeline << " and reference `process` files differ";
  }

  int gemms = 0;
  for (const auto& c : m["gemm"]) {
    std::string name = c["name"];
    std::vector<std::string> args{"gemm", (root / ckpt).string(), "--module", c["module"], "--mode", c["mode"], "--pipeline", pipeline,
                                  "--backend", backend, "--input", (root / "inputs" / (name + ".safetensors")).string(),
                                  "--out", (tmp.path() / (name + ".safetensors")).string()};
    if (c["expert"].get<int>() >= 0) {
      args.insert(args.end(), {"--expert", std::to_string(c["expert"].get<int>()), "--proj", c["proj"]});
    }
    run(args);
    ++gemms;
    SafetensorsFile y = SafetensorsFile::open(tmp.path() / (name + ".safetensors"));
    const TensorInfo* info = expected.find("gemm/" + backend + "/" + name);
    ASSERT_NE(info, nullptr);
    if (pipeline == "reference") {
      EXPECT_EQ(first_diff(y.tensor("y"), expected.bytes(*info), *info), "") << "gemm " << name;
      continue;
    }
    // The optimized kernels round in f32 as they go: within their bound of the exact result, whose
    // sum of |x w| the generator recorded per element. Rows aimed at output rounding midpoints
    // (exact_rows) have one exact product per output, so there the kernels must round to even
    // exactly as the oracle does.
    Tensor got = y.tensor("y");
    Tensor want = expected.tensor("gemm/" + backend + "/" + name);
    Tensor mag = expected.tensor("gemm_abs/" + backend + "/" + name);
    ASSERT_EQ(got.shape(), want.shape());
    GemmMode mode = parse_gemm_mode(c["mode"]);
    std::int64_t K = c["K"].get<std::int64_t>(), N = got.size(1);
    double post = c["post"].get<double>();
    std::vector<bool> exact(static_cast<std::size_t>(got.size(0)), false);
    for (const auto& r : c["exact_rows"]) exact[r.get<std::size_t>()] = true;
    for (std::int64_t i = 0; i < got.numel(); ++i) {
      if (!exact[static_cast<std::size_t>(i / N)]) continue;
      ASSERT_EQ(got.get_f32(i), want.get_f32(i)) << "gemm " << name << " element " << i << " (row " << i / N
                                                 << ", aimed at a rounding midpoint): optimized " << got.get_f32(i) << ", exact rounded to even "
                                                 << want.get_f32(i);
    }
    std::vector<double> m(static_cast<std::size_t>(mag.numel()));
    for (std::int64_t i = 0; i < mag.numel(); ++i) m[static_cast<std::size_t>(i)] = mag.get_f32(i);
    const checks::KernelCheck kc = checks::check_kernel(want, got, m, mode, checks::gemm_arith(opt::isa_name(opt::active_isa())), K, post);
    ASSERT_TRUE(kc.passed()) << "gemm " << name << " " << kc.failure();
  }
  EXPECT_EQ(gemms, 8) << "every projection in both modes";
}

class GoldenPipeline : public ::testing::TestWithParam<std::tuple<std::string, std::string, std::string>> {};

TEST_P(GoldenPipeline, ProcessAndGemmMatchIndependentPython) {
  auto [ckpt, backend, pipeline] = GetParam();
  std::ifstream mf(golden_dir() / "pipeline" / "manifest.json");
  auto manifest = nlohmann::json::parse(mf);
  ASSERT_GE(manifest["sets"].size(), 3u) << "several seeds and shapes";
  for (const auto& [set, m] : manifest["sets"].items()) check_set(set, m, ckpt, backend, pipeline);
}

INSTANTIATE_TEST_SUITE_P(Checkpoints, GoldenPipeline,
                         ::testing::Combine(::testing::Values("modelopt", "ct"), ::testing::Values("cutlass", "trtllm"),
                                            ::testing::Values("reference", "optimized")),
                         [](const auto& i) { return std::get<0>(i.param) + "_" + std::get<1>(i.param) + "_" + std::get<2>(i.param); });

}  // namespace
}  // namespace nvfp4

// The nvfp4 command's contract: outputs, exit codes (0 ok, 1 failed check, 2 bad input or usage),
// one-line errors naming file and tensor, and no partial output file on failure.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <set>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "core/safetensors.h"
#include "core/test/temp_dir.h"
#include "generator/checkpoint_writer.h"
#include "generator/encoders.h"
#include "generator/test/small_model.h"
#include "tools/cli/cli.h"
#include "tools/test/cli_run.h"

namespace nvfp4 {
namespace {
namespace fs = std::filesystem;


class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    WriterOptions o = small_model();
    o.experts = 2;
    write_checkpoint(dir_.path() / "ckpt", generate_checkpoint(o), 2);
    o.input_scales = false;
    write_checkpoint(dir_.path() / "w4a16", generate_checkpoint(o), 1);
    Tensor x = Tensor::empty(DType::BF16, {3, 64});
    for (int i = 0; i < 3 * 64; ++i) x.data_as<std::uint16_t>()[i] = f32_to_bf16(0.01f * static_cast<float>(i % 37) - 0.2f);
    write_safetensors(path("x.safetensors"), {{"x", x}});
    write_safetensors(path("nox.safetensors"), {{"y", x}});
  }
  std::string path(const std::string& f) const { return (dir_.path() / f).string(); }
  TempDir dir_;
};

TEST_F(Cli, ProcessWritesEveryParameterName) {
  CliRun r = nvfp4({"process", path("ckpt"), "--backend", "trtllm", "--out", path("p.safetensors")});
  ASSERT_EQ(r.code, 0) << r.err;
  SafetensorsFile f = SafetensorsFile::open(path("p.safetensors"));
  EXPECT_EQ(f.metadata().count("pipeline"), 0u);  // both pipelines' files must be comparable byte for byte
  EXPECT_EQ(f.metadata().at("backend"), "trtllm");
  // Names an engine aliases are listed; qkv's N = 128 and K/16 = 4 need no padding, so its
  // interleaved scale is weight_scale itself.
  auto aliases = nlohmann::json::parse(f.metadata().at("aliases"));
  EXPECT_EQ(aliases["model.layers.0.mlp.experts.w13_blockscale_swizzled"], "model.layers.0.mlp.experts.w13_weight_scale");
  EXPECT_EQ(aliases["model.layers.0.mlp.experts.w2_blockscale_swizzled"], "model.layers.0.mlp.experts.w2_weight_scale");
  EXPECT_EQ(aliases["model.layers.0.self_attn.qkv_proj.weight_scale_interleaved"], "model.layers.0.self_attn.qkv_proj.weight_scale");
  EXPECT_FALSE(aliases.contains("model.layers.0.self_attn.o_proj.weight_scale_interleaved"));  // N = 64 pads to 128
  for (const char* n : {"model.layers.0.self_attn.qkv_proj.alpha", "model.layers.0.self_attn.qkv_proj.weight_scale_interleaved",
                        "model.layers.0.mlp.experts.g1_scale_c", "model.layers.0.mlp.experts.w13_blockscale_swizzled",
                        "model.layers.0.mlp.experts.w13_weight_scale_2"})
    EXPECT_NE(f.find(n), nullptr) << n;
}

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST_F(Cli, BothPipelinesWriteTheSameProcessFile) {
  for (const char* b : {"cutlass", "trtllm"}) {
    CliRun r = nvfp4({"process", path("ckpt"), "--backend", b, "--pipeline", "reference", "--out", path("r.safetensors")});
    ASSERT_EQ(r.code, 0) << r.err;
    r = nvfp4({"process", path("ckpt"), "--backend", b, "--pipeline", "optimized", "--out", path("o.safetensors")});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("(optimized, "), std::string::npos) << r.out;
    EXPECT_TRUE(slurp(path("r.safetensors")) == slurp(path("o.safetensors"))) << b;
  }
}

TEST_F(Cli, FailedProcessLeavesNoFile) {
  fs::resize_file(dir_.path() / "ckpt" / "model-00002-of-00002.safetensors", 100);
  CliRun r = nvfp4({"process", path("ckpt"), "--out", path("p.safetensors")});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("model-00002-of-00002.safetensors"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(path("p.safetensors")));
  for (const auto& e : fs::directory_iterator(dir_.path())) EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos);
}

TEST_F(Cli, GemmWritesYInTheInputDtype) {
  CliRun r = nvfp4({"gemm", path("ckpt"), "--module", "model.layers.0.self_attn.qkv_proj", "--input", path("x.safetensors"),
                 "--out", path("y.safetensors"), "--mode", "w4a4"});
  ASSERT_EQ(r.code, 0) << r.err;
  Tensor y = SafetensorsFile::open(path("y.safetensors")).tensor("y");
  EXPECT_EQ(y.dtype(), DType::BF16);
  EXPECT_EQ(y.shape(), (Shape{3, 128}));  // q 64 + k 32 + v 32
  r = nvfp4({"gemm", path("ckpt"), "--module", "model.layers.0.mlp.experts", "--expert", "1", "--proj", "w13", "--input",
             path("x.safetensors"), "--out", path("y13.safetensors"), "--mode", "w4a16", "--backend", "trtllm"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(SafetensorsFile::open(path("y13.safetensors")).tensor("y").shape(), (Shape{3, 192}));  // [gate; up], 2 * 96
}

TEST_F(Cli, GemmErrorsNameTheProblem) {
  struct E { std::vector<std::string> args; std::string message; };
  const std::vector<E> cases = {
      {{"--module", "model.layers.0.nope", "--input", path("x.safetensors"), "--mode", "w4a16"}, "ckpt: model.layers.0.nope: no such quantized module"},
      {{"--module", "model.layers.0.mlp.experts", "--expert", "0", "--proj", "w2", "--input", path("x.safetensors"), "--mode", "w4a16"},
       "x.safetensors: x: shape [3, 64] does not match K = 96"},
      {{"--module", "model.layers.0.self_attn.o_proj", "--input", path("nox.safetensors"), "--mode", "w4a16"}, "nox.safetensors: x: input file has no tensor named x"},
      {{"--module", "model.layers.0.mlp.experts", "--expert", "5", "--proj", "w2", "--input", path("x.safetensors"), "--mode", "w4a16"}, "expert 5 out of range"},
      {{"--module", "model.layers.0.self_attn.o_proj", "--input", path("x.safetensors"), "--mode", "w8a8"}, "--mode: must be one of w4a4|w4a16, not \"w8a8\""},
  };
  for (const char* pipeline : {"reference", "optimized"}) {
    for (const auto& c : cases) {
      std::vector<std::string> args{"gemm", path("ckpt"), "--out", path("bad.safetensors"), "--pipeline", pipeline};
      args.insert(args.end(), c.args.begin(), c.args.end());
      CliRun r = nvfp4(args);
      EXPECT_EQ(r.code, 2) << pipeline << ": " << c.message;
      EXPECT_NE(r.err.find(c.message), std::string::npos) << pipeline << ": " << r.err;
      EXPECT_FALSE(fs::exists(path("bad.safetensors")));
    }
    CliRun r = nvfp4({"gemm", path("w4a16"), "--module", "model.layers.0.self_attn.o_proj", "--input", path("x.safetensors"),
                      "--out", path("bad.safetensors"), "--mode", "w4a4", "--pipeline", pipeline});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("w4a4 needs input scales"), std::string::npos) << pipeline << ": " << r.err;
  }
}

TEST_F(Cli, VerifyPassesAndSpeaksJson) {
  CliRun r = nvfp4({"verify", path("ckpt"), "--backend", "trtllm", "--reloads", "1", "--json"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["passed"].get<bool>());
  EXPECT_GE(j["checks"].size(), 8u);
  std::set<std::string> names;
  for (const auto& ch : j["checks"]) names.insert(ch["name"].get<std::string>());
  // Per module (verify streams one module at a time), every expert multiplied in both projections.
  const std::string x = "model.layers.0.mlp.experts: ";
  EXPECT_TRUE(names.count(x + "reference == optimized after loading and processing (trtllm): every name, alias and byte"));
  EXPECT_TRUE(names.count(x + "reload 1: bitwise idempotent, identities kept (optimized: addresses kept, 0 bytes allocated)"));
  EXPECT_TRUE(names.count(x + "GEMM w4a4 expert 0 w13: optimized kernel vs exact oracle"));
  int experts_multiplied = 0;
  for (const auto& n : names)
    if (n.rfind(x + "GEMM w4a16 expert ", 0) == 0 && n.find(" w2: optimized kernel") != std::string::npos) ++experts_multiplied;
  EXPECT_GE(experts_multiplied, 2) << "every expert's w2, not only the last";
  bool failed_reload = false;
  for (const auto& n : names) failed_reload |= n.rfind(x + "a failed reload (", 0) == 0;
  EXPECT_TRUE(failed_reload);
  EXPECT_GE(j["modules"].get<int>(), 2);
  EXPECT_NE(j["sampled"]["description"].get<std::string>().find("every output row"), std::string::npos);
  r = nvfp4({"verify", path("w4a16")});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(r.out.find("GEMM w4a4"), std::string::npos) << "w4a4 needs input scales; a W4A16 checkpoint skips it";
}

TEST_F(Cli, VerifyChecksLargeExpertLayersInChunks) {
  // Six experts of ~0.8 MiB each against a 1 MiB chunk: one expert per unit, each renumbered from 0
  // in its view, reported under its own index; the same checks pass as for the whole layer.
  WriterOptions o = small_model();
  o.hidden = 512;
  o.intermediate = 1024;
  o.experts = 6;
  o.unequal_scales = true;
  write_checkpoint(path("moe6"), generate_checkpoint(o), 2);
  CliRun whole = nvfp4({"verify", path("moe6"), "--activation-rows", "1", "--reloads", "1", "--json"});
  CliRun chunked = nvfp4({"verify", path("moe6"), "--activation-rows", "1", "--reloads", "1", "--json", "--experts-chunk-mib", "1"});
  ASSERT_EQ(whole.code, 0) << whole.out;
  ASSERT_EQ(chunked.code, whole.code) << chunked.err;
  auto j = nlohmann::json::parse(chunked.out);
  // Past 128 rows the Eigen cross-check takes the first and last 64 (w13 of one expert: 2 I = 2048).
  bool edges = false;
  for (const auto& ch : j["checks"])
    if (ch["name"] == "model.layers.0.mlp.experts[experts 5..5]: GEMM w4a4 expert 5 w13: reference Eigen path vs exact oracle")
      edges = ch["detail"].get<std::string>().rfind("rows 0-63 and 1984-2047 of 2048 x K=512, 1 activation rows", 0) == 0;
  EXPECT_TRUE(edges) << chunked.out;
  std::set<std::string> names;
  for (const auto& ch : j["checks"]) names.insert(ch["name"].get<std::string>());
  EXPECT_TRUE(names.count("model.layers.0.mlp.experts[experts 5..5]: GEMM w4a4 expert 5 w2: optimized kernel vs exact oracle"));
  EXPECT_TRUE(names.count("model.layers.0.mlp.experts[experts 0..0]: reference == optimized after loading and processing (cutlass): every name, alias and byte"));
  // Reconciles too carry the expert's index in the file, not the chunk's 0 (unequal scales: one
  // half of each expert is reconciled onto the other's global scale).
  for (int e = 0; e < 6; ++e) {
    const std::string x = "model.layers.0.mlp.experts[experts " + std::to_string(e) + ".." + std::to_string(e) + "]";
    int reconciles = 0;
    for (const auto& n : names) reconciles += n.rfind(x + ": reconcile expert " + std::to_string(e) + " shard w", 0) == 0;
    EXPECT_EQ(reconciles, 1) << x;
  }
  EXPECT_NE(j["sampled"]["description"].get<std::string>().find("derived per chunk"), std::string::npos);
  EXPECT_LT(j["largest_module_peak_bytes"].get<std::int64_t>(),
            nlohmann::json::parse(whole.out)["largest_module_peak_bytes"].get<std::int64_t>() / 3);
}

// Overwrites bytes of one tensor in a checkpoint's single file, found through its header.
void patch_tensor(const fs::path& file, const std::string& name, std::size_t at, const std::vector<std::uint8_t>& bytes) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  std::uint64_t n = 0;
  f.read(reinterpret_cast<char*>(&n), 8);
  std::string h(n, '\0');
  f.read(h.data(), static_cast<std::streamsize>(n));
  const auto off = nlohmann::json::parse(h)[name]["data_offsets"][0].get<std::uint64_t>();
  f.seekp(static_cast<std::streamoff>(8 + n + off + at));
  for (std::uint8_t b : bytes) f.put(static_cast<char>(b));
}

TEST_F(Cli, VerifyReportsDataProblemsAsFailedChecksWithTheFullReport) {
  // Exit 1, not 2: the file is a valid checkpoint whose values are wrong, so every other module is
  // still checked and reported. A malformed file stays exit 2 with one line.
  struct Case { const char* name; const char* tensor; std::vector<std::uint8_t> bytes; const char* why; };
  const std::vector<Case> cases = {
      {"nan", "model.layers.0.mlp.experts.1.down_proj.weight_scale", {0x7F}, "NaN block scale"},
      {"zero", "model.layers.0.self_attn.o_proj.weight_scale_2", {0, 0, 0, 0}, "global scale"},
  };
  for (const auto& c : cases) {
    WriterOptions o = small_model();
    o.experts = 2;
    o.layers = 2;
    write_checkpoint(path(c.name), generate_checkpoint(o), 1);
    patch_tensor(fs::path(path(c.name)) / "model.safetensors", c.tensor, 0, c.bytes);
    CliRun r = nvfp4({"verify", path(c.name), "--activation-rows", "1", "--reloads", "1"});
    EXPECT_EQ(r.code, 1) << c.name << ": " << r.err;
    EXPECT_TRUE(r.err.empty()) << r.err;
    EXPECT_NE(r.out.find("FAIL checkpoint findings"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(": loads and processes (both pipelines): refused: "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(c.why), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("PASS model.layers.1.mlp.experts: reference == optimized"), std::string::npos) << "the other modules still run: " << r.out;
    // The per-module table: the refused module fails on its one check, the others pass.
    const std::string refused = c.name == std::string("nan") ? "model\\.layers\\.0\\.mlp\\.experts +experts x2 +1 +FAIL"
                                                             : "model\\.layers\\.0\\.self_attn\\.o_proj +linear +1 +FAIL";
    EXPECT_TRUE(std::regex_search(r.out, std::regex(refused))) << refused << "\n" << r.out;
    EXPECT_TRUE(std::regex_search(r.out, std::regex("model\\.layers\\.1\\.mlp\\.experts +experts x2 +[0-9]+ +PASS +[0-9.e-]+ "))) << r.out;
    EXPECT_NE(r.out.find("not checked:\n  - activations other than 1 random normal rows"), std::string::npos) << r.out;
    CliRun j = nvfp4({"verify", path(c.name), "--activation-rows", "0", "--reloads", "0", "--json"});
    EXPECT_EQ(j.code, 1);
    EXPECT_FALSE(nlohmann::json::parse(j.out)["passed"].get<bool>());
  }
  // A dead module (every block scale zero) loads and multiplies fine, to exactly 0, and used to
  // pass every check: the findings fail it, and the report still covers everything.
  WriterOptions o = small_model();
  o.layers = 2;
  write_checkpoint(path("dead"), generate_checkpoint(o), 1);
  const std::string scale = "model.layers.1.mlp.down_proj.weight_scale";
  const auto numel = SafetensorsFile::open(fs::path(path("dead")) / "model.safetensors").tensor(scale).numel();
  patch_tensor(fs::path(path("dead")) / "model.safetensors", scale, 0, std::vector<std::uint8_t>(static_cast<std::size_t>(numel), 0));
  CliRun dead = nvfp4({"verify", path("dead"), "--activation-rows", "1", "--reloads", "1"});
  EXPECT_EQ(dead.code, 1) << dead.out;
  EXPECT_NE(dead.out.find("FAIL " + path("dead") + "/model.safetensors: " + scale + ": every block scale is zero"), std::string::npos) << dead.out;
  EXPECT_NE(dead.out.find("PASS model.layers.1.mlp.down_proj: GEMM w4a4: optimized kernel vs exact oracle"), std::string::npos) << dead.out;
  // Malformed: the header claims more bytes than the file holds.
  fs::resize_file(fs::path(path("nan")) / "model.safetensors", fs::file_size(fs::path(path("nan")) / "model.safetensors") - 1);
  CliRun r = nvfp4({"verify", path("nan")});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(r.out.empty());
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST_F(Cli, DemoPrintsOneRowPerModuleAndHolds) {
  CliRun r = nvfp4({"demo", "--dir", path("demo")});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("all 20 modules hold on both pipelines"), std::string::npos) << r.out;
  for (const char* row : {"dense fused (cutlass)  model.layers.1.self_attn.qkv_proj  linear x3   equal       same         = fresh     unchanged",
                          "moe unfused (trtllm)   model.layers.0.mlp.experts         experts x8  equal       same         = fresh     unchanged"})
    EXPECT_NE(r.out.find(row), std::string::npos) << row << "\n" << r.out;
  // The GEMM cells count the projections multiplied: 8 experts x (w13, w2), one per linear module.
  for (const char* row : {"moe unfused (trtllm)   model.layers.0.mlp.experts ", "dense fused (cutlass)  model.layers.1.self_attn.qkv_proj "}) {
    const auto at = r.out.find(row);
    ASSERT_NE(at, std::string::npos) << row;
    const std::string line = r.out.substr(at, r.out.find('\n', at) - at);
    const std::string n = std::string(row).find("experts") != std::string::npos ? "16" : "1";
    EXPECT_TRUE(std::regex_search(line, std::regex("[0-9]\\.[0-9]{2} of bound, " + n + " +[0-9]\\.[0-9]{2} of bound, " + n + "( |$)"))) << line;
  }
  EXPECT_NE(r.out.find("allocated by a reload"), std::string::npos);
  EXPECT_NE(r.out.find(" 0 (0.00 MiB)"), std::string::npos) << "the optimized reload allocates nothing: " << r.out;
  EXPECT_TRUE(fs::exists(fs::path(path("demo")) / "moe-unfused-trtllm-corrupt")) << "--dir keeps the checkpoints";
}

TEST_F(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(nvfp4({}).code, 2);
  EXPECT_EQ(nvfp4({"frobnicate"}).code, 2);
  CliRun r = nvfp4({"inspect", path("ckpt"), "--colour"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown option --colour"), std::string::npos);
  r = nvfp4({"process", path("ckpt"), "--out", path("p.safetensors"), "--pipeline", "fast"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--pipeline: must be one of reference|optimized, not \"fast\""), std::string::npos) << r.err;
  EXPECT_EQ(nvfp4({"make-checkpoint", path("m"), "--hidden", "100"}).code, 2);  // not a multiple of 16
  EXPECT_EQ(nvfp4({"--help"}).code, 0);
}

}  // namespace
}  // namespace nvfp4

// Hostile files against the nvfp4 command, one test per defect class: files that are not regular
// files, outputs inside the checkpoint, errors that escaped as "internal error", and NaN/Inf or
// too-large activations. Each input is crafted by hand; each expectation is the specific one-line
// refusal a user should see.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "core/safetensors.h"
#include "generator/encoders.h"
#include "tools/test/cli_run.h"
#include "tools/test/hostile_util.h"

namespace nvfp4::hostile_test {
namespace {

// --- Files that are not regular files ----------------------------------------------------------

TEST_F(Hostile, FifosDevicesAndHugeJsonAreRefusedWithoutBlocking) {
  // A FIFO config.json used to block forever in open(); the ctest timeout would catch a regression.
  fs::path c = good("fifo");
  fs::remove(c / "config.json");
  ASSERT_EQ(mkfifo((c / "config.json").c_str(), 0600), 0);
  CliRun r = nvfp4({"inspect", c.string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("config.json: is a FIFO, not a regular file"), std::string::npos) << r.err;

  // A shard that is /dev/zero (through a symlink, as the HF cache links its blobs) is refused;
  // a symlink to a regular file is fine.
  fs::path d = good("dev");
  fs::rename(d / "model.safetensors", dir("blob.safetensors"));
  fs::create_symlink(dir("blob.safetensors"), d / "model.safetensors");
  EXPECT_EQ(nvfp4({"inspect", d.string()}).code, 0);
  fs::create_symlink("/dev/zero", d / "zero.safetensors");
  fs::remove(d / "model.safetensors.index.json");
  r = nvfp4({"inspect", d.string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("zero.safetensors: is a character device, not a regular file"), std::string::npos) << r.err;

  // A 65 MiB config.json (sparse: no disk used) is refused by size before it is read.
  fs::path h = good("huge_json");
  fs::resize_file(h / "config.json", 65ull << 20);
  r = nvfp4({"inspect", h.string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("config.json: is 68157440 bytes; files of this kind are capped at 67108864"), std::string::npos) << r.err;
}

// --- Where output goes --------------------------------------------------------------------------

TEST_F(Hostile, OutputsInsideTheCheckpointOrUnnamedAreRefused) {
  fs::path c = good("ck");
  for (const std::string cmd : {"process", "gemm"}) {
    std::vector<std::string> args{cmd, c.string(), "--out", (c / "y.safetensors").string()};
    if (cmd == "gemm") args.insert(args.end(), {"--module", "m", "--input", "x", "--mode", "w4a16"});
    CliRun r = nvfp4(args);
    EXPECT_EQ(r.code, 2) << cmd;
    EXPECT_NE(r.err.find("is inside the checkpoint directory"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(c / "y.safetensors"));
    args[3] = "";
    r = nvfp4(args);
    EXPECT_EQ(r.code, 2) << cmd;
    EXPECT_NE(r.err.find("--out must name a file, not \"\""), std::string::npos) << r.err;
  }
  // Through another spelling of the same directory.
  CliRun r = nvfp4({"process", c.string(), "--out", (c / ".." / "ck" / "y.safetensors").string()});
  EXPECT_NE(r.err.find("is inside the checkpoint directory"), std::string::npos) << r.err;
}

// --- Errors that escaped as "internal error" ------------------------------------------------------

TEST_F(Hostile, EveryFailureIsATypedOneLineError) {
  // An expert index of 30 digits: std::stoll threw out_of_range, reported as an internal error.
  WriterOptions o = small_model();
  o.experts = 1;
  GeneratedCheckpoint g = generate_checkpoint(o), h = g;
  h.tensors.clear();
  for (auto& [n, t] : g.tensors) {
    std::string k = n;
    if (auto at = k.find(".experts.0."); at != std::string::npos) k.replace(at, 11, ".experts.999999999999999999999999999999.");
    h.tensors[k] = t;
  }
  write_checkpoint(dir("bigexp"), h, 1);
  CliRun r = nvfp4({"inspect", dir("bigexp").string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(one_printable_line(r.err)) << r.err;
  EXPECT_NE(r.err.find("expert index out of range"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("internal error"), std::string::npos);

  // An error raised where no file is known (trtllm's H % 64 rule, inside a pipeline) names the
  // checkpoint the command was working on.
  o = small_model();
  o.hidden = 48;
  o.experts = 2;
  write_checkpoint(dir("h48"), generate_checkpoint(o), 1);
  for (const std::string pipeline : {"reference", "optimized"}) {
    r = nvfp4({"process", dir("h48").string(), "--backend", "trtllm", "--pipeline", pipeline, "--out", dir("p.safetensors").string()});
    EXPECT_EQ(r.code, 2) << pipeline;
    EXPECT_TRUE(one_printable_line(r.err)) << r.err;
    EXPECT_EQ(r.err.rfind("nvfp4 process: " + dir("h48").string() + ": ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find("multiple of 64"), std::string::npos) << r.err;
  }

  // Nothing quantized at all: a clear bad-input error for the commands that need modules.
  fs::create_directories(dir("plain"));
  Tensor t = Tensor::empty(DType::F32, {2});
  t.data_as<float>()[0] = t.data_as<float>()[1] = 1.0f;
  write_safetensors(dir("plain") / "model.safetensors", {{"lm_head.weight", t}});
  for (const std::string cmd : {"verify", "process"}) {
    std::vector<std::string> args{cmd, dir("plain").string()};
    if (cmd == "process") args.insert(args.end(), {"--out", dir("p.safetensors").string()});
    r = nvfp4(args);
    EXPECT_EQ(r.code, 2) << cmd;
    EXPECT_TRUE(one_printable_line(r.err)) << r.err;
    EXPECT_NE(r.err.find("no quantized modules"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("usage:"), std::string::npos) << r.err;
  }
}

// --- NaN/Inf activations ------------------------------------------------------------------------

TEST_F(Hostile, NonFiniteActivationsAreRefusedInBothModesByBothPipelines) {
  fs::path c = good("nan");
  for (float bad : {NAN, INFINITY, -INFINITY}) {
    Tensor x = Tensor::empty(DType::BF16, {2, 64});
    for (int i = 0; i < 128; ++i) x.data_as<std::uint16_t>()[i] = f32_to_bf16(0.25f);
    x.data_as<std::uint16_t>()[64 + 5] = f32_to_bf16(bad);
    write_safetensors(dir("x.safetensors"), {{"x", x}});
    for (const std::string pipeline : {"reference", "optimized"})
      for (const std::string mode : {"w4a4", "w4a16"}) {
        CliRun r = nvfp4({"gemm", c.string(), "--module", "model.layers.0.self_attn.o_proj", "--input", dir("x.safetensors").string(),
                          "--out", dir("y.safetensors").string(), "--mode", mode, "--pipeline", pipeline});
        EXPECT_EQ(r.code, 2) << pipeline << " " << mode;
        EXPECT_NE(r.err.find("x.safetensors: x: holds a non-finite value at [1, 5] (NaN and Inf activations are refused in both modes)"),
                  std::string::npos)
            << r.err;
        EXPECT_FALSE(fs::exists(dir("y.safetensors")));
      }
  }
}

TEST_F(Hostile, W4a16RefusesActivationsPastItsF32Domain) {
  // Found by fuzz/gemm_differential: |x| near FLT_MAX made the f32 accumulation of x * e2m1 * S
  // overflow to inf where the exact result (after the small global scale) is finite. w4a16 is
  // defined for |x| < FLT_MAX / (5376 K); here K = 64: 3.40282e38 / 344064 = 9.89009e32.
  fs::path c = good("big");
  Tensor x = Tensor::empty(DType::F32, {2, 64});
  for (int i = 0; i < 128; ++i) x.data_as<float>()[i] = 1.0f;
  x.data_as<float>()[64 + 9] = 1e33f;
  x.data_as<float>()[64 + 20] = NAN;  // later in row-major order: the first offending element is named
  write_safetensors(dir("x.safetensors"), {{"x", x}});
  for (const std::string pipeline : {"reference", "optimized"}) {
    CliRun r = nvfp4({"gemm", c.string(), "--module", "model.layers.0.self_attn.o_proj", "--input", dir("x.safetensors").string(),
                      "--out", dir("y.safetensors").string(), "--mode", "w4a16", "--pipeline", pipeline});
    EXPECT_EQ(r.code, 2) << pipeline;
    EXPECT_NE(r.err.find("x: holds |x| = 1e+33 at [1, 9], past the w4a16 limit FLT_MAX / (5376 K) = 9.89009e+32"), std::string::npos)
        << r.err;
    // w4a4 quantizes per block first, so 1e33 is in its domain; the NaN is not.
    r = nvfp4({"gemm", c.string(), "--module", "model.layers.0.self_attn.o_proj", "--input", dir("x.safetensors").string(), "--out",
               dir("y.safetensors").string(), "--mode", "w4a4", "--pipeline", pipeline});
    EXPECT_EQ(r.code, 2) << pipeline;
    EXPECT_NE(r.err.find("x: holds a non-finite value at [1, 20]"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace nvfp4::hostile_test

// `process` and `gemm` on an MoE checkpoint hold one chunk of a layer's experts (process) or one
// expert (gemm) at a time, and write the bytes that the whole layer loaded at once gives. The
// checkpoint: 5 experts of ~0.83 MiB (H = 512, I = 1008: 2I and I/16 off the 128x4 swizzle, so
// cutlass keeps separate swizzled scales and trtllm pads I), each expert's gate, up and down with
// input scales of their own (unequal scales), so that a chunk's own maxima differ from the layer's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>

#include "core/allocator.h"
#include "core/checkpoint.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "core/test/temp_dir.h"
#include "generator/checkpoint_writer.h"
#include "generator/encoders.h"
#include "generator/test/small_model.h"
#include "registry/registry.h"
#include "tools/cli/process_stream.h"
#include "tools/test/cli_run.h"

namespace nvfp4 {
namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

class Streaming : public ::testing::TestWithParam<CkptFormat> {
 protected:
  void SetUp() override {
    WriterOptions o = small_model();
    o.hidden = 512;
    o.intermediate = 1008;
    o.experts = 5;
    o.unequal_scales = true;
    o.format = GetParam();
    o.scalars = ScalarStyle::Dim0BF16;  // ModelOpt's input scales as BF16 (compressed-tensors: F32 reciprocals)
    write_checkpoint(dir_.path() / "ckpt", generate_checkpoint(o), 2);
    for (const std::int64_t K : {512, 1008}) {  // w13's K = H, w2's K = I
      Tensor x = Tensor::empty(DType::BF16, {3, K});
      for (std::int64_t i = 0; i < 3 * K; ++i) x.data_as<std::uint16_t>()[i] = f32_to_bf16(0.01f * static_cast<float>(i % 41) - 0.2f);
      write_safetensors(path("x" + std::to_string(K) + ".safetensors"), {{"x", x}});
    }
  }
  std::string path(const std::string& f) const { return (dir_.path() / f).string(); }
  TempDir dir_;
};

TEST_P(Streaming, ProcessInExpertChunksWritesTheWholeLayersBytes) {
  for (const char* pipeline : {"reference", "optimized"})
    for (const char* b : {"cutlass", "trtllm"}) {
      auto process = [&](const char* mib, const char* jobs) {
        CliRun r = nvfp4({"process", path("ckpt"), "--pipeline", pipeline, "--backend", b, "--experts-chunk-mib", mib, "--out", path("p.safetensors"),
                          "--jobs", jobs});
        EXPECT_EQ(r.code, 0) << r.err;
        return r.out + slurp(path("p.safetensors"));  // the same counts of parameters and modules, the same bytes
      };
      const std::string whole = process("0", "1");
      ASSERT_GT(whole.size(), 4u << 20);
      EXPECT_TRUE(process("1", "1") == whole) << pipeline << " " << b << ": one expert a chunk";
      EXPECT_TRUE(process("2", "1") == whole) << pipeline << " " << b << ": two experts a chunk (2, 2, 1)";
      EXPECT_TRUE(process("64", "1") == whole) << pipeline << " " << b << ": the default, one chunk";
      // Several units at once, finishing in any order, are written in checkpoint order: the same file.
      EXPECT_TRUE(process("1", "3") == whole) << pipeline << " " << b << ": one expert a chunk, 3 jobs";
      EXPECT_TRUE(process("0", "2") == whole) << pipeline << " " << b << ": whole layers, 2 jobs";
    }
}

TEST_P(Streaming, ProcessPlansTheFileAndWritesEachByteOnce) {
  // One unit of each kind processed first gives every parameter's name, dtype, shape and alias, so
  // that each byte goes straight into place; a plan that a unit then contradicts (the experts'
  // w13_weight planned one column wider, or as an alias: the experts units come after every linear
  // one, so the planned run has reported units before it meets the contradiction) falls back to the
  // temporary data file: the same bytes either way, every unit reported once, nothing left beside
  // the file.
  const Checkpoint ck = Checkpoint::open(path("ckpt"));
  const std::vector<std::pair<std::string, std::function<void(Shape&, std::string&)>>> contradictions = {
      {"shape", [](Shape& shape, std::string&) { ++shape.back(); }},
      {"alias", [](Shape&, std::string& alias) { alias = "w13_weight_scale"; }},
  };
  for (const char* pipeline : {"reference", "optimized"})
    for (const Backend b : {Backend::Cutlass, Backend::Trtllm})
      for (const std::uint64_t chunk : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{2} << 20})
        for (const int jobs : {1, 3}) {
          const std::string at = std::string(pipeline) + " " + backend_name(b) + " chunk " + std::to_string(chunk) + " jobs " + std::to_string(jobs);
          std::vector<std::string> reported;
          auto on_unit = [&](const std::string& unit, std::size_t) { reported.push_back(unit); };
          const cli::ProcessedCounts planned = cli::process_streaming(ck, pipeline, b, path("planned.safetensors"), chunk, on_unit, jobs);
          EXPECT_TRUE(planned.planned) << at;
          const std::vector<std::string> once = reported;
          for (const auto& [what, contradict] : contradictions) {
            reported.clear();
            int met = 0;
            struct Hook {  // reset however the run ends: later tests run commands in this process
              ~Hook() { cli::process_testing::perturb_plan = nullptr; }
            } hook;
            cli::process_testing::perturb_plan = [&](const std::string& parameter, Shape& shape, std::string& alias) {
              if (parameter == "w13_weight" && met++ == 0) contradict(shape, alias);
            };
            const cli::ProcessedCounts fallback = cli::process_streaming(ck, pipeline, b, path("fallback.safetensors"), chunk, on_unit, jobs);
            EXPECT_GE(met, 1) << at << " " << what << ": the hook met the experts' weights";
            EXPECT_FALSE(fallback.planned) << at << " " << what;
            EXPECT_EQ(fallback.params, planned.params) << at << " " << what;
            EXPECT_EQ(reported, once) << at << " " << what << ": every unit reported once, in checkpoint order";
            EXPECT_TRUE(slurp(path("planned.safetensors")) == slurp(path("fallback.safetensors"))) << at << " " << what;
            std::size_t files = 0;
            for (const auto& e : std::filesystem::directory_iterator(dir_.path())) files += e.path().filename().string().find(".tmp.") != std::string::npos;
            EXPECT_EQ(files, 0u) << at << " " << what << ": a temporary left behind";
          }
        }
}

TEST_P(Streaming, ProcessIntoAFileThatCannotBeCreatedFailsAsBefore) {
  // The planned file refused (here: its folder is missing): the run falls back, the temporary data
  // file meets the same refusal, and the user sees the error the command always gave, naming the
  // file (not a plan's internal mismatch).
  const Checkpoint ck = Checkpoint::open(path("ckpt"));
  const std::string file = path("missing/p.safetensors");
  try {
    cli::process_streaming(ck, "reference", Backend::Cutlass, file, 0);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Io) << e.what();
    EXPECT_EQ(e.file(), file) << e.what();
    EXPECT_NE(std::string(e.what()).find("cannot create"), std::string::npos) << e.what();
  }
}

// verify and process take huge pages while they run (core/allocator.h) and leave the setting as
// it was: the Python package runs commands in its own long-lived process.
TEST_P(Streaming, VerifyAndProcessLeaveHugePagesAsTheyWere) {
  ASSERT_FALSE(TrackingAllocator::global().huge_pages());
  EXPECT_EQ(nvfp4({"verify", path("ckpt"), "--activation-rows", "0", "--reloads", "0"}).code, 0);
  EXPECT_FALSE(TrackingAllocator::global().huge_pages()) << "after verify";
  EXPECT_EQ(nvfp4({"process", path("ckpt"), "--out", path("p.safetensors")}).code, 0);
  EXPECT_FALSE(TrackingAllocator::global().huge_pages()) << "after process";
}

TEST_P(Streaming, ProcessInParallelReportsTheFirstBadUnitInCheckpointOrder) {
  // The first two units in checkpoint order (layer 0's down_proj, then gate_up_proj) refused for
  // their data (a NaN global scale), so that parallel jobs meet both; however they finish, the
  // error is the one a single job meets first, and no file is written.
  GeneratedCheckpoint g = generate_checkpoint([] {
    WriterOptions o = small_model();
    o.layers = 4;
    return o;
  }());
  for (const char* m : {"model.layers.0.mlp.down_proj", "model.layers.0.mlp.gate_proj"}) {
    Tensor& s2 = g.tensors.at(std::string(m) + ".weight_scale_2");
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::memcpy(s2.data(), &nan, 4);
  }
  write_checkpoint(dir_.path() / "bad", g, 1);
  const CliRun one = nvfp4({"process", path("bad"), "--out", path("q.safetensors"), "--jobs", "1"});
  ASSERT_EQ(one.code, 2) << one.err;
  ASSERT_NE(one.err.find("model.layers.0.mlp.down_proj"), std::string::npos) << one.err;
  for (int run = 0; run < 8; ++run) {
    const CliRun many = nvfp4({"process", path("bad"), "--out", path("q.safetensors"), "--jobs", "3"});
    EXPECT_EQ(many.code, 2);
    EXPECT_EQ(many.err, one.err);
  }
  EXPECT_FALSE(std::filesystem::exists(path("q.safetensors")));
}

TEST_P(Streaming, ProcessReportsABadUnitThatThePlanDidNotProcess) {
  // Layer 2's down_proj refused for its data (a NaN global scale): planning processes layer 0's
  // units only, so the failure comes while the planned file is written; the same error as one job
  // without a plan would give, and nothing left behind.
  GeneratedCheckpoint g = generate_checkpoint([] {
    WriterOptions o = small_model();
    o.layers = 4;
    return o;
  }());
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(g.tensors.at("model.layers.2.mlp.down_proj.weight_scale_2").data(), &nan, 4);
  write_checkpoint(dir_.path() / "bad2", g, 1);
  for (const char* jobs : {"1", "3"}) {
    const CliRun r = nvfp4({"process", path("bad2"), "--out", path("q.safetensors"), "--jobs", jobs});
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find("model.layers.2.mlp.down_proj"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  for (const auto& e : std::filesystem::directory_iterator(dir_.path()))
    EXPECT_EQ(e.path().filename().string().find("q.safetensors"), std::string::npos) << e.path();
}

TEST_P(Streaming, GemmLoadsOneExpertAndGivesTheWholeLayersY) {
  for (const char* pipeline : {"reference", "optimized"})
    for (const Backend b : {Backend::Cutlass, Backend::Trtllm}) {
      auto whole = make_pipeline(pipeline, b);
      whole->load_weights(Checkpoint::open(path("ckpt")));
      whole->process_weights_after_loading(b);
      for (const GemmMode mode : {GemmMode::W4A4, GemmMode::W4A16})
        for (const int e : {0, 3, 4})
          for (const char* proj : {"w13", "w2"}) {
            const bool w13 = std::string(proj) == "w13";
            CliRun r = nvfp4({"gemm", path("ckpt"), "--module", "model.layers.0.mlp.experts", "--expert", std::to_string(e), "--proj", proj,
                              "--input", path(w13 ? "x512.safetensors" : "x1008.safetensors"), "--out", path("y.safetensors"), "--mode",
                              gemm_mode_name(mode), "--backend", backend_name(b), "--pipeline", pipeline});
            ASSERT_EQ(r.code, 0) << r.err;
            const Tensor x = SafetensorsFile::open(path(w13 ? "x512.safetensors" : "x1008.safetensors")).tensor("x");
            const Tensor want = whole->gemm({"model.layers.0.mlp.experts", e, proj}, x, mode);
            const Tensor got = SafetensorsFile::open(path("y.safetensors")).tensor("y");
            ASSERT_EQ(got.shape(), want.shape());
            EXPECT_EQ(std::memcmp(got.data(), want.data(), static_cast<std::size_t>(want.nbytes())), 0)
                << pipeline << " " << backend_name(b) << " " << gemm_mode_name(mode) << " expert " << e << " " << proj;
          }
    }
}

INSTANTIATE_TEST_SUITE_P(Formats, Streaming, ::testing::Values(CkptFormat::ModelOpt, CkptFormat::CompressedTensors),
                         [](const auto& i) { return i.param == CkptFormat::ModelOpt ? std::string("modelopt") : std::string("compressed_tensors"); });

}  // namespace
}  // namespace nvfp4

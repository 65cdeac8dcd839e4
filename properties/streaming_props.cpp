// Streaming changes how much is held at once, never what comes out: on generated
// checkpoints of every layout, `nvfp4 process` (module by module, a layer's experts whole or in
// chunks of any size) writes exactly the bytes that processing the whole checkpoint in one
// pipeline and writing it in one go does, for both pipelines; the writer on threads writes the files of generating in memory first; and
// `nvfp4 verify` reports the same with one job as with several.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/checkpoint.h"
#include "core/safetensors.h"
#include "core/test/temp_dir.h"
#include "generator/checkpoint_writer.h"
#include "properties/generators.h"
#include "registry/registry.h"
#include "tools/cli/cli.h"
#include "tools/cli/process_stream.h"

namespace nvfp4 {
namespace {

std::vector<char> slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// Exit 1 (a check failed: generated data can push a reconcile past its bound) still has a report.
std::string run(const std::vector<std::string>& args, bool report_on_fail = false) {
  std::ostringstream out, err;
  const int code = cli::run(args, out, err);
  if (code != 0 && !(report_on_fail && code == 1)) RC_FAIL("nvfp4 " + args[0] + " exited " + std::to_string(code) + ": " + err.str() + out.str().substr(0, 4000));
  return out.str();
}

// The whole checkpoint in one pipeline, every parameter written in one go (what `process` did
// before it streamed).
void process_whole(const std::filesystem::path& ckpt, const std::string& pipeline, Backend b, const std::filesystem::path& file) {
  auto p = make_pipeline(pipeline, b);
  p->load_weights(Checkpoint::open(ckpt));
  p->process_weights_after_loading(b);
  std::vector<TensorToWrite> ts;
  nlohmann::json aliases = nlohmann::json::object();
  for (const auto& [mname, m] : p->modules())
    for (const auto& [pname, param] : m.entries()) {
      ts.push_back({mname + "." + pname, param->data});
      const std::string target = m.alias_of(pname);
      if (!target.empty()) aliases[mname + "." + pname] = mname + "." + target;
    }
  write_safetensors(file, ts, {{"backend", backend_name(b)}, {"aliases", aliases.dump()}});
}

RC_GTEST_PROP(StreamingProps, ProcessWritesTheWholeCheckpointsBytes, ()) {
  const PipelineCase c = *gen::pipeline_case();
  TempDir d;
  write_checkpoint(d.path() / "ckpt", generate_checkpoint(c.ckpt), c.ckpt.files);
  const std::string pipeline = *rc::gen::elementOf(pipeline_names());
  RC_TAG(pipeline, backend_name(c.backend));
  run({"process", (d.path() / "ckpt").string(), "--pipeline", pipeline, "--backend", backend_name(c.backend), "--out",
       (d.path() / "streamed.safetensors").string()});
  process_whole(d.path() / "ckpt", pipeline, c.backend, d.path() / "whole.safetensors");
  const auto a = slurp(d.path() / "streamed.safetensors"), b = slurp(d.path() / "whole.safetensors");
  if (a != b) {
    std::size_t i = 0;
    while (i < std::min(a.size(), b.size()) && a[i] == b[i]) ++i;
    RC_FAIL(pipeline + ": streamed file (" + std::to_string(a.size()) + " bytes) and whole-checkpoint file (" + std::to_string(b.size()) +
            " bytes) first differ at byte " + std::to_string(i));
  }
}

RC_GTEST_PROP(StreamingProps, ProcessInExpertChunksWritesTheWholeLayersBytes, ()) {
  // A layer's experts in chunks of whole experts, at any byte size below the layer's (down to one
  // expert a chunk): each chunk derives the alphas and *_input_scale_quant from the layer's
  // input-scale maxima, not its own, so the file is the whole checkpoint's.
  const PipelineCase c = *rc::gen::suchThat(gen::pipeline_case(), [](const PipelineCase& p) { return p.ckpt.experts >= 2; });
  TempDir d;
  write_checkpoint(d.path() / "ckpt", generate_checkpoint(c.ckpt), c.ckpt.files);
  const Checkpoint ck = Checkpoint::open(d.path() / "ckpt");
  std::uint64_t layer = 0;
  for (const auto& u : module_units(ck, map_modules(ck)))
    if (u.experts) layer = std::max(layer, u.bytes);
  const std::uint64_t chunk = *rc::gen::inRange<std::uint64_t>(1, layer);
  const std::string pipeline = *rc::gen::elementOf(pipeline_names());
  RC_TAG(pipeline, backend_name(c.backend));
  const cli::ProcessedCounts n = cli::process_streaming(ck, pipeline, c.backend, (d.path() / "chunked.safetensors").string(), chunk);
  RC_ASSERT(n.planned);  // one unit of each kind planned the file (tools/cli/process_stream.h)
  process_whole(d.path() / "ckpt", pipeline, c.backend, d.path() / "whole.safetensors");
  const auto a = slurp(d.path() / "chunked.safetensors"), b = slurp(d.path() / "whole.safetensors");
  if (a != b) {
    std::size_t i = 0;
    while (i < std::min(a.size(), b.size()) && a[i] == b[i]) ++i;
    RC_FAIL(pipeline + ": chunks of " + std::to_string(chunk) + " bytes of a " + std::to_string(layer) + "-byte layer: files first differ at byte " +
            std::to_string(i));
  }
}

RC_GTEST_PROP(StreamingProps, MakeCheckpointOnThreadsWritesTheSameFiles, ()) {
  // The writer's jobs run on threads in any order and stream to disk; the files must be those of
  // generating everything in memory first, byte for byte.
  const PipelineCase c = *gen::pipeline_case();
  const int threads = *rc::gen::inRange(1, 5);
  TempDir d;
  write_checkpoint(d.path() / "memory", generate_checkpoint(c.ckpt), c.ckpt.files);
  write_checkpoint_streaming(d.path() / "streamed", c.ckpt, threads);
  std::vector<std::string> a, b;
  for (const auto& e : std::filesystem::directory_iterator(d.path() / "memory")) a.push_back(e.path().filename().string());
  for (const auto& e : std::filesystem::directory_iterator(d.path() / "streamed")) b.push_back(e.path().filename().string());
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  RC_ASSERT(a == b);
  for (const auto& f : a)
    if (slurp(d.path() / "memory" / f) != slurp(d.path() / "streamed" / f)) RC_FAIL(f + " differs with " + std::to_string(threads) + " threads");
}

RC_GTEST_PROP(StreamingProps, VerifyReportsTheSameOnAnyNumberOfJobs, ()) {
  PipelineCase c = *gen::pipeline_case();
  c.ckpt.layers = std::min(c.ckpt.layers, 2);
  TempDir d;
  write_checkpoint(d.path(), generate_checkpoint(c.ckpt), c.ckpt.files);
  auto report = [&](const char* jobs) {
    auto j = nlohmann::json::parse(run({"verify", d.path().string(), "--backend", backend_name(c.backend), "--reloads", "1", "--activation-rows", "1",
                                        "--jobs", jobs, "--json"},
                                       true));
    j.erase("jobs");
    j.erase("command_line");  // holds the --jobs given
    j.erase("seconds");  // wall-clock timings: the one part of the report that differs run to run
    return j.dump(1);
  };
  const std::string one = report("1"), three = report("3");
  if (one != three) RC_FAIL("verify --jobs 1 and --jobs 3 differ:\n" + one + "\n---\n" + three);
}

}  // namespace
}  // namespace nvfp4

// `nvfp4 process CKPT --out FILE`: every parameter after post-processing, written module by
// module: each module is loaded from a view of the checkpoint holding only its tensors,
// processed, written into its place in the output and released, so memory is bounded by --jobs
// modules (the modules processed at once, written in checkpoint order); the file is planned first
// from one module of each kind, so each byte is written once. A layer's experts larger than
// --experts-chunk-mib are processed a chunk of whole experts at a time (process_stream.h). The file
// is byte for byte what processing the whole checkpoint at once writes (property
// ProcessWritesTheWholeCheckpointsBytes), and both pipelines write identical files.
#include <algorithm>
#include <optional>
#include <thread>

#include "core/allocator.h"
#include "tools/cli/cli.h"
#include "tools/cli/process_stream.h"
#include "tools/cli/progress.h"

namespace nvfp4::cli {

namespace {
struct ProcessArgs {
  std::string dir, out, pipeline = "reference", backend = "cutlass";
  std::int64_t chunk_mib = 64, jobs = std::max(1u, std::thread::hardware_concurrency());
};

int process(const ProcessArgs& a, std::ostream& out) {
  const HugePagesScope huge;  // a long streaming run (core/allocator.h)
  const std::string &dir = a.dir, &file = a.out, &pipeline = a.pipeline;
  check_output(file, "--out", dir);
  Checkpoint c = open_quantized(dir);
  Backend b = parse_backend(a.backend);
  const std::uint64_t chunk_bytes = static_cast<std::uint64_t>(a.chunk_mib) << 20;
  std::optional<Progress> progress;
  const ProcessedCounts n = process_streaming(c, pipeline, b, file, chunk_bytes, [&](const std::string& unit, std::size_t units) {
    if (!progress) progress.emplace(units, false);
    progress->step(unit);
  }, static_cast<int>(a.jobs));
  if (progress) progress->done();
  out << "wrote " << n.params << " parameters of " << n.modules << " modules (" << pipeline << ", "
      << backend_name(b) << ") to " << file << "\n";
  return 0;
}
}  // namespace

Runner define_process(CLI::App& sub) {
  auto a = std::make_shared<ProcessArgs>();
  sub.add_option("CKPT", a->dir, "checkpoint directory")->required();
  sub.add_option("--out", a->out, "safetensors file to write (atomically: a temporary file renamed into place)")->required();
  sub.add_option("--pipeline", a->pipeline, "which pipeline post-processes")->check(one_of({"reference", "optimized"}))->capture_default_str();
  sub.add_option("--backend", a->backend, "MoE backend whose layouts are produced")->check(one_of({"cutlass", "trtllm"}))->capture_default_str();
  sub.add_option("--experts-chunk-mib", a->chunk_mib,
                 "a layer's experts larger than this are processed in chunks of whole experts (the same bytes out; 0: whole layers)")
      ->check(int_range(0, 1 << 20))
      ->capture_default_str();
  sub.add_option("--jobs", a->jobs, "modules processed in parallel (default: every core); written in checkpoint order, the same bytes")
      ->check(int_range(1, 1024));
  sub.footer(
      "Every parameter name after post-processing, aliases written as their own tensors and listed in\n"
      "__metadata__; nothing names the pipeline, so both pipelines' files compare byte for byte.\n"
      "Examples:\n"
      "  nvfp4 process /tmp/tiny --out /tmp/ref.safetensors\n"
      "  nvfp4 process /tmp/tiny --out /tmp/opt.safetensors --pipeline optimized && cmp /tmp/ref.safetensors /tmp/opt.safetensors");
  return [a](std::ostream& out) { return process(*a, out); };
}

}  // namespace nvfp4::cli

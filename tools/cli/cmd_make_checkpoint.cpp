#include <cstdint>
#include <algorithm>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include "generator/checkpoint_writer.h"
#include "tools/cli/cli.h"
#include "tools/cli/progress.h"

namespace nvfp4::cli {

Runner define_make_checkpoint(CLI::App& sub) {
  struct Opts {
    std::string dir, layout = "unfused", format = "modelopt", scalars = "0d";
    WriterOptions w;
    std::int64_t layers, experts, shards, seed = 0, jobs = std::max(1u, std::thread::hardware_concurrency());
    bool unequal = false, w4a16 = false;
  };
  auto o = std::make_shared<Opts>();
  o->layers = o->w.layers, o->experts = o->w.experts, o->shards = o->w.files;
  sub.add_option("DIR", o->dir, "directory to write (created; *.safetensors, config.json, hf_quant_config.json)")->required();
  sub.add_option("--layout", o->layout, "fused: q/k/v and gate/up stored as one tensor each; unfused: one per shard")
      ->check(one_of({"fused", "unfused"}))
      ->capture_default_str();
  sub.add_option("--format", o->format, "ModelOpt (decode scales) or compressed-tensors (encode scales) names and scalars")
      ->check(one_of({"modelopt", "compressed-tensors"}))
      ->capture_default_str();
  // Ranges keep every product the writer forms (layers x experts x hidden x intermediate bytes)
  // inside int64 and refuse nonsense early; the writer checks the divisibility rules itself.
  sub.add_option("--layers", o->layers, "decoder layers")->check(int_range(1, 4096))->capture_default_str();
  sub.add_option("--hidden", o->w.hidden, "hidden size H (a multiple of 16)")->check(int_range(16, 1 << 20))->capture_default_str();
  sub.add_option("--intermediate", o->w.intermediate, "intermediate size I (a multiple of 16)")->check(int_range(16, 1 << 20))->capture_default_str();
  sub.add_option("--experts", o->experts, "MoE experts per layer (0: a dense MLP)")->check(int_range(0, 4096))->capture_default_str();
  sub.add_option("--shards", o->shards, "safetensors files the tensors are spread over")->check(int_range(1, 1000))->capture_default_str();
  sub.add_option("--seed", o->seed, "random seed (same seed, same bytes)")->check(int_range(0, INT64_MAX))->capture_default_str();
  sub.add_option("--head-dim", o->w.head_dim, "attention head dimension")->check(int_range(16, 1 << 16))->capture_default_str();
  sub.add_option("--kv-heads", o->w.kv_heads, "key/value heads (0: half the attention heads, at least 1)")->check(int_range(0, 1 << 16))->capture_default_str();
  sub.add_flag("--unequal-scales", o->unequal, "give every shard of a fused group its own global scale (engines must reconcile them)");
  sub.add_flag("--w4a16", o->w4a16, "no input scales (weight-only quantization)");
  sub.add_option("--scalars", o->scalars, "how per-tensor scales are stored: 0-d F32, [1] F32, or 0-d BF16")
      ->check(one_of({"0d", "1d", "bf16"}))
      ->capture_default_str();
  sub.add_option("--jobs", o->jobs, "threads generating modules (default: every core)")->check(int_range(1, 1024));
  sub.footer(
      "Examples:\n"
      "  nvfp4 make-checkpoint /tmp/tiny                       a small dense model\n"
      "  nvfp4 make-checkpoint /tmp/moe --experts 8 --layout fused --unequal-scales\n"
      "  nvfp4 make-checkpoint /tmp/8b --layers 32 --hidden 4096 --intermediate 14336   ~5 GB, ~1 minute");
  return [o](std::ostream& out) {
    WriterOptions w = o->w;
    w.fused = o->layout == "fused";
    w.format = o->format == "modelopt" ? CkptFormat::ModelOpt : CkptFormat::CompressedTensors;
    w.layers = static_cast<int>(o->layers);
    w.experts = static_cast<int>(o->experts);
    w.files = static_cast<int>(o->shards);
    w.seed = static_cast<std::uint64_t>(o->seed);
    w.unequal_scales = o->unequal;
    w.input_scales = !o->w4a16;
    w.scalars = o->scalars == "0d" ? ScalarStyle::Dim0F32 : o->scalars == "1d" ? ScalarStyle::Dim1F32 : ScalarStyle::Dim0BF16;
    std::unique_ptr<Progress> progress;
    std::mutex mu;
    const std::size_t n = write_checkpoint_streaming(o->dir, w, static_cast<int>(o->jobs), [&](std::size_t total) {
      std::lock_guard<std::mutex> l(mu);
      if (!progress) progress = std::make_unique<Progress>(total, false);
      progress->step("modules written to " + o->dir);
    });
    if (progress) progress->done();
    out << "wrote " << n << " tensors in " << w.files << " file(s) to " << o->dir << " (" << format_name(w.format) << ", "
        << (w.fused ? "fused" : "unfused") << ")\n";
    return 0;
  };
}

}  // namespace nvfp4::cli

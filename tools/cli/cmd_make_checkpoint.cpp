#include <cstdint>
#include <algorithm>
#include <iostream>
#include <thread>

#include "core/checkpoint_writer.h"
#include "tools/cli/args.h"
#include "tools/cli/cli.h"

namespace nvfp4::cli {

int cmd_make_checkpoint(const std::vector<std::string>& argv, std::ostream& out) {
  Args a(argv,
         {"layout", "format", "layers", "hidden", "intermediate", "experts", "shards", "seed", "head-dim", "kv-heads",
          "scalars", "jobs"},
         {"unequal-scales", "w4a16"});
  std::string dir = a.positional_at(0, "output directory DIR");
  WriterOptions o;
  o.fused = a.choice("layout", "unfused", {"fused", "unfused"}) == "fused";
  o.format = a.choice("format", "modelopt", {"modelopt", "compressed-tensors"}) == "modelopt" ? CkptFormat::ModelOpt
                                                                                             : CkptFormat::CompressedTensors;
  // Ranges keep every product the writer forms (layers x experts x hidden x intermediate bytes)
  // inside int64 and refuse nonsense early; the writer checks the divisibility rules itself.
  o.layers = static_cast<int>(a.get_int("layers", o.layers, 1, 4096));
  o.hidden = a.get_int("hidden", o.hidden, 16, 1 << 20);
  o.intermediate = a.get_int("intermediate", o.intermediate, 16, 1 << 20);
  o.experts = static_cast<int>(a.get_int("experts", o.experts, 0, 4096));
  o.files = static_cast<int>(a.get_int("shards", o.files, 1, 1000));
  o.seed = static_cast<std::uint64_t>(a.get_int("seed", 0, 0, INT64_MAX));
  o.head_dim = a.get_int("head-dim", o.head_dim, 16, 1 << 16);
  o.kv_heads = a.get_int("kv-heads", o.kv_heads, 0, 1 << 16);
  o.unequal_scales = a.flag("unequal-scales");
  o.input_scales = !a.flag("w4a16");
  std::string sc = a.choice("scalars", "0d", {"0d", "1d", "bf16"});
  o.scalars = sc == "0d" ? ScalarStyle::Dim0F32 : sc == "1d" ? ScalarStyle::Dim1F32 : ScalarStyle::Dim0BF16;
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  const int jobs = static_cast<int>(a.get_int("jobs", hw, 1, 1024));
  const std::size_t n = write_checkpoint_streaming(dir, o, jobs);
  out << "wrote " << n << " tensors in " << o.files << " file(s) to " << dir << " ("
      << format_name(o.format) << ", " << (o.fused ? "fused" : "unfused") << ")\n";
  return 0;
}

}  // namespace nvfp4::cli

// Writes seed inputs for every fuzz target into OUT/<target>/<name>; fuzz/update_corpus.sh
// renames them to their sha1 under corpus/. Seeds come from the same tables the unit tests use,
// so expectations and corpus cannot drift apart.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/checkpoint_writer.h"
#include "core/safetensors.h"
#include "core/test/malformed_safetensors.h"

namespace fs = std::filesystem;

static void put(const fs::path& p, const std::vector<std::uint8_t>& b) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seed_corpus OUTDIR\n");
    return 2;
  }
  fs::path out = argv[1];
  for (const auto& c : nvfp4::testdata::safetensors_cases()) put(out / "safetensors_reader" / c.name, c.bytes);
  // Small real checkpoints (one file each) and a few damaged copies.
  int n = 0;
  auto tag = [&n](const char* what) {
    std::string s = what;
    s += std::to_string(n);
    return s;
  };
  for (auto fmt : {nvfp4::CkptFormat::ModelOpt, nvfp4::CkptFormat::CompressedTensors})
    for (bool fused : {false, true}) {
      nvfp4::WriterOptions o;
      o.layers = 1; o.hidden = 64; o.intermediate = 32; o.head_dim = 16; o.format = fmt; o.fused = fused;
      o.experts = fused ? 0 : 2;
      nvfp4::GeneratedCheckpoint g = nvfp4::generate_checkpoint(o);
      std::vector<nvfp4::TensorToWrite> ts;
      for (const auto& [name, t] : g.tensors) ts.push_back({name, t});
      auto bytes = nvfp4::serialize_safetensors(ts);
      put(out / "checkpoint" / tag("good"), bytes);
      put(out / "reference_pipeline" / tag("good"), bytes);
      put(out / "pipelines_differential" / tag("good"), bytes);
      auto cut = bytes;
      cut.resize(cut.size() - 7);
      put(out / "checkpoint" / tag("truncated"), cut);
      auto nan = bytes;
      nan[nan.size() - 1] = 0x7F;
      nan[nan.size() - 2] = 0xFF;
      put(out / "checkpoint" / tag("tail_bytes"), nan);
      put(out / "reference_pipeline" / tag("tail_bytes"), nan);
      put(out / "pipelines_differential" / tag("tail_bytes"), nan);
      ++n;
    }
  for (const auto& c : nvfp4::testdata::safetensors_cases()) put(out / "checkpoint" / c.name, c.bytes);
  // Checkpoints the reference must refuse at load or at processing time: a NaN block scale, a
  // zero global scale, H not a multiple of 64 (trtllm).
  nvfp4::WriterOptions o;
  o.layers = 1; o.hidden = 48; o.intermediate = 32; o.head_dim = 16; o.experts = 2;
  nvfp4::GeneratedCheckpoint g = nvfp4::generate_checkpoint(o);
  auto serialize = [](const nvfp4::GeneratedCheckpoint& gc) {
    std::vector<nvfp4::TensorToWrite> ts;
    for (const auto& [name, t] : gc.tensors) ts.push_back({name, t});
    return nvfp4::serialize_safetensors(ts);
  };
  put(out / "reference_pipeline" / "h48_experts", serialize(g));
  put(out / "pipelines_differential" / "h48_experts", serialize(g));
  auto s = g.tensors.at("model.layers.0.self_attn.q_proj.weight_scale").clone();
  s.data()[0] = 0x7F;
  g.tensors["model.layers.0.self_attn.q_proj.weight_scale"] = s;
  put(out / "reference_pipeline" / "nan_block_scale", serialize(g));
  put(out / "pipelines_differential" / "nan_block_scale", serialize(g));
  return 0;
}

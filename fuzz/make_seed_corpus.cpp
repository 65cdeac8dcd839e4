// Writes seed inputs for every fuzz target into OUT/<target>/<name>; fuzz/update_corpus.sh
// renames them to their sha1 under corpus/. Seeds come from the same tables the unit tests use,
// so expectations and corpus cannot drift apart.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <unistd.h>
#include <algorithm>

#include "core/safetensors.h"
#include "core/test/malformed_safetensors.h"
#include "generator/checkpoint_writer.h"

namespace fs = std::filesystem;

static void put(const fs::path& p, const std::vector<std::uint8_t>& b) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// The structure-aware targets read options from their bytes: any bytes are a valid input, so
// seeds are a spread of byte patterns (all zero, all ones, ascending, a few fixed draws), plus, for
// checkpoint_dir, real checkpoints packed in its archive encoding.
static void seeds_for_structured_targets(const fs::path& out) {
  std::vector<std::vector<std::uint8_t>> patterns;
  for (std::uint8_t fill : {0x00, 0xFF, 0x55, 0x07}) patterns.push_back(std::vector<std::uint8_t>(64, fill));
  std::vector<std::uint8_t> up(256);
  for (int i = 0; i < 256; ++i) up[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i);
  patterns.push_back(up);
  std::uint32_t s = 20261203;
  for (int k = 0; k < 8; ++k) {
    std::vector<std::uint8_t> r(static_cast<std::size_t>(32 + 32 * k));
    for (auto& b : r) b = static_cast<std::uint8_t>((s = s * 1664525u + 1013904223u) >> 24);
    patterns.push_back(r);
  }
  int i = 0;
  for (const auto& p : patterns) {
    for (const char* t : {"safetensors_roundtrip", "module_names", "quantize", "generated_differential", "reload_transaction",
                          "gemm_differential", "certified_oracle"})
      put(out / t / ("pattern" + std::to_string(i)), std::vector<std::uint8_t>(p.begin(), p.begin() + std::min<std::size_t>(p.size(), 64)));
    ++i;
  }
  // checkpoint_dir: (selector, 2-byte length, content) entries; selectors as in the target.
  auto entry = [](std::vector<std::uint8_t>& a, std::uint8_t sel, const std::vector<std::uint8_t>& content) {
    a.push_back(sel);
    a.push_back(static_cast<std::uint8_t>(content.size() & 0xFF));
    a.push_back(static_cast<std::uint8_t>(content.size() >> 8));
    a.insert(a.end(), content.begin(), content.end());
  };
  const fs::path tmp = fs::temp_directory_path() / ("nvfp4-seeds-" + std::to_string(::getpid()));
  int n = 0;
  for (auto fmt : {nvfp4::CkptFormat::ModelOpt, nvfp4::CkptFormat::CompressedTensors})
    for (int files : {1, 2}) {
      nvfp4::WriterOptions o;
      o.layers = 1; o.hidden = 32; o.intermediate = 32; o.head_dim = 16; o.format = fmt; o.experts = files == 2 ? 2 : 0;
      fs::remove_all(tmp);
      nvfp4::write_checkpoint(tmp, nvfp4::generate_checkpoint(o), files);
      std::vector<std::uint8_t> a;
      const std::pair<const char*, std::uint8_t> names[] = {{"config.json", 0}, {"hf_quant_config.json", 1}, {"model.safetensors.index.json", 2},
                                                           {"model-00001-of-00002.safetensors", 3}, {"model-00002-of-00002.safetensors", 4},
                                                           {"model.safetensors", 5}};
      for (const auto& [name, sel] : names) {
        if (!fs::exists(tmp / name)) continue;
        std::ifstream f(tmp / name, std::ios::binary);
        std::vector<std::uint8_t> content((std::istreambuf_iterator<char>(f)), {});
        if (content.size() > 65535) continue;
        entry(a, sel, content);
      }
      put(out / "checkpoint_dir" / ("writer" + std::to_string(n++)), a);
    }
  fs::remove_all(tmp);
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
  seeds_for_structured_targets(out);
  return 0;
}

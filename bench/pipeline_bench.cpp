// Load + post-process and reload, for both pipelines, on a dense layer (H = 4096, I = 14336) and
// an MoE layer (64 experts, H = 2048, I = 768), both backends where they apply, written once into a
// temporary directory by the project's checkpoint writer. Counters: checkpoint bytes per second,
// bytes allocated, allocations and peak bytes (the tracking allocator, exact), and for comparison a
// memcpy of the same quantized tensors from the same memory-mapped files.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "core/allocator.h"
#include "core/module_map.h"
#include "generator/checkpoint_writer.h"
#include "registry/registry.h"

namespace nvfp4::bench {
namespace {

namespace fs = std::filesystem;

struct Ckpt {
  fs::path dir;
  std::int64_t quantized_bytes = 0;
};

const Ckpt& checkpoint(const std::string& kind) {
  static std::map<std::string, Ckpt> made;
  auto it = made.find(kind);
  if (it != made.end()) return it->second;
  WriterOptions o;
  o.layers = 1;
  o.head_dim = 128;
  o.kv_heads = 8;
  if (kind == "dense") {
    o.hidden = 4096;
    o.intermediate = 14336;
  } else {
    o.hidden = 2048;
    o.intermediate = 768;
    o.experts = 64;
    o.kv_heads = 4;
  }
  static const fs::path root = fs::temp_directory_path() / ("nvfp4-bench-" + std::to_string(::getpid()));
  static const bool cleanup = [] {
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(root, ec);
    });
    return true;
  }();
  (void)cleanup;
  Ckpt c{root / kind, 0};
  write_checkpoint(c.dir, generate_checkpoint(o), 2);
  const Checkpoint ck = Checkpoint::open(c.dir);
  const ModelSpec spec = map_modules(ck);
  const std::set<std::string> pass(spec.passthrough.begin(), spec.passthrough.end());
  for (const auto& n : ck.tensor_names())
    if (!pass.count(n)) c.quantized_bytes += static_cast<std::int64_t>(ck.info(n).end - ck.info(n).begin);
  return made.emplace(kind, c).first->second;
}

void alloc_counters(benchmark::State& st, const AllocStats& s, std::int64_t base) {
  st.counters["allocated_bytes"] = static_cast<double>(s.alloc_bytes);
  st.counters["allocations"] = static_cast<double>(s.alloc_count);
  st.counters["peak_bytes"] = static_cast<double>(s.peak_bytes - base);
}

void load_and_process(benchmark::State& st, const std::string& pipeline, const std::string& kind, Backend b) {
  const Ckpt& c = checkpoint(kind);
  auto& alloc = TrackingAllocator::global();
  AllocStats last{};
  std::int64_t base = 0;
  for (auto _ : st) {
    st.PauseTiming();
    alloc.reset();
    base = alloc.stats().live_bytes;
    st.ResumeTiming();
    auto p = make_pipeline(pipeline, b);
    p->load_weights(Checkpoint::open(c.dir));
    p->process_weights_after_loading(b);
    st.PauseTiming();
    last = alloc.stats();
    p.reset();
    st.ResumeTiming();
  }
  alloc_counters(st, last, base);
  st.counters["GB"] = benchmark::Counter(static_cast<double>(c.quantized_bytes) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void reload(benchmark::State& st, const std::string& pipeline, const std::string& kind, Backend b) {
  const Ckpt& c = checkpoint(kind);
  auto p = make_pipeline(pipeline, b);
  p->load_weights(Checkpoint::open(c.dir));
  p->process_weights_after_loading(b);
  auto& alloc = TrackingAllocator::global();
  alloc.reset();
  const std::int64_t base = alloc.stats().live_bytes;
  for (auto _ : st) p->update_weights_from_disk(Checkpoint::open(c.dir));
  const AllocStats s = alloc.stats();
  st.counters["allocated_bytes_per_reload"] = static_cast<double>(s.alloc_bytes) / static_cast<double>(st.iterations());
  st.counters["allocations_per_reload"] = static_cast<double>(s.alloc_count) / static_cast<double>(st.iterations());
  st.counters["peak_bytes"] = static_cast<double>(s.peak_bytes - base);
  st.counters["GB"] = benchmark::Counter(static_cast<double>(c.quantized_bytes) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// memcpy of every quantized tensor of the checkpoint from its mapping into one buffer: the bandwidth a
// reload that only copies the sources could reach.
void memcpy_sources(benchmark::State& st, const std::string& kind) {
  const Ckpt& c = checkpoint(kind);
  const Checkpoint ck = Checkpoint::open(c.dir);
  const ModelSpec spec = map_modules(ck);
  const std::set<std::string> pass(spec.passthrough.begin(), spec.passthrough.end());
  std::vector<Tensor> views;
  for (const auto& n : ck.tensor_names())
    if (!pass.count(n)) views.push_back(ck.tensor(n));
  std::vector<std::uint8_t> dst(static_cast<std::size_t>(c.quantized_bytes));
  for (auto _ : st) {
    std::size_t off = 0;
    for (const auto& v : views) {
      std::memcpy(dst.data() + off, v.data(), v.nbytes());
      off += v.nbytes();
    }
    benchmark::DoNotOptimize(dst.data());
  }
  st.counters["GB"] = benchmark::Counter(static_cast<double>(c.quantized_bytes) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

const bool registered = [] {
  using benchmark::RegisterBenchmark;
  for (const char* kind : {"dense", "moe"}) {
    RegisterBenchmark((std::string("pipeline/memcpy/") + kind).c_str(), [=](benchmark::State& st) { memcpy_sources(st, kind); })
        ->UseRealTime()->Unit(benchmark::kMillisecond);
    for (const std::string& p : pipeline_names())
      for (Backend b : {Backend::Cutlass, Backend::Trtllm}) {
        if (b == Backend::Trtllm && std::string(kind) == "dense") continue;  // linear modules always process as cutlass
        const std::string tail = "/" + p + "/" + kind + "/" + backend_name(b);
        RegisterBenchmark(("pipeline/load_and_process" + tail).c_str(), [=](benchmark::State& st) { load_and_process(st, p, kind, b); })
            ->UseRealTime()->Unit(benchmark::kMillisecond);
        RegisterBenchmark(("pipeline/reload" + tail).c_str(), [=](benchmark::State& st) { reload(st, p, kind, b); })
            ->UseRealTime()->Unit(benchmark::kMillisecond);
      }
  }
  return true;
}();

}  // namespace
}  // namespace nvfp4::bench

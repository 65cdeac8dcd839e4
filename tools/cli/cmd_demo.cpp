// `nvfp4 demo`: the main job on built-in synthetic models, in seconds. Writes a dense model (GQA
// attention, fused q/k/v and gate/up on disk) and an MoE model (unfused shards with unequal
// scales) to a temporary directory, runs both pipelines side by side, reloads the same weights,
// different weights and a corrupt file (which must change nothing), multiplies every module in
// both modes against the exact oracle, and prints one table row per module plus what each
// pipeline cost. Exit 0 only if every check holds.
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "checks/agreement.h"
#include "checks/gemm_vs_oracle.h"
#include "checks/reload.h"
#include "core/allocator.h"
#include "generator/checkpoint_writer.h"
#include "core/error.h"
#include "core/printable.h"
#include "core/safetensors.h"
#include "generator/rng.h"
#include "reference/gemm.h"
#include "reference/reference_pipeline.h"
#include "registry/registry.h"
#include "tools/cli/cli.h"
#include "optimized/kernels/dispatch.h"

namespace nvfp4::cli {
namespace {
namespace fs = std::filesystem;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string mib(std::int64_t b) {
  char s[32];
  std::snprintf(s, sizeof s, "%.2f MiB", static_cast<double>(b) / (1 << 20));
  return s;
}

// The parameters of one module, from a whole-pipeline state.
State only(const State& s, const std::string& module) {
  State r;
  for (const auto& [k, v] : s)
    if (k.rfind(module + ".", 0) == 0) r.emplace(k, v);
  return r;
}

// A NaN block scale (E4M3 0x7F) in the last block-scale tensor of the file: a valid file whose data
// both pipelines must refuse on reload, leaving everything as it was.
void corrupt_one_scale(const fs::path& file) {
  std::uint64_t at = 0;
  {
    const SafetensorsFile f = SafetensorsFile::open(file);
    for (const auto& t : f.tensors())
      if (t.dtype == DType::F8_E4M3 && t.end > t.begin) at = 8 + f.header_size() + t.begin;
  }
  if (at == 0) throw Error(ErrorKind::Io, file.string(), "", "no block scale to corrupt");
  std::FILE* f = std::fopen(file.c_str(), "r+b");
  if (!f || std::fseek(f, static_cast<long>(at), SEEK_SET) != 0 || std::fputc(0x7F, f) == EOF || std::fclose(f) != 0)
    throw Error(ErrorKind::Io, file.string(), "", "cannot write");
}

struct Row {
  std::string model, module, kind;
  std::vector<std::string> cells;  // one per column after kind
  std::string failure;             // first failure, for the lines under the table
};

// Per pipeline of the registry, in its order; gemm: the exact oracle's time under the reference,
// each other pipeline's kernels under its own.
struct Totals {
  explicit Totals(std::size_t n) : load(n), reload(n), gemm(n), resident(n), peak(n), reload_allocs(n), reload_bytes(n) {}
  std::vector<double> load, reload, gemm;
  std::vector<std::int64_t> resident, peak, reload_allocs, reload_bytes;
};

struct Model {
  std::string name;
  WriterOptions w;
  Backend backend;
};

class Demo {
 public:
  Demo(fs::path dir, std::ostream& out) : dir_(std::move(dir)), out_(out) {}

  void run(const Model& m) {
    std::string key = m.name + "-" + backend_name(m.backend);
    std::replace(key.begin(), key.end(), ' ', '-');
    const fs::path a = dir_ / (key + "-a"), b = dir_ / (key + "-b"), bad = dir_ / (key + "-corrupt");
    WriterOptions wb = m.w;
    wb.seed = m.w.seed + 1;  // same shapes, different weights
    write_checkpoint_streaming(a, m.w, 1);
    write_checkpoint_streaming(b, wb, 1);
    fs::copy(a, bad);
    corrupt_one_scale(bad / "model.safetensors");  // one file: the writer's default
    const Checkpoint ca = Checkpoint::open(a), cb = Checkpoint::open(b), cbad = Checkpoint::open(bad);

    // Every pipeline of the registry; the first, the reference, is also the GEMMs' oracle.
    std::vector<std::unique_ptr<Pipeline>> ps;
    for (const auto& k : pipelines()) ps.push_back(k.make(m.backend));
    for (std::size_t i = 0; i < ps.size(); ++i) {
      AllocScope s;
      const auto t0 = std::chrono::steady_clock::now();
      ps[i]->load_weights(ca);
      ps[i]->process_weights_after_loading(m.backend);
      t_.load[i] += seconds_since(t0);
      t_.peak[i] = std::max(t_.peak[i], s.stats().peak_bytes);
      t_.resident[i] += s.stats().live_bytes;
    }
    std::vector<State> loaded, same, fresh_b, after;
    for (const auto& p : ps) loaded.push_back(capture(*p));
    // Reload the same weights: bitwise idempotent, keeping what each pipeline promises.
    for (std::size_t i = 0; i < ps.size(); ++i) {
      AllocScope s;
      const auto t0 = std::chrono::steady_clock::now();
      ps[i]->update_weights_from_disk(ca);
      t_.reload[i] += seconds_since(t0);
      t_.reload_allocs[i] += s.stats().alloc_count;
      t_.reload_bytes[i] += s.stats().alloc_bytes;
      same.push_back(capture(*ps[i]));
    }
    // Reload different weights: what a fresh load of them gives, in every pipeline.
    for (const auto& p : ps) p->update_weights_from_disk(cb);
    const std::unique_ptr<Pipeline> fresh = pipelines().front().make(m.backend);
    fresh->load_weights(cb);
    fresh->process_weights_after_loading(m.backend);
    const State cold_b = capture(*fresh);
    for (const auto& p : ps) fresh_b.push_back(capture(*p));
    // A corrupt file: refused, and every pipeline exactly as it was.
    std::vector<checks::Result> refused;
    for (std::size_t i = 0; i < ps.size(); ++i)
      refused.push_back(checks::failed_reload(*ps[i], cbad, fresh_b[i], ps[i]->reconciliations(), pipelines()[i].reload, "of a NaN block scale"));

    for (const auto& [module, unused] : ps.front()->modules()) {
      Row r{m.name + " (" + backend_name(m.backend) + ")", module, module_kind(ps.front()->spec(), module), {}, {}};
      cell(r, "equal", [&](std::size_t i) { return checks::agreement(*ps[0], only(loaded[0], module), *ps[i], only(loaded[i], module)); }, ps.size(), 1);
      cell(r, "same", [&](std::size_t i) {
        return checks::kept(only(loaded[i], module), only(same[i], module), pipelines()[i].reload, ps[i]->name() + " load", "reload");
      }, ps.size(), 0);
      cell(r, "= fresh", [&](std::size_t i) {
        return checks::held_unless("reload, new weights",
                                   first_difference(only(cold_b, module), only(fresh_b[i], module), Same::Bytes, "fresh load", ps[i]->name() + " reload"));
      }, ps.size(), 0);
      // The corrupt reload is refused for the whole model; each module's cell says whether it was
      // refused and left as it was (failed_reload compares the whole pipeline).
      cell(r, "unchanged", [&](std::size_t i) { return refused[i]; }, ps.size(), 0);
      gemms(ps, module, r);
      rows_.push_back(r);
    }
  }

  // One table cell: `ok` if check(i) holds for every pipeline i from `from` on, else FAIL, the first
  // failure kept for the lines under the table.
  template <class F>
  static void cell(Row& r, const char* ok, F check, std::size_t n, std::size_t from) {
    for (std::size_t i = from; i < n; ++i) {
      const checks::Result c = check(i);
      if (c.ok) continue;
      r.cells.push_back("FAIL");
      if (r.failure.empty()) r.failure = c.name + ": " + c.detail;
      return;
    }
    r.cells.push_back(ok);
  }

  int report() {
    const std::vector<std::string> head = {"model", "module", "kind", "ref == opt", "reload same", "reload new", "corrupt reload",
                                           "GEMM w4a16", "GEMM w4a4"};
    std::vector<std::size_t> w(head.size());
    auto cells = [](const Row& r) {
      std::vector<std::string> c = {r.model, printable_short(r.module, 40), r.kind};
      c.insert(c.end(), r.cells.begin(), r.cells.end());
      return c;
    };
    for (std::size_t i = 0; i < head.size(); ++i) w[i] = head[i].size();
    for (const auto& r : rows_) {
      const auto c = cells(r);
      for (std::size_t i = 0; i < c.size(); ++i) w[i] = std::max(w[i], c[i].size());
    }
    auto line = [&](const std::vector<std::string>& c) {
      std::string s;
      for (std::size_t i = 0; i < c.size(); ++i) s += c[i] + std::string(w[i] - c[i].size() + 2, ' ');
      while (!s.empty() && s.back() == ' ') s.pop_back();
      out_ << s << "\n";
    };
    line(head);
    int failed = 0;
    for (const auto& r : rows_) {
      line(cells(r));
      failed += !r.failure.empty();
    }
    for (const auto& r : rows_)
      if (!r.failure.empty()) out_ << "FAIL " << r.model << " " << printable_short(r.module, 200) << ": " << printable_short(r.failure, 1000) << "\n";
    failed += costs();
    out_ << "\n" << (failed ? std::to_string(failed) + " row(s) failed" : "all " + std::to_string(rows_.size()) + " modules hold on " + every_pipeline())
         << "\n";
    return failed ? 1 : 0;
  }

  // What each pipeline cost, one column each in the registry's order; the note compares the last
  // with the reference. Returns 1 if a pipeline that promises allocation-free reloads allocated.
  int costs() {
    const auto& ks = pipelines();
    auto line = [&](const std::string& what, const std::vector<std::string>& v, const std::string& note) {
      std::string l = what + std::string(26 - std::min<std::size_t>(what.size(), 25), ' ');
      for (const auto& x : v) l += x + std::string(19 - std::min<std::size_t>(x.size(), 18), ' ');
      out_ << l << note << "\n";
    };
    auto each = [&](auto f) {
      std::vector<std::string> v;
      for (std::size_t i = 0; i < ks.size(); ++i) v.push_back(f(i));
      return v;
    };
    auto ms = [](double s) {
      char c[32];
      std::snprintf(c, sizeof c, "%.1f ms", s * 1e3);
      return std::string(c);
    };
    auto ratio = [](const std::vector<double>& t) {
      char c[48];
      std::snprintf(c, sizeof c, "(%.1fx faster)", t.back() > 0 ? t.front() / t.back() : 0.0);
      return std::string(c);
    };
    out_ << "\n";
    line("", each([&](std::size_t i) { return ks[i].name; }), "");
    line("load + process", each([&](std::size_t i) { return ms(t_.load[i]); }), ratio(t_.load));
    line("reload (same weights)", each([&](std::size_t i) { return ms(t_.reload[i]); }), ratio(t_.reload));
    line("GEMMs (every module)", each([&](std::size_t i) { return ms(t_.gemm[i]); }), ratio(t_.gemm) + " exact oracle vs kernels");
    line("held after processing", each([&](std::size_t i) { return mib(t_.resident[i]); }), "(reference: sources and derived copies)");
    line("peak while loading", each([&](std::size_t i) { return mib(t_.peak[i]); }), "(the largest of the models)");
    line("allocated by a reload", each([&](std::size_t i) { return std::to_string(t_.reload_allocs[i]) + " (" + mib(t_.reload_bytes[i]) + ")"; }), "");
    int failed = 0;
    for (std::size_t i = 0; i < ks.size(); ++i)
      if (ks[i].reload.allocation_free && t_.reload_allocs[i] != 0) {
        out_ << "FAIL the " << ks[i].name << " reload allocated memory\n";
        ++failed;
      }
    return failed;
  }

 private:
  // Every output row of 4 activation rows for every projection (every expert's w13 and w2), both
  // modes where the checkpoint has input scales: each pipeline under test against the exact oracle.
  void gemms(const std::vector<std::unique_ptr<Pipeline>>& ps, const std::string& module, Row& r) {
    const auto& rp = dynamic_cast<const ref::ReferencePipeline&>(*ps.front());
    std::vector<GemmTarget> targets;
    bool w4a4 = false;
    for (const auto& l : rp.spec().linears)
      if (l.name == module) targets.push_back({module, -1, ""}), w4a4 = l.has_input_scale;
    for (const auto& x : rp.spec().experts)
      if (x.name == module) {
        w4a4 = x.has_input_scale;
        for (int e = 0; e < x.E; ++e) targets.push_back({module, e, "w13"}), targets.push_back({module, e, "w2"});
      }
    for (GemmMode mode : {GemmMode::W4A16, GemmMode::W4A4}) {
      if (mode == GemmMode::W4A4 && !w4a4) {
        r.cells.push_back("-");
        continue;
      }
      double worst = 0;  // max |got - exact| / bound
      std::string d;
      for (const auto& t : targets) {
        const ref::LogicalWeight w = rp.logical_weight(t);
        const ref::GemmScalars sc = rp.scalars(t, mode);
        Rng g(0xDE30 + static_cast<std::uint64_t>(w.K));
        Tensor x = Tensor::empty(DType::F32, {4, w.K});
        for (std::int64_t i = 0; i < x.numel(); ++i) x.data_as<float>()[i] = static_cast<float>(g.normal());
        auto t0 = std::chrono::steady_clock::now();
        std::vector<double> mag;
        const Tensor exact = ref::gemm_exact(x, w, mode, sc, &mag);
        t_.gemm[0] += seconds_since(t0);
        for (std::size_t i = 1; i < ps.size(); ++i) {
          t0 = std::chrono::steady_clock::now();
          const Tensor got = ps[i]->gemm(t, x, mode);
          t_.gemm[i] += seconds_since(t0);
          const checks::KernelCheck kc = checks::check_kernel(exact, got, mag, mode, checks::gemm_arith(opt::isa_name(opt::active_isa())), w.K,
                                                                 mode == GemmMode::W4A4 ? sc.alpha : w.global_scale);
          if (d.empty() && !kc.passed())
            d = ps[i]->name() + " " + gemm_mode_name(mode) + (t.expert >= 0 ? " expert " + std::to_string(t.expert) + " " + t.proj : "") + " " +
                kc.failure();
          worst = std::max(worst, kc.worst_fraction);
        }
      }
      // With the number of GEMMs: a module none of whose projections ran would read as within bound.
      char c[48];
      std::snprintf(c, sizeof c, "%.2f of bound, %zu", worst, targets.size());
      r.cells.push_back(d.empty() ? c : "FAIL");
      if (!d.empty() && r.failure.empty()) r.failure = d;
    }
  }

  fs::path dir_;
  std::ostream& out_;
  std::vector<Row> rows_;
  Totals t_{pipelines().size()};
};

struct DemoArgs {
  std::string dir;
  bool keep = false;
};

int demo(const DemoArgs& a, std::ostream& out) {
  fs::path dir = a.dir;
  if (dir.empty()) {
    std::string t = (fs::temp_directory_path() / "nvfp4-demo-XXXXXX").string();
    if (!::mkdtemp(t.data())) throw Error(ErrorKind::Io, t, "", "cannot create a temporary directory");
    dir = t;
  } else {
    fs::create_directories(dir);
  }
  struct Cleanup {
    fs::path d;
    bool keep;
    ~Cleanup() {
      std::error_code ec;
      if (!keep) fs::remove_all(d, ec);
    }
  } cleanup{dir, a.keep || !a.dir.empty()};

  // GQA: 8 query heads of 64 over 2 key/value heads.
  WriterOptions dense;
  dense.layers = 2, dense.hidden = 512, dense.intermediate = 1536, dense.head_dim = 64, dense.kv_heads = 2;
  dense.fused = true, dense.seed = 11;
  WriterOptions moe = dense;
  moe.intermediate = 256, moe.experts = 8, moe.fused = false, moe.unequal_scales = true, moe.seed = 21;
  const std::vector<Model> models = {{"dense fused", dense, Backend::Cutlass}, {"moe unfused", moe, Backend::Cutlass}, {"moe unfused", moe, Backend::Trtllm}};
  out << "nvfp4 demo: checkpoints in " << dir.string() << (cleanup.keep ? "" : " (removed at the end; --keep keeps them)") << "\n"
      << "  dense fused: 2 layers, H=512, I=1536, GQA 8x64 heads over 2 KV heads, q/k/v and gate/up fused on disk, ModelOpt\n"
      << "  moe unfused: 2 layers, H=512, 8 experts of I=256, every shard its own global scale (reconciled), on cutlass and trtllm\n"
      << "  per module: load + process on both pipelines, reload the same weights, reload new weights (= a fresh load),\n"
      << "  reload a file with a NaN block scale (refused, nothing changes), every output row of 4 activation rows in both\n"
      << "  modes"
      << " against the exact oracle (the kernels' largest error as a fraction of its bound, and how many GEMMs)\n\n";
  Demo d(dir, out);
  for (const auto& m : models) d.run(m);
  return d.report();
}

}  // namespace

Runner define_demo(CLI::App& sub) {
  auto a = std::make_shared<DemoArgs>();
  sub.add_option("--dir", a->dir, "write the checkpoints here and keep them (default: a temporary directory, removed)");
  sub.add_flag("--keep", a->keep, "keep the temporary checkpoints");
  sub.footer(
      "Example:\n"
      "  nvfp4 demo");
  return [a](std::ostream& out) { return demo(*a, out); };
}

}  // namespace nvfp4::cli

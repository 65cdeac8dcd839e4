#include "generator/checkpoint_writer.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <functional>
#include <set>
#include <thread>

#include "core/error.h"
#include "core/module_map.h"
#include "core/safetensors.h"
#include "generator/encoders.h"
#include "generator/modelopt_quantize.h"
#include "generator/rng.h"
#include "generator/shard_weights.h"

namespace nvfp4 {
namespace {

using json = nlohmann::json;

// Where a job's tensors go: each is declared (name, dtype, shape and the slot that picks its file)
// before any of its bytes, which then arrive in pieces at byte offsets. A planning sink takes the
// declarations only, so a file's header is known before its data is made.
class TensorSink {
 public:
  virtual ~TensorSink() = default;
  virtual void declare(const std::string& name, DType d, const Shape& s, int slot) = 0;
  virtual bool wants_bytes() const { return true; }
  virtual void put(const std::string& name, std::uint64_t offset, const void* p, std::size_t n) = 0;
};

// The dtype and shape of a per-tensor scale stored in `style`, and its bytes.
std::pair<DType, Shape> scalar_spec(ScalarStyle style) {
  if (style == ScalarStyle::Dim0BF16) return {DType::BF16, {}};
  return {DType::F32, style == ScalarStyle::Dim1F32 ? Shape{1} : Shape{}};
}
std::vector<std::uint8_t> scalar_bytes(float v, ScalarStyle style) {
  std::vector<std::uint8_t> b(style == ScalarStyle::Dim0BF16 ? 2 : 4);
  const std::uint16_t h = f32_to_bf16(v);
  std::memcpy(b.data(), style == ScalarStyle::Dim0BF16 ? static_cast<const void*>(&h) : static_cast<const void*>(&v), b.size());
  return b;
}

class Builder {
 public:
  // slot: the job's index, which (plus the shard index) decides the file a tensor goes to.
  Builder(const WriterOptions& o, int slot, TensorSink& sink) : o_(o), fn_(format_names(o.format)), slot_(slot), sink_(sink) {}

  // One linear module's shards (rows[i] x K each), quantized with ModelOpt's arithmetic: one amax
  // for the group unless scales are unequal (ModelOpt's preprocess_linear_fusion), stored one
  // tensor per shard or, fused, the shards' rows one after another in one tensor.
  void linear_group(const std::vector<std::string>& shard_prefixes, const std::string& fused_prefix,
                    const std::vector<std::int64_t>& rows, std::int64_t K, Rng& rng) {
    const float in_amax = static_cast<float>(0.5 + 7.5 * rng.uniform());
    const bool fused = !fused_prefix.empty();
    std::int64_t total = 0;
    for (auto r : rows) total += r;
    const std::vector<std::string> outs = fused ? std::vector<std::string>{fused_prefix} : shard_prefixes;
    for (std::size_t i = 0; i < outs.size(); ++i) declare_linear(outs[i], fused ? total : rows[i], K, slot_ + static_cast<int>(i));
    if (!sink_.wants_bytes()) return;
    std::vector<ShardWeights> shards;
    std::vector<float> amax;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const double gain = o_.unequal_scales ? 0.02 * (1.0 + 1.5 * static_cast<double>(i)) : 0.02;
      shards.emplace_back(rng, rows[i], K, gain, o_.zero_block_fraction);
      rng.skip(shards.back().draws());
      amax.push_back(shards.back().amax());
    }
    if (!o_.unequal_scales) std::fill(amax.begin(), amax.end(), *std::max_element(amax.begin(), amax.end()));
    for (std::size_t i = 0; i < outs.size(); ++i) {
      const float in_s = (o_.unequal_scales ? in_amax * (1.0f + 0.25f * static_cast<float>(i)) : in_amax) / 2688.0f;
      put_scalars(outs[i], modelopt_scale_2(amax[i]), in_s);
    }
    std::int64_t base = 0;  // a fused tensor's row where this shard starts
    for (std::size_t i = 0; i < rows.size(); ++i) {
      put_rows(fused ? fused_prefix : shard_prefixes[i], base, shards[i], K, modelopt_scale_2(amax[i]));
      if (fused) base += rows[i];
    }
  }

  void plain(const std::string& name, Shape shape, Rng& rng) {
    sink_.declare(name, DType::BF16, shape, slot_);
    if (!sink_.wants_bytes()) return;
    std::vector<std::uint16_t> h(static_cast<std::size_t>(shape_numel(shape)));
    for (auto& x : h) x = f32_to_bf16(rng.normal4()[0] * 0.02f);
    sink_.put(name, 0, h.data(), h.size() * 2);
  }

 private:
  void declare_linear(const std::string& p, std::int64_t N, std::int64_t K, int slot) {
    const bool ct = o_.format == CkptFormat::CompressedTensors;  // f32 reciprocals, shape [1], as ModelOpt -> CT conversion
    const auto [sd, ss] = scalar_spec(ct ? ScalarStyle::Dim1F32 : o_.scalars);
    sink_.declare(p + "." + fn_.weight, DType::U8, {N, K / 2}, slot);
    sink_.declare(p + "." + fn_.weight_scale, DType::F8_E4M3, {N, K / 16}, slot);
    sink_.declare(p + "." + fn_.weight_scale_2, sd, ss, slot);
    if (o_.input_scales) sink_.declare(p + "." + fn_.input_scale, sd, ss, slot);
  }

  void put_scalars(const std::string& p, float s2, float in_s) {
    const bool ct = o_.format == CkptFormat::CompressedTensors;
    const ScalarStyle style = ct ? ScalarStyle::Dim1F32 : o_.scalars;
    const auto b2 = scalar_bytes(ct ? 1.0f / s2 : s2, style);
    sink_.put(p + "." + fn_.weight_scale_2, 0, b2.data(), b2.size());
    if (!o_.input_scales) return;
    const auto bi = scalar_bytes(ct ? 1.0f / in_s : in_s, style);
    sink_.put(p + "." + fn_.input_scale, 0, bi.data(), bi.size());
  }

  // A shard's rows, made and quantized ~1 MB of f32 at a time (cache-sized), written at row `base`.
  void put_rows(const std::string& p, std::int64_t base, const ShardWeights& w, std::int64_t K, float s2) {
    const std::int64_t N = w.rows_count(), step = std::max<std::int64_t>(1, (std::int64_t{1} << 18) / K);
    std::vector<float> buf(static_cast<std::size_t>(std::min(N, step) * K));
    std::vector<std::uint8_t> packed(buf.size() / 2), scales(buf.size() / 16);
    for (std::int64_t r0 = 0; r0 < N; r0 += step) {
      const std::int64_t m = std::min(step, N - r0);
      w.rows(r0, m, buf.data());
      modelopt_quantize_rows(buf.data(), m, K, s2, o_.zero_block_code, packed.data(), scales.data());
      sink_.put(p + "." + fn_.weight, static_cast<std::uint64_t>((base + r0) * (K / 2)), packed.data(), static_cast<std::size_t>(m * (K / 2)));
      sink_.put(p + "." + fn_.weight_scale, static_cast<std::uint64_t>((base + r0) * (K / 16)), scales.data(),
                static_cast<std::size_t>(m * (K / 16)));
    }
  }

  const WriterOptions& o_;
  const FormatNames& fn_;
  int slot_;
  TensorSink& sink_;
};

void check_options(const WriterOptions& o) {
  auto bad = [](const std::string& w) { throw Error(ErrorKind::Usage, "", "", w); };
  if (o.layers < 1) bad("--layers must be at least 1");
  if (o.hidden <= 0 || o.hidden % 16) bad("--hidden must be a positive multiple of 16");
  if (o.intermediate <= 0 || o.intermediate % 16) bad("--intermediate must be a positive multiple of 16");
  if (o.head_dim <= 0 || o.hidden % o.head_dim) bad("--head-dim must divide --hidden");
  if (o.experts < 0) bad("--experts must be >= 0");
  if (o.files < 1) bad("--shards must be at least 1");
  if (o.fused && o.unequal_scales) bad("--unequal-scales needs --layout unfused (a fused tensor has one scale)");
  std::int64_t heads = o.hidden / o.head_dim;
  if (o.kv_heads < 0 || (o.kv_heads > 0 && heads % o.kv_heads)) bad("--kv-heads must divide the attention heads");
}

// The checkpoint as a list of jobs (a plain tensor, or one linear group: a module's shards, or one
// expert's gate+up or down), each drawing from its own generator seeded by (seed, job index), so
// that jobs can run in any order or in parallel and give the same bytes.
std::vector<std::function<void(Builder&, Rng&)>> jobs_for(const WriterOptions& o) {
  const std::int64_t H = o.hidden, I = o.intermediate, hd = o.head_dim;
  const std::int64_t heads = H / hd, kv = o.kv_heads ? o.kv_heads : std::max<std::int64_t>(1, heads / 2);
  std::vector<std::function<void(Builder&, Rng&)>> jobs;
  auto plain = [&](std::string name, Shape shape) { jobs.push_back([name, shape](Builder& b, Rng& r) { b.plain(name, shape, r); }); };
  auto group = [&](std::vector<std::string> shards, std::string fused, std::vector<std::int64_t> rows, std::int64_t K) {
    jobs.push_back([=](Builder& b, Rng& r) { b.linear_group(shards, fused, rows, K, r); });
  };
  plain("model.embed_tokens.weight", {64, H});
  for (int l = 0; l < o.layers; ++l) {
    std::string L = "model.layers." + std::to_string(l);
    plain(L + ".input_layernorm.weight", {H});
    plain(L + ".post_attention_layernorm.weight", {H});
    std::string a = L + ".self_attn";
    group({a + ".q_proj", a + ".k_proj", a + ".v_proj"}, o.fused ? a + ".qkv_proj" : "", {heads * hd, kv * hd, kv * hd}, H);
    group({a + ".o_proj"}, "", {H}, heads * hd);
    std::string m = L + ".mlp";
    if (o.experts == 0) {
      group({m + ".gate_proj", m + ".up_proj"}, o.fused ? m + ".gate_up_proj" : "", {I, I}, H);
      group({m + ".down_proj"}, "", {H}, I);
    } else {
      plain(m + ".gate.weight", {o.experts, H});  // the router stays unquantized
      for (int e = 0; e < o.experts; ++e) {
        std::string x = m + ".experts." + std::to_string(e);
        // gate/up of one expert share an input and (unless unequal) an amax, as ModelOpt fuses them.
        group({x + ".gate_proj", x + ".up_proj"}, "", {I, I}, H);
        group({x + ".down_proj"}, "", {H}, I);
      }
    }
  }
  plain("model.norm.weight", {H});
  plain("lm_head.weight", {64, H});
  return jobs;
}

using Job = std::function<void(Builder&, Rng&)>;

void run_job(const WriterOptions& o, const Job& job, std::size_t index, TensorSink& sink) {
  Builder b(o, static_cast<int>(index), sink);
  Rng rng((o.seed * 0x9E3779B97F4A7C15ull + 1) ^ (static_cast<std::uint64_t>(index) * 0xD1B54A32D192ED03ull));
  job(b, rng);
}

void add_configs(const WriterOptions& o, GeneratedCheckpoint& g) {
  const std::int64_t H = o.hidden, I = o.intermediate, hd = o.head_dim;
  const std::int64_t heads = H / hd, kv = o.kv_heads ? o.kv_heads : std::max<std::int64_t>(1, heads / 2);
  json cfg = {{"architectures", {o.experts ? "SyntheticMoeForCausalLM" : "SyntheticForCausalLM"}},
              {"hidden_size", H}, {"intermediate_size", I}, {"num_hidden_layers", o.layers},
              {"num_attention_heads", heads}, {"num_key_value_heads", kv}, {"head_dim", hd},
              {"torch_dtype", "bfloat16"}};
  if (o.experts) cfg["num_experts"] = o.experts;
  if (o.format == CkptFormat::ModelOpt) {
    json q = {{"quant_algo", "NVFP4"}, {"kv_cache_quant_algo", nullptr}, {"group_size", 16},
              {"exclude_modules", {"lm_head", "*.mlp.gate"}}};
    g.hf_quant_config = {{"producer", {{"name", "modelopt"}, {"version", "synthetic"}}}, {"quantization", q}};
    cfg["quantization_config"] = {{"quant_method", "modelopt"}, {"quant_algo", "NVFP4"}, {"group_size", 16},
                                  {"ignore", {"lm_head", "*.mlp.gate"}}};
  } else {
    json w = {{"num_bits", 4}, {"type", "float"}, {"strategy", "tensor_group"}, {"group_size", 16},
              {"symmetric", true}, {"dynamic", false}};
    json groups = {{"group_0", {{"weights", w}, {"targets", {"Linear"}}}}};
    if (o.input_scales) {
      json a = w;
      a["dynamic"] = "local";
      groups["group_0"]["input_activations"] = a;
    }
    cfg["quantization_config"] = {{"quant_method", "compressed-tensors"}, {"format", "nvfp4-pack-quantized"},
                                  {"config_groups", groups}, {"ignore", {"lm_head", "re:.*mlp\\.gate$"}}};
  }
  g.config = cfg;
}

// A tensor of the plan, and the slot that picks its file (negative: the next file round robin).
struct Planned {
  TensorSpec spec;
  int slot;
};

// The declarations only: what the jobs will write, for the files' headers.
class PlanSink : public TensorSink {
 public:
  void declare(const std::string& name, DType d, const Shape& s, int slot) override { plan.push_back({{name, d, s}, slot}); }
  bool wants_bytes() const override { return false; }
  void put(const std::string&, std::uint64_t, const void*, std::size_t) override {}
  std::vector<Planned> plan;
};

// Tensors in memory (generate_checkpoint).
class MemorySink : public TensorSink {
 public:
  explicit MemorySink(GeneratedCheckpoint& g) : g_(g) {}
  void declare(const std::string& name, DType d, const Shape& s, int slot) override {
    g_.tensors[name] = Tensor::empty(d, s);
    g_.slots[name] = slot;
  }
  void put(const std::string& name, std::uint64_t offset, const void* p, std::size_t n) override {
    std::memcpy(g_.tensors.at(name).data() + offset, p, n);
  }

 private:
  GeneratedCheckpoint& g_;
};

// Every safetensors file of the checkpoint, its header written up front from the plan; tensors'
// bytes go to their place from any thread (PlannedSafetensorsWriter).
class Files {
 public:
  Files(const std::filesystem::path& dir, int files, const std::vector<Planned>& plan) : dir_(dir), files_(files) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw Error(ErrorKind::Io, dir.string(), "", "cannot create directory: " + ec.message());
    // A tensor's file: its job's index plus its shard's, round robin, so every file gets a mix of
    // modules and the shards of one module land in different files, as in real sharded checkpoints.
    std::vector<std::vector<TensorSpec>> per_file(static_cast<std::size_t>(files));
    std::size_t next = 0;
    for (const auto& p : plan) {
      const std::size_t f = (p.slot < 0 ? next++ : static_cast<std::size_t>(p.slot)) % static_cast<std::size_t>(files);
      per_file[f].push_back(p.spec);
      file_of_[p.spec.name] = f;
      weight_map_[p.spec.name] = name_of(static_cast<int>(f));
    }
    for (int f = 0; f < files; ++f)
      w_.push_back(std::make_unique<PlannedSafetensorsWriter>(dir / name_of(f), per_file[static_cast<std::size_t>(f)],
                                                              std::map<std::string, std::string>{{"format", "pt"}}));
    count_ = plan.size();
  }
  std::string name_of(int f) const {
    if (files_ == 1) return "model.safetensors";
    char b[64];
    std::snprintf(b, sizeof b, "model-%05d-of-%05d.safetensors", f + 1, files_);
    return b;
  }
  // Thread-safe: the maps are only read once built.
  void put(const std::string& name, std::uint64_t offset, const void* p, std::size_t n) {
    w_[file_of_.at(name)]->write(name, offset, {static_cast<const std::uint8_t*>(p), n});
  }
  std::size_t count() const { return count_; }
  void finish(const GeneratedCheckpoint& g) {
    auto dump = [](const json& j) {
      std::string s = j.dump(2) + "\n";
      return std::vector<std::uint8_t>(s.begin(), s.end());
    };
    for (auto& w : w_) w->finish();
    write_file_atomic(dir_ / "config.json", dump(g.config));
    if (!g.hf_quant_config.is_null()) write_file_atomic(dir_ / "hf_quant_config.json", dump(g.hf_quant_config));
    if (files_ > 1)
      write_file_atomic(dir_ / "model.safetensors.index.json", dump(json{{"metadata", json::object()}, {"weight_map", weight_map_}}));
    remove_stale(g);
  }

 private:
  // Written over an earlier checkpoint, the directory must hold this one only: a stale
  // hf_quant_config.json (ModelOpt) under a compressed-tensors config, a stale index, or shards of
  // another split would make it a different, or an invalid, checkpoint.
  void remove_stale(const GeneratedCheckpoint& g) {
    std::set<std::string> ours{"config.json"};
    for (int f = 0; f < files_; ++f) ours.insert(name_of(f));
    if (!g.hf_quant_config.is_null()) ours.insert("hf_quant_config.json");
    if (files_ > 1) ours.insert("model.safetensors.index.json");
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
      const std::string n = e.path().filename().string();
      const bool checkpoint_file = n == "hf_quant_config.json" || n == "model.safetensors.index.json" || e.path().extension() == ".safetensors";
      if (checkpoint_file && !ours.count(n)) std::filesystem::remove(e.path(), ec);
    }
  }

  std::filesystem::path dir_;
  int files_;
  std::vector<std::unique_ptr<PlannedSafetensorsWriter>> w_;
  std::map<std::string, std::size_t> file_of_;
  json weight_map_ = json::object();
  std::size_t count_ = 0;
};

class FileSink : public TensorSink {
 public:
  explicit FileSink(Files& f) : f_(f) {}
  void declare(const std::string&, DType, const Shape&, int) override {}
  void put(const std::string& name, std::uint64_t offset, const void* p, std::size_t n) override { f_.put(name, offset, p, n); }

 private:
  Files& f_;
};

}  // namespace

GeneratedCheckpoint generate_checkpoint(const WriterOptions& o) {
  check_options(o);
  GeneratedCheckpoint g;
  MemorySink sink(g);
  const auto jobs = jobs_for(o);
  for (std::size_t i = 0; i < jobs.size(); ++i) run_job(o, jobs[i], i, sink);
  add_configs(o, g);
  return g;
}

void write_checkpoint(const std::filesystem::path& dir, const GeneratedCheckpoint& g, int files) {
  std::vector<Planned> plan;
  for (const auto& [name, t] : g.tensors) {
    const auto it = g.slots.find(name);
    plan.push_back({{name, t.dtype(), t.shape()}, it == g.slots.end() ? -1 : it->second});
  }
  Files out(dir, files, plan);
  for (const auto& [name, t] : g.tensors) out.put(name, 0, t.data(), static_cast<std::size_t>(t.nbytes()));
  out.finish(g);
}

std::size_t write_checkpoint_streaming(const std::filesystem::path& dir, const WriterOptions& o, int threads,
                                       const std::function<void(std::size_t total)>& on_job_done) {
  check_options(o);
  const auto jobs = jobs_for(o);
  PlanSink plan;
  for (std::size_t i = 0; i < jobs.size(); ++i) run_job(o, jobs[i], i, plan);
  Files out(dir, o.files, plan.plan);
  FileSink sink(out);
  std::atomic<std::size_t> next{0};
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(std::max(threads, 1)));
  auto worker = [&](std::size_t w) {
    try {
      for (std::size_t i; (i = next++) < jobs.size();) {
        run_job(o, jobs[i], i, sink);
        if (on_job_done) on_job_done(jobs.size());
      }
    } catch (...) {
      errors[w] = std::current_exception();
      next = jobs.size();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker, static_cast<std::size_t>(t));
  worker(0);
  for (auto& t : pool) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  GeneratedCheckpoint g;
  add_configs(o, g);
  out.finish(g);
  return out.count();
}

}  // namespace nvfp4

#include "generator/checkpoint_writer.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "core/error.h"
#include "core/module_map.h"
#include "core/safetensors.h"
#include "generator/encoders.h"
#include "generator/modelopt_quantize.h"
#include "generator/rng.h"

namespace nvfp4 {
namespace {

using json = nlohmann::json;

// Random [N, K] weights, rounded to BF16 like a real model's, with some all-zero blocks planted.
// The normal's 2^16 levels are scaled and rounded to BF16 once per call (65536 values), so an
// element costs a table lookup: four per 64-bit draw, then one draw per block for the zero plant.
// w is reused across calls (its pages already mapped: fresh gigabytes cost page faults).
void random_weights(std::vector<float>& w, Rng& rng, std::int64_t N, std::int64_t K, double gain, double zero_frac) {
  w.resize(static_cast<std::size_t>(N * K));
  const float g = static_cast<float>(gain);
  const auto& levels = Rng::normal_levels();
  std::vector<float> table(levels.size());
  for (std::size_t i = 0; i < levels.size(); ++i) table[i] = bf16_to_f32(f32_to_bf16(levels[i] * g));
  const std::uint64_t zero_below = static_cast<std::uint64_t>(zero_frac * 0x1.0p53);  // uniform() < zero_frac, on next() >> 11
  float* p = w.data();
  for (std::int64_t blk = 0; blk < N * K / 16; ++blk, p += 16) {
    for (int q = 0; q < 16; q += 4) {
      const std::uint64_t r = rng.next();
      p[q] = table[r & 0xFFFF];
      p[q + 1] = table[(r >> 16) & 0xFFFF];
      p[q + 2] = table[(r >> 32) & 0xFFFF];
      p[q + 3] = table[r >> 48];
    }
    if ((rng.next() >> 11) < zero_below) std::fill_n(p, 16, 0.0f);
  }
}

// Per-thread weight buffers, one per shard of a group, kept between groups of one write and freed
// at its end (a caller that forks afterwards must not carry them).
thread_local std::deque<std::vector<float>> weight_buffers;  // growing keeps references to the others
std::vector<float>& weight_buffer(std::size_t i) {
  if (weight_buffers.size() <= i) weight_buffers.resize(i + 1);
  return weight_buffers[i];
}

float amax_of(const std::vector<float>& w) {
  float a = 0;
  for (float v : w) a = std::max(a, std::fabs(v));
  return a == 0 ? 1.0f : a;
}

Tensor scalar_tensor(float v, ScalarStyle style) {
  if (style == ScalarStyle::Dim0BF16) {
    Tensor t = Tensor::empty(DType::BF16, {});
    std::uint16_t h = f32_to_bf16(v);
    std::memcpy(t.data(), &h, 2);
    return t;
  }
  Tensor t = Tensor::empty(DType::F32, style == ScalarStyle::Dim1F32 ? Shape{1} : Shape{});
  std::memcpy(t.data(), &v, 4);
  return t;
}

Tensor cat_rows(const std::vector<Tensor>& parts) {
  Shape s = parts.at(0).shape();
  s[0] = 0;
  for (const auto& p : parts) s[0] += p.shape()[0];
  Tensor out = Tensor::empty(parts[0].dtype(), s);
  std::size_t off = 0;
  for (const auto& p : parts) {
    std::memcpy(out.data() + off, p.data(), p.nbytes());
    off += p.nbytes();
  }
  return out;
}

struct Shard {
  std::vector<float>& w;
  std::int64_t N;
  float amax;        // the amax its scale comes from (group amax when scales are fused)
  float input_scale;
};

class Builder {
 public:
  // slot: the job's index, which (plus the shard index) decides the file a tensor goes to.
  Builder(const WriterOptions& o, int slot) : o_(o), fn_(format_names(o.format)), slot_(slot) {}

  void linear_group(const std::string& module, const std::vector<std::string>& shard_prefixes,
                    const std::string& fused_prefix, const std::vector<std::int64_t>& rows, std::int64_t K, Rng& rng) {
    std::vector<Shard> shards;
    float in_amax = static_cast<float>(0.5 + 7.5 * rng.uniform());
    for (std::size_t i = 0; i < rows.size(); ++i) {
      double gain = o_.unequal_scales ? 0.02 * (1.0 + 1.5 * static_cast<double>(i)) : 0.02;
      Shard s{weight_buffer(i), rows[i], 0, 0};
      random_weights(s.w, rng, rows[i], K, gain, o_.zero_block_fraction);
      s.amax = amax_of(s.w);
      s.input_scale = (o_.unequal_scales ? in_amax * (1.0f + 0.25f * static_cast<float>(i)) : in_amax) / 2688.0f;
      shards.push_back(std::move(s));
    }
    if (!o_.unequal_scales) {  // ModelOpt's preprocess_linear_fusion: one amax for the fusion group
      float g = 0;
      for (auto& s : shards) g = std::max(g, s.amax);
      for (auto& s : shards) s.amax = g;
    }
    std::vector<QuantizedWeight> q;
    for (auto& s : shards)
      q.push_back(modelopt_quantize(s.w, s.N, K, s.amax, o_.zero_block_code));
    if (!fused_prefix.empty()) {
      std::vector<Tensor> ws, ss;
      for (auto& x : q) { ws.push_back(x.weight); ss.push_back(x.scale); }
      emit(fused_prefix, cat_rows(ws), cat_rows(ss), q[0].scale_2, shards[0].input_scale, 0);
    } else {
      for (std::size_t i = 0; i < q.size(); ++i)
        emit(shard_prefixes[i], q[i].weight, q[i].scale, q[i].scale_2, shards[i].input_scale, static_cast<int>(i));
    }
    (void)module;
  }

  void emit(const std::string& p, Tensor w, Tensor s, float s2, float in_s, int shard) {
    for (const auto* suffix : {&fn_.weight, &fn_.weight_scale, &fn_.weight_scale_2, &fn_.input_scale})
      out.slots[p + "." + *suffix] = slot_ + shard;
    out.tensors[p + "." + fn_.weight] = std::move(w);
    out.tensors[p + "." + fn_.weight_scale] = std::move(s);
    if (o_.format == CkptFormat::CompressedTensors) {
      // Written as ModelOpt -> compressed-tensors conversion does: f32 reciprocals, shape [1].
      out.tensors[p + "." + fn_.weight_scale_2] = scalar_tensor(1.0f / s2, ScalarStyle::Dim1F32);
      if (o_.input_scales) out.tensors[p + "." + fn_.input_scale] = scalar_tensor(1.0f / in_s, ScalarStyle::Dim1F32);
    } else {
      out.tensors[p + "." + fn_.weight_scale_2] = scalar_tensor(s2, o_.scalars);
      if (o_.input_scales) out.tensors[p + "." + fn_.input_scale] = scalar_tensor(in_s, o_.scalars);
    }
  }

  void plain(const std::string& name, Shape shape, Rng& rng) {
    Tensor t = Tensor::empty(DType::BF16, shape);
    auto* h = t.data_as<std::uint16_t>();
    for (std::int64_t i = 0; i < t.numel(); ++i) h[i] = f32_to_bf16(rng.normal4()[0] * 0.02f);
    out.tensors[name] = std::move(t);
    out.slots[name] = slot_;
  }

  GeneratedCheckpoint out;

 private:
  const WriterOptions& o_;
  const FormatNames& fn_;
  int slot_;
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
  auto group = [&](std::string module, std::vector<std::string> shards, std::string fused, std::vector<std::int64_t> rows, std::int64_t K) {
    jobs.push_back([=](Builder& b, Rng& r) { b.linear_group(module, shards, fused, rows, K, r); });
  };
  plain("model.embed_tokens.weight", {64, H});
  for (int l = 0; l < o.layers; ++l) {
    std::string L = "model.layers." + std::to_string(l);
    plain(L + ".input_layernorm.weight", {H});
    plain(L + ".post_attention_layernorm.weight", {H});
    std::string a = L + ".self_attn";
    group(a + ".qkv_proj", {a + ".q_proj", a + ".k_proj", a + ".v_proj"}, o.fused ? a + ".qkv_proj" : "", {heads * hd, kv * hd, kv * hd}, H);
    group(a + ".o_proj", {a + ".o_proj"}, "", {H}, heads * hd);
    std::string m = L + ".mlp";
    if (o.experts == 0) {
      group(m + ".gate_up_proj", {m + ".gate_proj", m + ".up_proj"}, o.fused ? m + ".gate_up_proj" : "", {I, I}, H);
      group(m + ".down_proj", {m + ".down_proj"}, "", {H}, I);
    } else {
      plain(m + ".gate.weight", {o.experts, H});  // the router stays unquantized
      for (int e = 0; e < o.experts; ++e) {
        std::string x = m + ".experts." + std::to_string(e);
        // gate/up of one expert share an input and (unless unequal) an amax, as ModelOpt fuses them.
        group(x + ".w13", {x + ".gate_proj", x + ".up_proj"}, "", {I, I}, H);
        group(x + ".down_proj", {x + ".down_proj"}, "", {H}, I);
      }
    }
  }
  plain("model.norm.weight", {H});
  plain("lm_head.weight", {64, H});
  return jobs;
}

GeneratedCheckpoint run_job(const WriterOptions& o, const std::function<void(Builder&, Rng&)>& job, std::size_t index) {
  Builder b(o, static_cast<int>(index));
  Rng rng((o.seed * 0x9E3779B97F4A7C15ull + 1) ^ (static_cast<std::uint64_t>(index) * 0xD1B54A32D192ED03ull));
  job(b, rng);
  return std::move(b.out);
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

// Every safetensors file of the checkpoint, written as parts arrive (any order, any thread).
class Files {
 public:
  Files(const std::filesystem::path& dir, int files) : dir_(dir), files_(files) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw Error(ErrorKind::Io, dir.string(), "", "cannot create directory: " + ec.message());
    for (int f = 0; f < files; ++f) w_.push_back(std::make_unique<StreamingSafetensorsWriter>(dir / name_of(f)));
  }
  std::string name_of(int f) const {
    if (files_ == 1) return "model.safetensors";
    char b[64];
    std::snprintf(b, sizeof b, "model-%05d-of-%05d.safetensors", f + 1, files_);
    return b;
  }
  // A tensor's file: its job's index plus its shard's, round robin, so every file gets a mix of
  // modules and the shards of one module land in different files, as in real sharded checkpoints.
  void add(const GeneratedCheckpoint& part) {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [name, t] : part.tensors) {
      auto it = part.slots.find(name);
      const int f = static_cast<int>((it == part.slots.end() ? next_++ : static_cast<std::size_t>(it->second)) % static_cast<std::size_t>(files_));
      w_[static_cast<std::size_t>(f)]->add(name, t);
      weight_map_[name] = name_of(f);
      ++count_;
    }
  }
  std::size_t count() const { return count_; }
  void finish(const GeneratedCheckpoint& g) {
    auto dump = [](const json& j) {
      std::string s = j.dump(2) + "\n";
      return std::vector<std::uint8_t>(s.begin(), s.end());
    };
    for (auto& w : w_) w->finish({{"format", "pt"}});
    write_file_atomic(dir_ / "config.json", dump(g.config));
    if (!g.hf_quant_config.is_null()) write_file_atomic(dir_ / "hf_quant_config.json", dump(g.hf_quant_config));
    if (files_ > 1)
      write_file_atomic(dir_ / "model.safetensors.index.json", dump(json{{"metadata", json::object()}, {"weight_map", weight_map_}}));
    // Written over an earlier checkpoint, the directory must hold this one only: a stale
    // hf_quant_config.json (ModelOpt) under a compressed-tensors config, a stale index, or shards of
    // another split would make it a different, or an invalid, checkpoint.
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

 private:
  std::filesystem::path dir_;
  int files_;
  std::vector<std::unique_ptr<StreamingSafetensorsWriter>> w_;
  std::mutex mu_;
  json weight_map_ = json::object();
  std::size_t next_ = 0, count_ = 0;
};

}  // namespace

GeneratedCheckpoint generate_checkpoint(const WriterOptions& o) {
  check_options(o);
  GeneratedCheckpoint g;
  const auto jobs = jobs_for(o);
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    GeneratedCheckpoint part = run_job(o, jobs[i], i);
    for (auto& [n, t] : part.tensors) g.tensors[n] = std::move(t);
    for (auto& [n, f] : part.slots) g.slots[n] = f;
  }
  weight_buffers.clear();
  add_configs(o, g);
  return g;
}

void write_checkpoint(const std::filesystem::path& dir, const GeneratedCheckpoint& g, int files) {
  Files out(dir, files);
  out.add(g);
  out.finish(g);
}

std::size_t write_checkpoint_streaming(const std::filesystem::path& dir, const WriterOptions& o, int threads,
                                       const std::function<void(std::size_t total)>& on_job_done) {
  check_options(o);
  const auto jobs = jobs_for(o);
  Files out(dir, o.files);
  std::atomic<std::size_t> next{0};
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(std::max(threads, 1)));
  auto worker = [&](std::size_t w) {
    try {
      for (std::size_t i; (i = next++) < jobs.size();) {
        out.add(run_job(o, jobs[i], i));
        if (on_job_done) on_job_done(jobs.size());
      }
    } catch (...) {
      errors[w] = std::current_exception();
      next = jobs.size();
    }
    weight_buffers.clear();
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

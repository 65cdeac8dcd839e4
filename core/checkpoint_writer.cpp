#include "core/checkpoint_writer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "core/codecs.h"
#include "core/error.h"
#include "core/modelopt_quantize.h"
#include "core/module_map.h"
#include "core/rng.h"
#include "core/safetensors.h"

namespace nvfp4 {
namespace {

using json = nlohmann::json;

// Random [N, K] weights, rounded to BF16 like a real model's, with some all-zero blocks planted.
std::vector<float> random_weights(Rng& rng, std::int64_t N, std::int64_t K, double gain, double zero_frac) {
  std::vector<float> w(static_cast<std::size_t>(N * K));
  const float g = static_cast<float>(gain);
  std::size_t i = 0;
  for (; i + 4 <= w.size(); i += 4) {
    const auto z = rng.normal4();
    for (int j = 0; j < 4; ++j) w[i + static_cast<std::size_t>(j)] = bf16_to_f32(f32_to_bf16(z[static_cast<std::size_t>(j)] * g));
  }
  for (; i < w.size(); ++i) w[i] = bf16_to_f32(f32_to_bf16(rng.normal4()[0] * g));
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t b = 0; b < K / 16; ++b)
      if (rng.uniform() < zero_frac) std::fill_n(&w[static_cast<std::size_t>(n * K + 16 * b)], 16, 0.0f);
  return w;
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
  std::vector<float> w;
  std::int64_t N;
  float amax;        // the amax its scale comes from (group amax when scales are fused)
  float input_scale;
};

class Builder {
 public:
  explicit Builder(const WriterOptions& o) : o_(o), fn_(format_names(o.format)) {}

  void linear_group(const std::string& module, const std::vector<std::string>& shard_prefixes,
                    const std::string& fused_prefix, const std::vector<std::int64_t>& rows, std::int64_t K, Rng& rng) {
    std::vector<Shard> shards;
    float in_amax = static_cast<float>(0.5 + 7.5 * rng.uniform());
    for (std::size_t i = 0; i < rows.size(); ++i) {
      double gain = o_.unequal_scales ? 0.02 * (1.0 + 1.5 * static_cast<double>(i)) : 0.02;
      Shard s{random_weights(rng, rows[i], K, gain, o_.zero_block_fraction), rows[i], 0, 0};
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
      emit(fused_prefix, cat_rows(ws), cat_rows(ss), q[0].scale_2, shards[0].input_scale);
    } else {
      for (std::size_t i = 0; i < q.size(); ++i)
        emit(shard_prefixes[i], q[i].weight, q[i].scale, q[i].scale_2, shards[i].input_scale);
    }
    (void)module;
  }

  void emit(const std::string& p, Tensor w, Tensor s, float s2, float in_s) {
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
  }

  GeneratedCheckpoint out;

 private:
  const WriterOptions& o_;
  const FormatNames& fn_;
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

}  // namespace

GeneratedCheckpoint generate_checkpoint(const WriterOptions& o) {
  check_options(o);
  Builder b(o);
  Rng rng(o.seed * 0x9E3779B97F4A7C15ull + 1);
  const std::int64_t H = o.hidden, I = o.intermediate, hd = o.head_dim;
  const std::int64_t heads = H / hd, kv = o.kv_heads ? o.kv_heads : std::max<std::int64_t>(1, heads / 2);

  b.plain("model.embed_tokens.weight", {64, H}, rng);
  for (int l = 0; l < o.layers; ++l) {
    std::string L = "model.layers." + std::to_string(l);
    b.plain(L + ".input_layernorm.weight", {H}, rng);
    b.plain(L + ".post_attention_layernorm.weight", {H}, rng);
    std::string a = L + ".self_attn";
    b.linear_group(a + ".qkv_proj", {a + ".q_proj", a + ".k_proj", a + ".v_proj"}, o.fused ? a + ".qkv_proj" : "",
                   {heads * hd, kv * hd, kv * hd}, H, rng);
    b.linear_group(a + ".o_proj", {a + ".o_proj"}, "", {H}, heads * hd, rng);
    std::string m = L + ".mlp";
    if (o.experts == 0) {
      b.linear_group(m + ".gate_up_proj", {m + ".gate_proj", m + ".up_proj"}, o.fused ? m + ".gate_up_proj" : "",
                     {I, I}, H, rng);
      b.linear_group(m + ".down_proj", {m + ".down_proj"}, "", {H}, I, rng);
    } else {
      b.plain(m + ".gate.weight", {o.experts, H}, rng);  // the router stays unquantized
      for (int e = 0; e < o.experts; ++e) {
        std::string x = m + ".experts." + std::to_string(e);
        // gate/up of one expert share an input and (unless unequal) an amax, as ModelOpt fuses them.
        b.linear_group(x + ".w13", {x + ".gate_proj", x + ".up_proj"}, "", {I, I}, H, rng);
        b.linear_group(x + ".down_proj", {x + ".down_proj"}, "", {H}, I, rng);
      }
    }
  }
  b.plain("model.norm.weight", {H}, rng);
  b.plain("lm_head.weight", {64, H}, rng);

  GeneratedCheckpoint g = std::move(b.out);
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
  return g;
}

void write_checkpoint(const std::filesystem::path& dir, const GeneratedCheckpoint& g, int files) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(ErrorKind::Io, dir.string(), "", "cannot create directory: " + ec.message());
  auto dump = [](const json& j) {
    std::string s = j.dump(2) + "\n";
    return std::vector<std::uint8_t>(s.begin(), s.end());
  };
  // Round-robin over names sorted, so every file gets a mix of modules (and shards of one module
  // can land in different files, as they do in real sharded checkpoints).
  std::vector<std::vector<TensorToWrite>> parts(static_cast<std::size_t>(files));
  json weight_map = json::object();
  std::size_t i = 0;
  auto name_of = [&](std::size_t f) {
    if (files == 1) return std::string("model.safetensors");
    char b[64];
    std::snprintf(b, sizeof b, "model-%05zu-of-%05d.safetensors", f + 1, files);
    return std::string(b);
  };
  for (const auto& [name, t] : g.tensors) {
    std::size_t f = i++ % parts.size();
    parts[f].push_back({name, t});
    weight_map[name] = name_of(f);
  }
  for (std::size_t f = 0; f < parts.size(); ++f)
    write_safetensors(dir / name_of(f), parts[f], {{"format", "pt"}});
  write_file_atomic(dir / "config.json", dump(g.config));
  if (!g.hf_quant_config.is_null()) write_file_atomic(dir / "hf_quant_config.json", dump(g.hf_quant_config));
  if (files > 1)
    write_file_atomic(dir / "model.safetensors.index.json", dump(json{{"metadata", json::object()}, {"weight_map", weight_map}}));
  // Written over an earlier checkpoint, the directory must hold this one only: a stale
  // hf_quant_config.json (ModelOpt) under a compressed-tensors config, a stale index, or shards of
  // another split would make it a different, or an invalid, checkpoint.
  std::set<std::string> ours{"config.json"};
  for (std::size_t f = 0; f < parts.size(); ++f) ours.insert(name_of(f));
  if (!g.hf_quant_config.is_null()) ours.insert("hf_quant_config.json");
  if (files > 1) ours.insert("model.safetensors.index.json");
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    const bool checkpoint_file = n == "hf_quant_config.json" || n == "model.safetensors.index.json" || e.path().extension() == ".safetensors";
    if (checkpoint_file && !ours.count(n)) std::filesystem::remove(e.path(), ec);
  }
}

}  // namespace nvfp4

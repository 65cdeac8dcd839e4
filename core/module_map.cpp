#include "core/module_map.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <optional>
#include <set>

#include "core/error.h"

namespace nvfp4 {

const FormatNames& format_names(CkptFormat f) {
  static const FormatNames kModelOpt{"weight", "weight_scale", "weight_scale_2", "input_scale", false};
  static const FormatNames kCt{"weight_packed", "weight_scale", "weight_global_scale", "input_global_scale", true};
  return f == CkptFormat::ModelOpt ? kModelOpt : kCt;
}

std::int64_t LinearSpec::N() const { return std::accumulate(shard_rows.begin(), shard_rows.end(), std::int64_t{0}); }

namespace {

struct Quantized { std::int64_t N, K; bool input_scale; };

// Checks the four tensors of one quantized prefix and returns its shape.
Quantized check_prefix(const Checkpoint& c, const FormatNames& fn, const std::string& p) {
  auto need = [&](const std::string& suffix) -> const TensorInfo& {
    std::string n = p + "." + suffix;
    if (!c.has(n)) bad_input(c.dir().string(), n, "missing tensor (module " + p + " is quantized)");
    return c.info(n);
  };
  const TensorInfo& w = need(fn.weight);
  const TensorInfo& s = need(fn.weight_scale);
  const TensorInfo& s2 = need(fn.weight_scale_2);
  std::string wn = p + "." + fn.weight, sn = p + "." + fn.weight_scale;
  if (w.dtype != DType::U8 || w.shape.size() != 2)
    bad_input(c.file_of(wn), wn, "expected U8 [N, K/2] packed E2M1, found " + std::string(dtype_name(w.dtype)) + shape_str(w.shape));
  if (s.dtype != DType::F8_E4M3 || s.shape.size() != 2)
    bad_input(c.file_of(sn), sn, "expected F8_E4M3 [N, K/16], found " + std::string(dtype_name(s.dtype)) + shape_str(s.shape));
  std::int64_t N = w.shape[0], K = 2 * w.shape[1];
  if (K % 16 != 0) bad_input(c.file_of(wn), wn, "K = " + std::to_string(K) + " is not a multiple of 16");
  if (s.shape[0] != N || s.shape[1] != K / 16)
    bad_input(c.file_of(sn), sn, "shape " + shape_str(s.shape) + " does not match the weight: expected [" +
                                     std::to_string(N) + ", " + std::to_string(K / 16) + "]");
  auto scalar = [&](const TensorInfo& t, const std::string& n) {
    bool shape_ok = t.shape.empty() || (t.shape.size() == 1 && t.shape[0] == 1);
    if (!shape_ok || (t.dtype != DType::F32 && t.dtype != DType::BF16))
      bad_input(c.file_of(n), n, "expected an F32 or BF16 scalar (shape [] or [1]), found " +
                                     std::string(dtype_name(t.dtype)) + shape_str(t.shape));
  };
  scalar(s2, p + "." + fn.weight_scale_2);
  bool has_in = c.has(p + "." + fn.input_scale);
  if (has_in) scalar(c.info(p + "." + fn.input_scale), p + "." + fn.input_scale);
  return {N, K, has_in};
}

// "a.b.c" -> {"a.b", "c"}; no dot -> {"", s}.
std::pair<std::string_view, std::string_view> split_last(std::string_view s) {
  const auto dot = s.rfind('.');
  if (dot == std::string_view::npos) return {std::string_view{}, s};
  return {s.substr(0, dot), s.substr(dot + 1)};
}

bool all_digits(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}

// A config.json integer, or -1 when absent. Anything present must be an integer in [1, 2^24]:
// the products below (heads * head_dim, summed three times) then stay far inside int64, and a
// negative, fractional, string or huge value is refused by name instead of read as "absent" or
// wrapped to a small valid one.
constexpr std::int64_t kMaxConfigInt = std::int64_t{1} << 24;
std::int64_t config_int(const Checkpoint& c, const char* key) {
  const auto& cfg = c.config();
  if (!cfg.is_object() || !cfg.contains(key) || cfg[key].is_null()) return -1;
  const auto& v = cfg[key];  // nlohmann parses every non-negative integer as unsigned
  if (!v.is_number_unsigned() || v.get<std::uint64_t>() < 1 || v.get<std::uint64_t>() > std::uint64_t(kMaxConfigInt))
    bad_input((c.dir() / "config.json").string(), key,
              "must be an integer from 1 to " + std::to_string(kMaxConfigInt) + ", not " +
                  v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return v.get<std::int64_t>();
}

// q/k/v row counts of a qkv_proj fused on disk come from the attention shape in config.json.
std::vector<std::int64_t> qkv_rows(const Checkpoint& c, const std::string& wname, std::int64_t N) {
  std::int64_t heads = config_int(c, "num_attention_heads");
  std::int64_t kv = config_int(c, "num_key_value_heads");
  std::int64_t hd = config_int(c, "head_dim");
  std::int64_t hidden = config_int(c, "hidden_size");
  if (heads <= 0)
    bad_input(c.file_of(wname), wname, "fused on disk, but config.json lacks num_attention_heads to split q/k/v");
  if (kv <= 0) kv = heads;
  if (hd <= 0 && hidden > 0) hd = hidden / heads;
  if (hd <= 0) bad_input(c.file_of(wname), wname, "fused on disk, but config.json lacks head_dim and hidden_size");
  std::vector<std::int64_t> rows{heads * hd, kv * hd, kv * hd};
  if (rows[0] + rows[1] + rows[2] != N)
    bad_input(c.file_of(wname), wname, "has " + std::to_string(N) + " rows but config.json implies q+k+v = " +
                                           std::to_string(rows[0] + rows[1] + rows[2]));
  return rows;
}

// Step 1: the tensor names decide the format; a config that says otherwise is wrong.
CkptFormat detect_format(const Checkpoint& c) {
  bool ct_names = false, mo_names = false;
  for (const auto& n : c.tensor_names()) {
    if (n.ends_with(".weight_packed") || n.ends_with(".weight_global_scale")) ct_names = true;
    if (n.ends_with(".weight_scale_2")) mo_names = true;
  }
  if (ct_names && mo_names) bad_input(c.dir().string(), "", "mixes ModelOpt and compressed-tensors tensor names");
  const CkptFormat f = ct_names ? CkptFormat::CompressedTensors : CkptFormat::ModelOpt;
  if (c.quant().present && c.quant().format != f && (ct_names || mo_names))
    bad_input(c.quant().source, "", "declares " + format_name(c.quant().format) + " but the tensors use " +
                                        format_name(f) + " names");
  return f;
}

// Step 2: the quantized prefixes, those with a block-scale tensor.
std::vector<std::string> quantized_prefixes(const Checkpoint& c, const FormatNames& fn) {
  std::vector<std::string> prefixes;
  const std::string scale_suffix = "." + fn.weight_scale;
  for (const auto& n : c.tensor_names()) {
    if (!n.ends_with(scale_suffix)) continue;
    std::string p = n.substr(0, n.size() - scale_suffix.size());
    if (c.excluded(p))
      bad_input(c.file_of(n), n, "module " + p + " is excluded from quantization by " + c.quant().source +
                                     " but stored quantized");
    prefixes.push_back(p);
  }
  // A packed weight with no block scale is a missing tensor, not a pass-through.
  for (const auto& n : c.tensor_names()) {
    std::string suffix = "." + fn.weight;
    if (n.ends_with(suffix) && c.info(n).dtype == DType::U8) {
      std::string p = n.substr(0, n.size() - suffix.size());
      if (!c.has(p + scale_suffix)) bad_input(c.dir().string(), p + scale_suffix, "missing tensor (" + n + " is packed E2M1)");
    }
  }
  return prefixes;
}

// Step 3: each prefix classified by the tables of core/module_names.h: one expert's projection, a
// shard or the whole of a fused module, or a module of its own. Plain string code, not a regex:
// names come from the file and can be megabytes long (a backtracking std::regex recursed per
// character and overflowed the stack).
struct FusedGroup {
  const Fusion* fusion = nullptr;
  std::map<std::string, std::string> shards;  // shard id -> prefix
  std::string fused;                          // the prefix holding every shard, if stored so
};
struct Classified {
  std::map<std::string, FusedGroup> groups;                                // module name -> parts
  std::map<std::string, std::map<std::int64_t, RolePrefixes>> experts;     // module -> expert -> parts
  std::vector<std::string> singles;
};

// "<module>.experts.<e>.<role leaf>": files it under its expert and role.
bool classify_expert(const Checkpoint& c, const std::string& p, std::string_view parent, std::string_view leaf, Classified& k) {
  const auto [owner, index] = split_last(parent);
  const std::optional<ExpertRole> role = expert_role(leaf);
  if (!owner.ends_with(".experts") || index.empty() || !all_digits(index) || !role) return false;
  if (index.size() > 7) bad_input(c.dir().string(), p, "expert index out of range");
  std::int64_t e = 0;
  for (char d : index) e = 10 * e + (d - '0');
  if (e > 1'000'000) bad_input(c.dir().string(), p, "expert index out of range");
  std::string& slot = k.experts[std::string(owner)][e][*role];
  if (!slot.empty())
    bad_input(c.dir().string(), p, "expert " + std::to_string(e) + " " + std::string(role_names(*role).shard_id) + " also stored as " + slot);
  slot = p;
  return true;
}

// "<parent>.<shard leaf>" or "<parent>.<fused leaf>" of a Fusion: files it under the fused module.
bool classify_fused(const std::string& p, std::string_view parent, std::string_view leaf, Classified& k) {
  for (const Fusion& f : fusions()) {
    if (!parent.ends_with(f.parent)) continue;
    if (leaf == f.fused_leaf) {
      FusedGroup& g = k.groups[p];
      g.fusion = &f;
      g.fused = p;
      return true;
    }
    for (const FusedShard& shard : f.shards)
      if (leaf == shard.leaf) {
        FusedGroup& g = k.groups[std::string(parent) + "." + std::string(f.fused_leaf)];
        g.fusion = &f;
        g.shards[std::string(shard.id)] = p;
        return true;
      }
  }
  return false;
}

Classified classify(const Checkpoint& c, const std::vector<std::string>& prefixes) {
  Classified k;
  for (const auto& p : prefixes) {
    const auto [parent, leaf] = split_last(p);
    if (!classify_expert(c, p, parent, leaf, k) && !classify_fused(p, parent, leaf, k)) k.singles.push_back(p);
  }
  return k;
}

// Step 4: the modules, each prefix's tensors checked.

// A fused module stored whole: one tensor, its rows split into shards by the Fusion's rule.
void fused_on_disk(const Checkpoint& c, const FormatNames& fn, const Fusion& f, const std::string& prefix, LinearSpec& s) {
  Quantized q = check_prefix(c, fn, prefix);
  s.fused_on_disk = true;
  s.prefixes = {prefix};
  s.K = q.K;
  s.has_input_scale = q.input_scale;
  if (f.split == FusedSplit::AttentionHeads) {
    s.shard_rows = qkv_rows(c, prefix + "." + fn.weight, q.N);
  } else {
    if (q.N % 2) bad_input(c.file_of(prefix + "." + fn.weight), prefix + "." + fn.weight, "odd row count for gate+up");
    s.shard_rows = {q.N / 2, q.N / 2};
  }
}

// A fused module stored per shard: every shard present, with one K and input scales on all or none.
void per_shard(const Checkpoint& c, const FormatNames& fn, const FusedGroup& g, LinearSpec& s) {
  const std::string& name = s.name;
  for (std::size_t i = 0; i < g.fusion->shards.size(); ++i) {
    const FusedShard& shard = g.fusion->shards[i];
    auto it = g.shards.find(std::string(shard.id));
    const std::string expect = name.substr(0, name.rfind('.')) + "." + std::string(shard.leaf);
    if (it == g.shards.end())
      bad_input(c.dir().string(), expect + "." + fn.weight, "missing shard of " + name);
    Quantized q = check_prefix(c, fn, it->second);
    if (i == 0) { s.K = q.K; s.has_input_scale = q.input_scale; }
    if (q.K != s.K) bad_input(c.file_of(it->second + "." + fn.weight), it->second + "." + fn.weight,
                              "K = " + std::to_string(q.K) + " differs from the other shards' K = " + std::to_string(s.K));
    if (q.input_scale != s.has_input_scale)
      bad_input(c.dir().string(), it->second + "." + fn.input_scale, "present on some shards of " + name + " only");
    s.prefixes.push_back(it->second);
    s.shard_rows.push_back(q.N);
  }
}

LinearSpec build_fused(const Checkpoint& c, const FormatNames& fn, const std::string& name, const FusedGroup& g) {
  LinearSpec s;
  s.name = name;
  for (const FusedShard& shard : g.fusion->shards) s.shard_ids.emplace_back(shard.id);
  if (!g.fused.empty() && !g.shards.empty())
    bad_input(c.dir().string(), g.shards.begin()->second, "stored both fused (" + g.fused + ") and per shard");
  if (!g.fused.empty()) fused_on_disk(c, fn, *g.fusion, g.fused, s);
  else per_shard(c, fn, g, s);
  return s;
}

LinearSpec build_single(const Checkpoint& c, const FormatNames& fn, const std::string& p) {
  Quantized q = check_prefix(c, fn, p);
  LinearSpec s;
  s.name = p;
  s.shard_ids = {"0"};
  s.shard_rows = {q.N};
  s.K = q.K;
  s.prefixes = {p};
  s.has_input_scale = q.input_scale;
  return s;
}

// One expert's three projections: gate and up [I, H], down [H, I], input scales on all or none.
void check_expert(const Checkpoint& c, const FormatNames& fn, std::int64_t e, const RolePrefixes& ps, ExpertsSpec& s) {
  const Quantized w1 = check_prefix(c, fn, ps[ExpertRole::Gate]), w3 = check_prefix(c, fn, ps[ExpertRole::Up]),
                  w2 = check_prefix(c, fn, ps[ExpertRole::Down]);
  if (e == 0) { s.H = w1.K; s.I = w1.N; s.has_input_scale = w1.input_scale; }
  auto wn = [&](ExpertRole r) { return ps[r] + "." + fn.weight; };
  if (w1.K != s.H || w1.N != s.I)
    bad_input(c.file_of(wn(ExpertRole::Gate)), wn(ExpertRole::Gate), "shape differs from expert 0's gate_proj");
  if (w3.K != s.H || w3.N != s.I)
    bad_input(c.file_of(wn(ExpertRole::Up)), wn(ExpertRole::Up), "shape [" + std::to_string(w3.N) + ", " + std::to_string(w3.K / 2) +
                                            "] differs from gate_proj's [" + std::to_string(s.I) + ", " + std::to_string(s.H / 2) + "]");
  if (w2.N != s.H || w2.K != s.I)
    bad_input(c.file_of(wn(ExpertRole::Down)), wn(ExpertRole::Down), "expected [H, I/2] = [" + std::to_string(s.H) + ", " + std::to_string(s.I / 2) + "]");
  if (w1.input_scale != s.has_input_scale || w3.input_scale != s.has_input_scale || w2.input_scale != s.has_input_scale)
    bad_input(c.dir().string(), ps[ExpertRole::Gate] + "." + fn.input_scale, "input scales present on some experts only");
}

ExpertsSpec build_experts(const Checkpoint& c, const FormatNames& fn, const std::string& name,
                          const std::map<std::int64_t, RolePrefixes>& by_e) {
  ExpertsSpec s;
  s.name = name;
  s.E = static_cast<std::int64_t>(by_e.size());
  for (std::int64_t e = 0; e < s.E; ++e) {
    auto it = by_e.find(e);
    if (it == by_e.end())
      bad_input(c.dir().string(), name + "." + std::to_string(e) + "." + std::string(role_names(ExpertRole::Gate).proj) + "." + fn.weight,
                "missing expert " + std::to_string(e) + " (experts are numbered 0.." + std::to_string(s.E - 1) + ")");
    const RolePrefixes& ps = it->second;
    for (ExpertRole r : kExpertRoles)
      if (ps[r].empty())
        bad_input(c.dir().string(), name + "." + std::to_string(e) + "." + std::string(role_names(r).proj) + "." + fn.weight,
                  "missing tensor (expert " + std::to_string(e) + " has no " + std::string(role_names(r).shard_id) + ")");
    check_expert(c, fn, e, ps, s);
    s.prefixes.push_back(ps);
  }
  return s;
}

// Step 5: every tensor that no module reads.
std::vector<std::string> passthrough_names(const Checkpoint& c, const FormatNames& fn, const ModelSpec& spec) {
  std::set<std::string> quant_tensors;
  auto add = [&](const std::string& p) {
    for (const auto* suffix : {&fn.weight, &fn.weight_scale, &fn.weight_scale_2, &fn.input_scale}) quant_tensors.insert(p + "." + *suffix);
  };
  for (const auto& l : spec.linears)
    for (const auto& p : l.prefixes) add(p);
  for (const auto& x : spec.experts)
    for (const auto& ps : x.prefixes)
      for (const auto& p : ps) add(p);
  std::vector<std::string> out;
  for (const auto& n : c.tensor_names())
    if (!quant_tensors.count(n)) out.push_back(n);
  return out;
}

}  // namespace

ModelSpec map_modules(const Checkpoint& c) {
  ModelSpec spec;
  spec.format = detect_format(c);
  const FormatNames& fn = format_names(spec.format);
  const Classified k = classify(c, quantized_prefixes(c, fn));
  for (const auto& [name, g] : k.groups) spec.linears.push_back(build_fused(c, fn, name, g));
  for (const auto& p : k.singles) spec.linears.push_back(build_single(c, fn, p));
  for (const auto& [name, by_e] : k.experts) {
    spec.experts.push_back(build_experts(c, fn, name, by_e));
    if (const ExpertsInputMaxima* m = c.experts_input_maxima(name); m && spec.experts.back().has_input_scale)
      spec.experts.back().layer_input_maxima = *m;
  }
  std::sort(spec.linears.begin(), spec.linears.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  spec.passthrough = passthrough_names(c, fn, spec);
  return spec;
}

void require_same_structure(const ModelSpec& a, const ModelSpec& b, const std::string& dir) {
  auto fail = [&](const std::string& module, const std::string& what) {
    bad_input(dir, module, what + " (a reload must keep every module's shape)");
  };
  if (a.linears.size() != b.linears.size() || a.experts.size() != b.experts.size())
    fail("", "has a different set of modules than the loaded model");
  for (std::size_t i = 0; i < a.linears.size(); ++i) {
    const auto &x = a.linears[i], &y = b.linears[i];
    if (x.name != y.name) fail(y.name, "module differs from the loaded " + x.name);
    if (x.shard_rows != y.shard_rows || x.K != y.K) fail(y.name, "shape differs from the loaded module");
    if (x.has_input_scale != y.has_input_scale) fail(y.name, "input scales present in one checkpoint only");
  }
  for (std::size_t i = 0; i < a.experts.size(); ++i) {
    const auto &x = a.experts[i], &y = b.experts[i];
    if (x.name != y.name || x.E != y.E || x.H != y.H || x.I != y.I) fail(y.name, "experts differ from the loaded ones");
    if (x.has_input_scale != y.has_input_scale) fail(y.name, "input scales present in one checkpoint only");
  }
}

}  // namespace nvfp4

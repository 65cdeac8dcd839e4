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

bool is_expert_leaf(std::string_view leaf) {
  for (std::string_view n : {"gate_proj", "up_proj", "down_proj", "w1", "w3", "w2"})
    if (leaf == n) return true;
  return false;
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

}  // namespace

ModelSpec map_modules(const Checkpoint& c) {
  ModelSpec spec;
  // The tensor names decide the format; a config that says otherwise is wrong.
  bool ct_names = false, mo_names = false;
  for (const auto& n : c.tensor_names()) {
    if (n.ends_with(".weight_packed") || n.ends_with(".weight_global_scale")) ct_names = true;
    if (n.ends_with(".weight_scale_2")) mo_names = true;
  }
  if (ct_names && mo_names) bad_input(c.dir().string(), "", "mixes ModelOpt and compressed-tensors tensor names");
  spec.format = ct_names ? CkptFormat::CompressedTensors : CkptFormat::ModelOpt;
  if (c.quant().present && c.quant().format != spec.format && (ct_names || mo_names))
    bad_input(c.quant().source, "", "declares " + format_name(c.quant().format) + " but the tensors use " +
                                        format_name(spec.format) + " names");
  const FormatNames& fn = format_names(spec.format);

  // Quantized prefixes: those with a block-scale tensor.
  std::set<std::string> consumed;
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

  // Plain string code, not a regex: names come from the file and can be megabytes long (a
  // backtracking std::regex recursed per character and overflowed the stack).
  struct Group { std::map<std::string, std::string> shards; std::string fused; };
  std::map<std::string, Group> groups;  // module name -> parts
  std::map<std::string, std::map<std::int64_t, std::map<std::string, std::string>>> experts;
  std::vector<std::string> singles;

  for (const auto& p : prefixes) {
    auto [parent, leaf] = split_last(p);
    if (auto [owner, index] = split_last(parent);
        owner.ends_with(".experts") && !index.empty() && all_digits(index) && is_expert_leaf(leaf)) {
      std::string_view proj = leaf;
      std::string role = (proj == "gate_proj" || proj == "w1") ? "w1" : (proj == "up_proj" || proj == "w3") ? "w3" : "w2";
      if (index.size() > 7) bad_input(c.dir().string(), p, "expert index out of range");
      std::int64_t e = 0;
      for (char d : index) e = 10 * e + (d - '0');
      if (e > 1'000'000) bad_input(c.dir().string(), p, "expert index out of range");
      auto& slot = experts[std::string(owner)][e][role];
      if (!slot.empty()) bad_input(c.dir().string(), p, "expert " + std::to_string(e) + " " + role + " also stored as " + slot);
      slot = p;
    } else if ((leaf == "q_proj" || leaf == "k_proj" || leaf == "v_proj") && parent.ends_with(".self_attn")) {
      groups[std::string(parent) + ".qkv_proj"].shards[std::string(leaf.substr(0, 1))] = p;
    } else if (leaf == "qkv_proj" && parent.ends_with(".self_attn")) {
      groups[p].fused = p;
    } else if ((leaf == "gate_proj" || leaf == "up_proj") && parent.ends_with(".mlp")) {
      groups[std::string(parent) + ".gate_up_proj"].shards[leaf == "gate_proj" ? "0" : "1"] = p;
    } else if (leaf == "gate_up_proj" && parent.ends_with(".mlp")) {
      groups[p].fused = p;
    } else {
      singles.push_back(p);
    }
  }

  for (auto& [name, g] : groups) {
    bool qkv = name.ends_with(".qkv_proj");
    std::vector<std::string> ids = qkv ? std::vector<std::string>{"q", "k", "v"} : std::vector<std::string>{"0", "1"};
    LinearSpec s;
    s.name = name;
    s.shard_ids = ids;
    if (!g.fused.empty() && !g.shards.empty())
      bad_input(c.dir().string(), g.shards.begin()->second, "stored both fused (" + g.fused + ") and per shard");
    if (!g.fused.empty()) {
      Quantized q = check_prefix(c, fn, g.fused);
      s.fused_on_disk = true;
      s.prefixes = {g.fused};
      s.K = q.K;
      s.has_input_scale = q.input_scale;
      if (qkv) {
        s.shard_rows = qkv_rows(c, g.fused + "." + fn.weight, q.N);
      } else {
        if (q.N % 2) bad_input(c.file_of(g.fused + "." + fn.weight), g.fused + "." + fn.weight, "odd row count for gate+up");
        s.shard_rows = {q.N / 2, q.N / 2};
      }
    } else {
      for (std::size_t i = 0; i < ids.size(); ++i) {
        auto it = g.shards.find(ids[i]);
        std::string expect = name.substr(0, name.rfind('.')) + "." +
                             (qkv ? ids[i] + "_proj" : (ids[i] == "0" ? "gate_proj" : "up_proj"));
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
    for (const auto& p : s.prefixes) consumed.insert(p);
    spec.linears.push_back(std::move(s));
  }
  for (const auto& p : singles) {
    Quantized q = check_prefix(c, fn, p);
    LinearSpec s;
    s.name = p;
    s.shard_ids = {"0"};
    s.shard_rows = {q.N};
    s.K = q.K;
    s.prefixes = {p};
    s.has_input_scale = q.input_scale;
    consumed.insert(p);
    spec.linears.push_back(std::move(s));
  }
  for (auto& [name, by_e] : experts) {
    ExpertsSpec s;
    s.name = name;
    s.E = static_cast<std::int64_t>(by_e.size());
    for (std::int64_t e = 0; e < s.E; ++e) {
      auto it = by_e.find(e);
      if (it == by_e.end())
        bad_input(c.dir().string(), name + "." + std::to_string(e) + ".gate_proj." + fn.weight,
                  "missing expert " + std::to_string(e) + " (experts are numbered 0.." + std::to_string(s.E - 1) + ")");
      std::array<std::string, 3> ps;
      const char* roles[3] = {"w1", "w3", "w2"};
      const char* names[3] = {"gate_proj", "up_proj", "down_proj"};
      for (int r = 0; r < 3; ++r) {
        auto f = it->second.find(roles[r]);
        if (f == it->second.end())
          bad_input(c.dir().string(), name + "." + std::to_string(e) + "." + names[r] + "." + fn.weight,
                    "missing tensor (expert " + std::to_string(e) + " has no " + roles[r] + ")");
        ps[static_cast<std::size_t>(r)] = f->second;
      }
      Quantized w1 = check_prefix(c, fn, ps[0]), w3 = check_prefix(c, fn, ps[1]), w2 = check_prefix(c, fn, ps[2]);
      if (e == 0) { s.H = w1.K; s.I = w1.N; s.has_input_scale = w1.input_scale; }
      auto wn = [&](int r) { return ps[static_cast<std::size_t>(r)] + "." + fn.weight; };
      if (w1.K != s.H || w1.N != s.I)
        bad_input(c.file_of(wn(0)), wn(0), "shape differs from expert 0's gate_proj");
      if (w3.K != s.H || w3.N != s.I)
        bad_input(c.file_of(wn(1)), wn(1), "shape [" + std::to_string(w3.N) + ", " + std::to_string(w3.K / 2) +
                                                "] differs from gate_proj's [" + std::to_string(s.I) + ", " + std::to_string(s.H / 2) + "]");
      if (w2.N != s.H || w2.K != s.I)
        bad_input(c.file_of(wn(2)), wn(2), "expected [H, I/2] = [" + std::to_string(s.H) + ", " + std::to_string(s.I / 2) + "]");
      if (w1.input_scale != s.has_input_scale || w3.input_scale != s.has_input_scale || w2.input_scale != s.has_input_scale)
        bad_input(c.dir().string(), ps[0] + "." + fn.input_scale, "input scales present on some experts only");
      for (const auto& p : ps) consumed.insert(p);
      s.prefixes.push_back(ps);
    }
    spec.experts.push_back(std::move(s));
  }

  std::sort(spec.linears.begin(), spec.linears.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  std::set<std::string> quant_tensors;
  for (const auto& p : consumed)
    for (const auto* suffix : {&fn.weight, &fn.weight_scale, &fn.weight_scale_2, &fn.input_scale})
      quant_tensors.insert(p + "." + *suffix);
  for (const auto& n : c.tensor_names())
    if (!quant_tensors.count(n)) spec.passthrough.push_back(n);
  return spec;
}

std::vector<ModuleUnit> module_units(const Checkpoint& c, const ModelSpec& spec, std::uint64_t max_experts_bytes) {
  const FormatNames& fn = format_names(spec.format);
  std::vector<ModuleUnit> units;
  auto add_prefix = [&](ModuleUnit& u, const std::string& p) {
    for (const auto* suffix : {&fn.weight, &fn.weight_scale, &fn.weight_scale_2, &fn.input_scale})
      if (c.has(p + "." + *suffix)) {
        u.tensors.push_back(p + "." + *suffix);
        const TensorInfo& i = c.info(p + "." + *suffix);
        u.bytes += dtype_nbytes(i.dtype, shape_numel(i.shape));
      }
  };
  for (const auto& l : spec.linears) {
    ModuleUnit u{l.name, false, {}, 0, {}, 0, l.name};
    for (const auto& p : l.prefixes) add_prefix(u, p);
    units.push_back(std::move(u));
  }
  for (const auto& x : spec.experts) {
    ModuleUnit whole{x.name, true, {}, 0, {}, 0, x.name};
    for (const auto& ps : x.prefixes)
      for (const auto& p : ps) add_prefix(whole, p);
    if (max_experts_bytes == 0 || whole.bytes <= max_experts_bytes || x.E < 2) {
      units.push_back(std::move(whole));
      continue;
    }
    const std::uint64_t per_expert = whole.bytes / static_cast<std::uint64_t>(x.E);
    const std::int64_t n = std::max<std::int64_t>(1, static_cast<std::int64_t>(max_experts_bytes / std::max<std::uint64_t>(per_expert, 1)));
    for (std::int64_t e0 = 0; e0 < x.E; e0 += n) {
      const std::int64_t e1 = std::min(x.E, e0 + n);
      ModuleUnit u{x.name + "[experts " + std::to_string(e0) + ".." + std::to_string(e1 - 1) + "]", true, {}, 0, {}, e0, x.name};
      for (std::int64_t e = e0; e < e1; ++e)
        for (const auto& p : x.prefixes[static_cast<std::size_t>(e)]) {
          const std::size_t before = u.tensors.size();
          add_prefix(u, p);
          // "<module>.<e>.<rest>" -> "<module>.<e - e0>.<rest>"
          const std::string old_head = x.name + "." + std::to_string(e), new_head = x.name + "." + std::to_string(e - e0);
          for (std::size_t i = before; i < u.tensors.size(); ++i) u.renamed.push_back(new_head + u.tensors[i].substr(old_head.size()));
        }
      units.push_back(std::move(u));
    }
  }
  return units;
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

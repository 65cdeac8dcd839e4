#include "tools/diff/experts_diff.h"

#include <algorithm>

#include "core/error.h"
#include "reference/experts.h"
#include "reference/loading.h"
#include "reference/swizzle.h"
#include "tools/diff/decode.h"
#include "tools/diff/experts_layout.h"
#include "tools/diff/scalar_rules.h"

namespace nvfp4::diff {

namespace {

void require(bool ok, const EngineDump& d, const std::string& name, const std::string& what) {
  if (!ok) bad_input(d.file_of(name), name, what);
}

// What the semantic checks of one module share.
struct Experts {
  const ExpertsSpec& s;
  const ExpertsConvention& row;
  const EngineDump& d;
  std::string pre;  // the module's name, a dot and the row's prefix
  Module src;       // the checkpoint's module, as the reference's loaders read it
  std::int64_t Hp = 0, Ip = 0;
};

// Each w13 half's stored rows: I, or (padded rows) read off the dump's shape.
std::int64_t padded_intermediate(const Experts& m) {
  if (m.row.intermediate_align <= 1) return m.s.I;
  const std::string name = m.pre + m.row.w13;
  const Tensor w13 = m.d.tensor(name);
  const std::int64_t Ip = w13.dim() == 3 ? w13.size(1) / 2 : 0, align = m.row.intermediate_align;
  require(Ip >= m.s.I && Ip % align == 0, m.d, name,
          "shape " + shape_str(w13.shape()) + " is not trtllm's [E, 2 Ip, H/2] with Ip >= I = " + std::to_string(m.s.I) + " a multiple of " +
              std::to_string(align));
  return Ip;
}

// The rows of one projection, where each comes from, and the scales its blocks decode under: a
// half's own, and the one the engine's alphas apply to it (the row's W13Scales; w2 its own).
Projection projection(const Experts& m, bool w13, CkptFormat f) {
  const ExpertsSpec& s = m.s;
  const Tensor& s2 = m.src.tensor("w13_weight_scale_2");
  const Tensor& w2s2 = m.src.tensor("w2_weight_scale_2");
  Projection p;
  p.rows.experts = s.E;
  p.rows.per_expert = true;
  p.rows.N = w13 ? 2 * s.I : s.H;
  p.rows.K = w13 ? s.H : s.I;
  p.rows.stored = stored_rows(m.row, s, w13, m.Hp, m.Ip);
  p.rows.source = [&s, w13, f](std::int64_t x, std::int64_t r, bool scales) {
    const FormatNames& fn = format_names(f);
    const ExpertRole role = !w13 ? ExpertRole::Down : r < s.I ? ExpertRole::Gate : ExpertRole::Up;
    return RowSource{s.prefixes[static_cast<std::size_t>(x)][role] + "." + (scales ? fn.weight_scale : fn.weight), w13 && r >= s.I ? r - s.I : r,
                     static_cast<std::size_t>(w13 ? 2 * x + (role == ExpertRole::Up) : x)};
  };
  const W13Scales ws = m.row.w13_scales;
  for (std::int64_t x = 0; x < s.E; ++x)
    for (int h = 0; h < (w13 ? 2 : 1); ++h) {
      p.own.push_back(w13 ? ref::get_f32(s2, 2 * x + h) : ref::get_f32(w2s2, x));
      const int from = ws == W13Scales::GateForBoth ? 0 : ws == W13Scales::UpForBoth ? 1 : ws == W13Scales::Swapped ? 1 - h : h;
      p.applied.push_back(w13 ? ref::get_f32(s2, 2 * x + from) : p.own.back());
    }
  p.ckpt_weight = m.src.tensor(w13 ? "w13_weight" : "w2_weight");
  p.ckpt_scales = m.src.tensor(w13 ? "w13_weight_scale" : "w2_weight_scale");
  return p;
}

// Semantic: one projection's codes and block scales; the shards kept raw under another's scale.
void decode_projection(const Experts& m, bool w13, CkptFormat f, ModuleDiff& out, MismatchLog& log) {
  const std::string proj = w13 ? "w13" : "w2";
  const std::string &wn = w13 ? m.row.w13 : m.row.w2, &sn = w13 ? m.row.swz13 : m.row.swz2;
  const std::string engine = engine_name(m.row.engine);
  Projection p = projection(m, w13, f);
  const std::int64_t E = m.s.E, N = p.rows.N, K = p.rows.K;
  const std::int64_t need_rows = *std::max_element(p.rows.stored.begin(), p.rows.stored.end()) + 1;
  require(m.d.has(m.pre + wn), m.d, m.pre + wn, "absent: " + engine + " holds the packed " + proj + " weight here");
  Tensor w = m.d.tensor(m.pre + wn);
  require(w.dtype() == DType::U8 && w.dim() == 3 && w.size(0) == E && w.size(1) >= need_rows && w.size(2) * 2 >= K, m.d, m.pre + wn,
          "shape " + shape_str(w.shape()) + " cannot hold " + std::to_string(E) + " experts' " + proj + " of " + std::to_string(N) + " x " + std::to_string(K));
  require(m.d.has(m.pre + sn), m.d, m.pre + sn, "absent: " + engine + " holds the swizzled " + proj + " block scales here");
  Tensor swz = m.d.tensor(m.pre + sn);
  out.params.push_back(wn);
  out.params.push_back(sn);
  const std::int64_t R = w.size(1), Kbs = w.size(2) * 2 / 16, Mp = ref::round_up(R, 128), Kbp = ref::round_up(Kbs, 4);
  const bool swz_ok = swz.dim() == 3 && swz.size(0) == E && swz.size(1) == Mp && swz.size(2) == Kbp;
  if (!swz_ok)
    log.add(sn, Verdict::Semantic, "", "the 128x4 swizzle of " + std::to_string(R) + " x " + std::to_string(Kbs) + " block scales per expert",
            "shape " + shape_str({E, Mp, Kbp}), "shape " + shape_str(swz.shape()));
  p.weight = wn;
  p.scales = sn;
  p.eng_weight = w;
  p.eng_scales = swz_ok ? ref::unswizzle_128x4(swz.view(DType::U8, swz.shape()), R, Kbs) : Tensor();
  p.R = R;
  p.Kbs = Kbs;
  p.Kbp = Kbp;
  const std::vector<std::int64_t> raw = decode_rows(p, true, swz_ok, log);
  for (std::size_t g = 0; g < raw.size(); ++g) {
    if (!raw[g]) continue;
    const std::size_t x = w13 ? g / 2 : g;
    const int h = w13 ? static_cast<int>(g % 2) : 0;
    out.unreconciled.push_back({m.s.name, "expert " + std::to_string(x) + " " + (w13 ? (h ? "w3 (up)" : "w1 (gate)") : "w2"),
                                m.s.prefixes[x][static_cast<std::size_t>(w13 ? h : 2)], p.own[g], p.applied[g],
                                static_cast<double>(p.applied[g]) / p.own[g], raw[g]});
  }
}

// Layout: every weight and block-scale tensor the row names against the reference's bytes.
void check_layout(const Experts& m, ModuleDiff& out, MismatchLog& log) {
  const Module expect = expected_layout(m.row, m.src, m.s, m.Hp, m.Ip);
  const std::string what = engine_name(m.row.engine) + "'s " + moe_backend_name(m.row.backend) + " layout";
  for (const auto& [n, rn] : m.row.layout) {
    if (!m.d.has(m.pre + n)) {
      log.add(n, Verdict::Layout, "", what, "present", "absent");
      continue;
    }
    if (std::find(out.params.begin(), out.params.end(), n) == out.params.end()) out.params.push_back(n);
    Tensor got = m.d.tensor(m.pre + n);
    const Tensor& exp = expect.tensor(rn);
    if (got.shape() != exp.shape()) {
      log.add(n, Verdict::Layout, "", what, "shape " + shape_str(exp.shape()), "shape " + shape_str(got.shape()));
      continue;
    }
    const std::int64_t rows = exp.size(1), cols = exp.size(2);
    compare_bytes(n, exp, got, n.find("scale") != std::string::npos, [&](std::int64_t i) {
      const std::int64_t x = i / (rows * cols), r = (i / cols) % rows, col = i % cols;
      return std::pair{at({x, r, col}), std::string("expert ") + std::to_string(x) + (exp.data()[i] == 0 ? " (zero here: padding or a zero byte)" : "")};
    }, log);
  }
}

}  // namespace

ModuleDiff diff_experts(const ExpertsSpec& s, const Checkpoint& c, const EngineDump& d, const ExpertsConvention& row) {
  ModuleDiff out;
  out.module = s.name;
  out.kind = "experts";
  Experts m{s, row, d, s.name + "." + row.prefix, {}, 0, 0};
  if (!d.has(m.pre + row.w13)) {
    out.absent = true;
    return out;
  }
  MismatchLog log(out);
  const CkptFormat f = c.quant().format;
  m.src = ref::experts_create_weights(s);
  ref::experts_load(m.src, s, c, f);
  m.Hp = ref::round_up(s.H, row.hidden_align);
  m.Ip = padded_intermediate(m);
  decode_projection(m, true, f, out, log);
  decode_projection(m, false, f, out, log);
  check_layout(m, out, log);
  check_scalars(d, m.pre, experts_scalars(row, s, m.src, c), out, log);
  for (const auto& n : row.placeholders)
    if (d.has(m.pre + n)) out.placeholders.push_back(n);
  // Names in the report are the dump's, under the module.
  for (auto& p : out.params) p = row.prefix + p;
  for (auto& p : out.placeholders) p = row.prefix + p;
  for (auto& x : out.mismatches) x.param = row.prefix + x.param;
  return out;
}

}  // namespace nvfp4::diff

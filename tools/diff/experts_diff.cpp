#include "tools/diff/experts_diff.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "reference/experts.h"
#include "reference/loading.h"
#include "reference/shuffle.h"
#include "reference/swizzle.h"
#include "tools/diff/block_match.h"
#include "tools/diff/locate.h"
#include "tools/diff/scalar_check.h"

namespace nvfp4::diff {

std::string moe_backend_name(MoeBackend b) {
  return b == MoeBackend::Trtllm ? "flashinfer_trtllm" : b == MoeBackend::FlashinferCutlass ? "flashinfer_cutlass" : "cutlass";
}

namespace {

// Stored row of each logical row of one projection ([gate; up] for w13), the same for every expert.
// Hp: w2's stored rows (H, or H padded by vLLM's trtllm), the size FlashInfer's shuffle runs over;
// Ip: each w13 half's stored rows under trtllm (I padded: to 64 by ModelOpt's methods, to 128 by
// sglang's FusedMoE for compressed-tensors).
std::vector<std::int64_t> stored_rows(const ExpertsSpec& s, MoeBackend b, bool w13, std::int64_t Hp, std::int64_t Ip) {
  const std::int64_t I = s.I, N = w13 ? 2 * I : s.H;
  std::vector<std::int64_t> out(static_cast<std::size_t>(N));
  if (b != MoeBackend::Trtllm) {
    const bool up_first = b == MoeBackend::FlashinferCutlass;
    for (std::int64_t r = 0; r < N; ++r) out[static_cast<std::size_t>(r)] = !w13 || !up_first ? r : r < I ? I + r : r - I;
    return out;
  }
  // FlashInfer's permutations as the reference builds them (reference/shuffle.h), applied to the
  // padded [w3; 0; w1; 0] order: logical gate row t sits at Ip + t, up row t at t.
  ref::Permutation p = w13 ? ref::compose(ref::gated_act_reorder(2 * Ip), ref::shuffle_a_rows(2 * Ip, 128)) : ref::shuffle_a_rows(Hp, 128);
  std::vector<std::int64_t> inv(p.size());
  for (std::size_t n = 0; n < p.size(); ++n) inv[static_cast<std::size_t>(p[n])] = static_cast<std::int64_t>(n);
  for (std::int64_t r = 0; r < N; ++r) out[static_cast<std::size_t>(r)] = inv[static_cast<std::size_t>(!w13 ? r : r < I ? Ip + r : r - I)];
  return out;
}

// The checkpoint tensor and row that logical row r of expert e's w13 ([gate; up]) or w2 comes from.
struct Place { std::string tensor; std::int64_t row; ExpertRole role; };
Place place(const ExpertsSpec& s, CkptFormat f, std::int64_t e, bool w13, std::int64_t r, bool scales) {
  const FormatNames& fn = format_names(f);
  const ExpertRole role = !w13 ? ExpertRole::Down : r < s.I ? ExpertRole::Gate : ExpertRole::Up;
  std::int64_t row = w13 && r >= s.I ? r - s.I : r;
  return {s.prefixes[static_cast<std::size_t>(e)][role] + "." + (scales ? fn.weight_scale : fn.weight), row, role};
}

void require(bool ok, const EngineDump& d, const std::string& name, const std::string& what) {
  if (!ok) bad_input(d.file_of(name), name, what);
}

// [E, 2I, ..] -> the same with the two halves of each expert exchanged.
Tensor flip_halves(const Tensor& t) {
  Tensor out = t.clone();
  const std::int64_t E = t.size(0), half = t.size(1) / 2, row = t.size(2);
  for (std::int64_t e = 0; e < E; ++e) {
    std::memcpy(out.data() + (e * 2 * half) * row, t.data() + (e * 2 * half + half) * row, static_cast<std::size_t>(half * row));
    std::memcpy(out.data() + (e * 2 * half + half) * row, t.data() + (e * 2 * half) * row, static_cast<std::size_t>(half * row));
  }
  return out;
}

// [E, R, C] -> [E, R2, C2] with zeros after the original rows and columns.
Tensor pad3(const Tensor& t, std::int64_t R2, std::int64_t C2) {
  const std::int64_t E = t.size(0), R = t.size(1), C = t.size(2);
  Tensor out = Tensor::zeros(t.dtype(), {E, R2, C2});
  for (std::int64_t e = 0; e < E; ++e)
    for (std::int64_t r = 0; r < R; ++r) std::memcpy(out.data() + (e * R2 + r) * C2, t.data() + (e * R + r) * C, static_cast<std::size_t>(C));
  return out;
}

// [E, 2I, C] -> [E, 2Ip, C]: each half's rows first, then zero rows up to Ip.
Tensor pad_halves(const Tensor& t, std::int64_t Ip) {
  const std::int64_t E = t.size(0), I = t.size(1) / 2, C = t.size(2);
  Tensor out = Tensor::zeros(t.dtype(), {E, 2 * Ip, C});
  for (std::int64_t e = 0; e < E; ++e)
    for (int h = 0; h < 2; ++h)
      std::memcpy(out.data() + (e * 2 * Ip + h * Ip) * C, t.data() + (e * 2 * I + h * I) * C, static_cast<std::size_t>(I * C));
  return out;
}

// What differs between the engines, formats and backends (experts_diff.h).
struct Convention {
  std::string prefix;           // parameters under the module: "" (sglang) or "routed_experts." (vLLM)
  std::string swz13, swz2;      // the names holding the swizzled block scales
  std::int64_t hidden_align;    // vLLM's trtllm pads H to 256 (zero w13 columns, zero w2 rows)
  bool up_alpha;                // the up half has its own alpha (sglang trtllm); else the gate's serves both
  bool derived_names;           // sglang ModelOpt: *_blockscale_swizzled beside *_weight_scale
};
Convention convention(Engine e, MoeBackend b, bool ct) {
  if (e == Engine::Sglang && !ct) return {"", "w13_blockscale_swizzled", "w2_blockscale_swizzled", 1, b == MoeBackend::Trtllm, true};
  if (e == Engine::Sglang) return {"", "w13_weight_scale", "w2_weight_scale", 1, false, false};
  return {"routed_experts.", "w13_weight_scale", "w2_weight_scale", b == MoeBackend::Trtllm ? 256 : 1, false, false};
}

// Compressed-tensors experts (encode scales on disk), both engines alike in the values: the gate's
// weight scale for both halves (f32(1 / gate's encode scale)); activations quantized with the
// *smallest* input encode scale (= the largest decode scale), per expert or over every expert;
// g1/g2 alphas = f32(f32(1 / that) x the weight's decode scale); trtllm: g1_scale_c =
// f32(w2's input encode scale x g1). Where they differ: sglang 0.5.23 (CompressedTensorsW4A4Nvfp4MoE)
// shares the input scale over experts on trtllm only and keeps w13/w2_weight_scale_2 (decode),
// w13/w2_input_scale_quant and g1/g2_alphas; vLLM 0.33.0 (CompressedTensorsW4A4Nvfp4MoEMethod)
// shares it on every FlashInfer backend and fuses the alphas into w13/w2_weight_scale_2.
std::vector<ScalarExpect> ct_scalars(const ExpertsSpec& s, const Checkpoint& c, Engine eng, MoeBackend b) {
  const FormatNames& fn = format_names(CkptFormat::CompressedTensors);
  auto raw = [&](std::int64_t e, ExpertRole role, const std::string& suffix) {
    return c.tensor(s.prefixes[static_cast<std::size_t>(e)][role] + "." + suffix).get_f32(0);
  };
  using enum ExpertRole;
  const bool shared = eng == Engine::Sglang ? b == MoeBackend::Trtllm : b != MoeBackend::Cutlass;
  std::vector<float> w13s2, w2s2, a13, a2, g1, g2, cc, enc13, enc2, w2_in;
  std::vector<std::vector<float>> in13_any;
  std::vector<std::string> label;
  float m13 = 0, m2 = 0;
  for (std::int64_t e = 0; e < s.E; ++e) {
    float gi = raw(e, Gate, fn.input_scale), ui = raw(e, Up, fn.input_scale), di = raw(e, Down, fn.input_scale);
    m13 = e == 0 ? std::min(gi, ui) : std::min(m13, std::min(gi, ui));
    m2 = e == 0 ? di : std::min(m2, di);
  }
  for (std::int64_t e = 0; e < s.E; ++e) {
    label.push_back("expert " + std::to_string(e));
    float gw = raw(e, Gate, fn.weight_scale_2), uw = raw(e, Up, fn.weight_scale_2), dw = raw(e, Down, fn.weight_scale_2);
    float gi = raw(e, Gate, fn.input_scale), ui = raw(e, Up, fn.input_scale), di = raw(e, Down, fn.input_scale);
    enc13.push_back(gw);
    enc13.push_back(uw);
    enc2.push_back(dw);
    in13_any.push_back({gi});
    in13_any.push_back({ui});
    w2_in.push_back(di);
    w13s2.push_back(1.0f / gw);
    w2s2.push_back(1.0f / dw);
    a13.push_back(shared ? m13 : std::min(gi, ui));
    a2.push_back(shared ? m2 : di);
    g1.push_back((1.0f / a13.back()) * w13s2.back());
    g2.push_back((1.0f / a2.back()) * w2s2.back());
    cc.push_back(a2.back() * g1.back());
  }
  const std::string over = shared ? " over every expert" : " of the expert";
  const std::string g1_what = "f32(1 / the smallest gate and up input_global_scale" + over + ") x f32(1 / the gate's weight_global_scale) (f32)";
  const std::string g2_what = "f32(1 / the smallest w2 input_global_scale" + over + ") x f32(1 / w2's weight_global_scale) (f32)";
  std::vector<ScalarExpect> sc;
  if (eng == Engine::Sglang) {
    sc = {
        {"w13_weight_scale_2", w13s2, Verdict::Semantic, "1 / the gate's weight_global_scale (f32)", label, {}},
        {"w2_weight_scale_2", w2s2, Verdict::Semantic, "1 / w2's weight_global_scale (f32)", label, {}},
        {"w13_input_scale_quant", a13, Verdict::Semantic, "the smallest gate and up input_global_scale" + over, label, {}},
        {"w2_input_scale_quant", a2, Verdict::Semantic, "the smallest w2 input_global_scale" + over, label, {}},
        {"g1_alphas", g1, Verdict::Semantic, g1_what, label, {}},
        {"g2_alphas", g2, Verdict::Semantic, g2_what, label, {}},
    };
  } else {
    sc = {
        {"w13_weight_scale_2", g1, Verdict::Semantic, "g1 alpha: " + g1_what, label, {}},
        {"w2_weight_scale_2", g2, Verdict::Semantic, "g2 alpha: " + g2_what, label, {}},
    };
  }
  std::vector<ScalarExpect> kept = {
      {"w13_weight_global_scale", enc13, Verdict::Layout, "each expert's gate and up weight_global_scale", {}, {}},
      {"w2_weight_global_scale", enc2, Verdict::Layout, "each expert's w2 weight_global_scale", label, {}},
      {"w13_input_global_scale", {}, Verdict::Layout, "each expert's gate and up input_global_scale", {}, in13_any},
      {"w2_input_global_scale", w2_in, Verdict::Layout, "each expert's w2 input_global_scale", label, {}},
  };
  sc.insert(sc.end(), kept.begin(), kept.end());
  if (b == MoeBackend::Trtllm) sc.push_back({"g1_scale_c", cc, Verdict::Semantic, "the smallest w2 input_global_scale" + over + " x g1 alpha (f32)", label, {}});
  return sc;
}

// vLLM 0.33.0 (ModelOptNvFp4FusedMoE.process_weights_after_loading, prepare_nvfp4_moe_layer_for_
// fi_or_cutlass, the experts' in-place fusion): one w13 scale per expert, the gate's; activation
// scales a13, a2 per expert (cutlass: max of the expert's gate and up) or shared by all experts
// (FlashInfer backends: the max over every expert), held as decode scales under w13/w2_input_scale;
// the alphas fused in place into w13/w2_weight_scale_2; trtllm adds g1_scale_c = g1 x f32(1 / a2).
std::vector<ScalarExpect> vllm_scalars(const ExpertsSpec& s, const Module& src, MoeBackend b) {
  const std::int64_t E = s.E;
  const Tensor& s2 = src.tensor("w13_weight_scale_2");
  const Tensor& w2s2 = src.tensor("w2_weight_scale_2");
  const bool shared = b != MoeBackend::Cutlass;
  std::vector<float> a13, a2, g1, g2, c;
  std::vector<std::string> label;
  for (std::int64_t x = 0; x < E; ++x) {
    label.push_back("expert " + std::to_string(x));
    float i13 = 1, i2 = 1;
    if (s.has_input_scale) {
      const Tensor &in13 = src.tensor("w13_input_scale"), &in2 = src.tensor("w2_input_scale");
      i13 = shared ? ref::max_of(in13) : std::max(ref::get_f32(in13, 2 * x), ref::get_f32(in13, 2 * x + 1));
      i2 = shared ? ref::max_of(in2) : ref::get_f32(in2, x);
    }
    a13.push_back(i13);
    a2.push_back(i2);
    g1.push_back(ref::get_f32(s2, 2 * x) * i13);
    g2.push_back(ref::get_f32(w2s2, x) * i2);
    c.push_back(g1.back() * (1.0f / i2));
  }
  const std::string from = shared ? "max over every expert's" : "the expert's";
  std::vector<ScalarExpect> sc = {
      {"w13_weight_scale_2", g1, Verdict::Semantic, "g1 alpha: the gate's weight_scale_2 x a13 (f32)", label, {}},
      {"w2_weight_scale_2", g2, Verdict::Semantic, "g2 alpha: w2's weight_scale_2 x a2 (f32)", label, {}},
  };
  if (s.has_input_scale) {
    sc.push_back({"w13_input_scale", a13, Verdict::Semantic, "a13: " + from + (shared ? " gate and up input scales" : " gate and up input scale, the larger"), label, {}});
    sc.push_back({"w2_input_scale", a2, Verdict::Semantic, "a2: " + from + " w2 input scale" + (shared ? "s" : ""), label, {}});
  }
  if (b == MoeBackend::Trtllm) sc.push_back({"g1_scale_c", c, Verdict::Semantic, "g1 alpha x f32(1 / a2) (f32)", label, {}});
  return sc;
}

// sglang 0.5.23 ModelOptNvFp4FusedMoEMethod: g1_alphas (gate) and g1_alphas_up = f32(max w13 input
// scale x the half's weight_scale_2), g2_alphas likewise, *_input_scale_quant = f32(1 / max), the
// loaded per-expert scalars kept; trtllm: g1_scale_c = f32(w2 quant x g1_alphas_up).
std::vector<ScalarExpect> sglang_scalars(const ExpertsSpec& s, const Module& src, MoeBackend b) {
  const std::int64_t E = s.E;
  const Tensor& s2 = src.tensor("w13_weight_scale_2");
  const Tensor& w2s2 = src.tensor("w2_weight_scale_2");
  std::vector<float> w2_s2, g1, g1up, g2, w2_in;
  std::vector<std::string> label;
  float in13 = 1, in2 = 1;
  if (s.has_input_scale) {
    in13 = ref::max_of(src.tensor("w13_input_scale"));
    in2 = ref::max_of(src.tensor("w2_input_scale"));
  }
  const float q13 = 1.0f / in13, q2 = 1.0f / in2;
  std::vector<std::vector<float>> w13_in_any;
  std::vector<float> s2_all;
  for (std::int64_t x = 0; x < E; ++x) {
    label.push_back("expert " + std::to_string(x));
    float g = ref::get_f32(s2, 2 * x), u = ref::get_f32(s2, 2 * x + 1);
    s2_all.push_back(g);
    s2_all.push_back(u);
    g1.push_back(in13 * g);
    g1up.push_back(in13 * u);
    g2.push_back(in2 * ref::get_f32(w2s2, x));
    w2_s2.push_back(ref::get_f32(w2s2, x));
    if (s.has_input_scale) {
      float gi = ref::get_f32(src.tensor("w13_input_scale"), 2 * x), ui = ref::get_f32(src.tensor("w13_input_scale"), 2 * x + 1);
      w13_in_any.push_back({gi, ui});
      w13_in_any.push_back({gi, ui});
      w2_in.push_back(ref::get_f32(src.tensor("w2_input_scale"), x));
    }
  }
  std::vector<float> scale_c;
  for (std::int64_t x = 0; x < E; ++x) scale_c.push_back(q2 * g1up[static_cast<std::size_t>(x)]);
  const bool trt = b == MoeBackend::Trtllm;
  std::vector<ScalarExpect> sc = {
      {"g1_alphas", g1, Verdict::Semantic, "max w13 input scale x the gate's weight_scale_2 (f32)", label, {}},
      {"g1_alphas_up", g1up, trt ? Verdict::Semantic : Verdict::Layout, "max w13 input scale x the up's weight_scale_2 (f32)", label, {}},
      {"g2_alphas", g2, Verdict::Semantic, "max w2 input scale x w2's weight_scale_2 (f32)", label, {}},
      {"w13_input_scale_quant", {q13}, Verdict::Semantic, "1 / max w13 input scale (f32)", {}, {}},
      {"w2_input_scale_quant", {q2}, Verdict::Semantic, "1 / max w2 input scale (f32)", {}, {}},
      {"w13_weight_scale_2", s2_all, Verdict::Layout, "each expert's gate and up weight_scale_2", {}, {}},
      {"w2_weight_scale_2", w2_s2, Verdict::Layout, "each expert's w2 weight_scale_2", label, {}},
  };
  if (s.has_input_scale) {
    sc.push_back({"w13_input_scale", {}, Verdict::Layout, "one of the expert's gate and up input scales", {}, w13_in_any});
    sc.push_back({"w2_input_scale", w2_in, Verdict::Layout, "each expert's w2 input scale", label, {}});
  }
  if (trt) sc.push_back({"g1_scale_c", scale_c, Verdict::Semantic, "w2_input_scale_quant x g1_alphas_up (f32)", label, {}});
  return sc;
}

}  // namespace

ModuleDiff diff_experts(const ExpertsSpec& s, const Checkpoint& c, const EngineDump& d, Engine e, MoeBackend b) {
  ModuleDiff out;
  out.module = s.name;
  out.kind = "experts";
  const bool ct = c.quant().format == CkptFormat::CompressedTensors;
  const Convention cv = convention(e, b, ct);
  const std::string pre = s.name + "." + cv.prefix;
  if (!d.has(pre + "w13_weight")) {
    out.absent = true;
    return out;
  }
  MismatchLog log(out);
  const CkptFormat f = c.quant().format;
  Module src = ref::experts_create_weights(s);
  ref::experts_load(src, s, c, f);
  const std::int64_t E = s.E, H = s.H, I = s.I, Hp = ref::round_up(H, cv.hidden_align);
  // trtllm's padded intermediate size, as the dump holds it (each engine pads I its own way).
  std::int64_t Ip = I;
  if (b == MoeBackend::Trtllm) {
    const Tensor w13 = d.tensor(pre + "w13_weight");
    Ip = w13.dim() == 3 ? w13.size(1) / 2 : 0;
    require(Ip >= I && Ip % 64 == 0, d, pre + "w13_weight",
            "shape " + shape_str(w13.shape()) + " is not trtllm's [E, 2 Ip, H/2] with Ip >= I = " + std::to_string(I) + " a multiple of 64");
  }
  const Tensor& s2 = src.tensor("w13_weight_scale_2");
  const Tensor& w2s2 = src.tensor("w2_weight_scale_2");
  // A half's own decode scale (h: 0 gate, 1 up; w2 has one), and the one the engine applies to it:
  // the gate's for both halves of w13, except where the up half has its own alpha (sglang's trtllm).
  auto own_scale = [&](bool w13, std::int64_t x, int h) { return w13 ? ref::get_f32(s2, 2 * x + h) : ref::get_f32(w2s2, x); };
  auto applied_scale = [&](bool w13, std::int64_t x, int h) { return w13 && !cv.up_alpha ? ref::get_f32(s2, 2 * x) : own_scale(w13, x, h); };

  // The reference's post-processing under the engine's conventions: no reconcile (neither engine
  // reconciles gate and up; the reference reconciles only unequal scales, so it is given equal
  // ones), flashinfer_cutlass's [w3; w1] order fed to the reference's cutlass layout, and vLLM's
  // trtllm hidden padding applied to the sources before FlashInfer's layout.
  Module layout_src;
  for (const auto& [n, p] : src.entries()) layout_src.add(n, p->data.clone());
  for (std::int64_t x = 0; x < E; ++x) ref::set_f32(layout_src.tensor("w13_weight_scale_2"), 2 * x + 1, ref::get_f32(s2, 2 * x));
  if (b == MoeBackend::FlashinferCutlass) {
    layout_src.tensor("w13_weight") = flip_halves(src.tensor("w13_weight"));
    layout_src.tensor("w13_weight_scale") = flip_halves(src.tensor("w13_weight_scale"));
  }
  ExpertsSpec sp = s;
  if (Ip != I) {
    sp.I = Ip;
    layout_src.tensor("w13_weight") = pad_halves(layout_src.tensor("w13_weight"), Ip);
    layout_src.tensor("w13_weight_scale") = pad_halves(layout_src.tensor("w13_weight_scale"), Ip);
    layout_src.tensor("w2_weight") = pad3(layout_src.tensor("w2_weight"), H, Ip / 2);
    layout_src.tensor("w2_weight_scale") = pad3(layout_src.tensor("w2_weight_scale"), H, Ip / 16);
  }
  if (Hp != H) {
    sp.H = Hp;
    layout_src.tensor("w13_weight") = pad3(layout_src.tensor("w13_weight"), 2 * sp.I, Hp / 2);
    layout_src.tensor("w13_weight_scale") = pad3(layout_src.tensor("w13_weight_scale"), 2 * sp.I, Hp / 16);
    layout_src.tensor("w2_weight") = pad3(layout_src.tensor("w2_weight"), Hp, sp.I / 2);
    layout_src.tensor("w2_weight_scale") = pad3(layout_src.tensor("w2_weight_scale"), Hp, sp.I / 16);
  }
  std::vector<Reconciliation> none;
  Module expect = ref::experts_process(layout_src, sp, b == MoeBackend::Trtllm ? Backend::Trtllm : Backend::Cutlass, none);

  for (bool w13 : {true, false}) {
    const std::string proj = w13 ? "w13" : "w2";
    const std::string wn = proj + "_weight", sn = w13 ? cv.swz13 : cv.swz2;
    const std::int64_t N = w13 ? 2 * I : H, K = w13 ? H : I, Kb = K / 16;
    const std::vector<std::int64_t> rows = stored_rows(s, b, w13, Hp, Ip);
    const std::int64_t need_rows = *std::max_element(rows.begin(), rows.end()) + 1;
    require(d.has(pre + wn), d, pre + wn, "absent: " + engine_name(e) + " holds the packed " + proj + " weight here");
    Tensor w = d.tensor(pre + wn);
    require(w.dtype() == DType::U8 && w.dim() == 3 && w.size(0) == E && w.size(1) >= need_rows && w.size(2) * 2 >= K, d, pre + wn,
            "shape " + shape_str(w.shape()) + " cannot hold " + std::to_string(E) + " experts' " + proj + " of " + std::to_string(N) + " x " + std::to_string(K));
    require(d.has(pre + sn), d, pre + sn, "absent: " + engine_name(e) + " holds the swizzled " + proj + " block scales here");
    Tensor swz = d.tensor(pre + sn);
    out.params.push_back(wn);
    out.params.push_back(sn);
    const std::int64_t R = w.size(1), Kbs = w.size(2) * 2 / 16, Mp = ref::round_up(R, 128), Kbp = ref::round_up(Kbs, 4);
    const bool swz_ok = swz.dim() == 3 && swz.size(0) == E && swz.size(1) == Mp && swz.size(2) == Kbp;
    if (!swz_ok)
      log.add(sn, Verdict::Semantic, "", "the 128x4 swizzle of " + std::to_string(R) + " x " + std::to_string(Kbs) + " block scales per expert",
              "shape " + shape_str({E, Mp, Kbp}), "shape " + shape_str(swz.shape()));
    Tensor eng = swz_ok ? ref::unswizzle_128x4(swz.view(DType::U8, swz.shape()), R, Kbs) : Tensor();
    const Tensor& cw = src.tensor(wn);
    const Tensor& cs = src.tensor(proj + "_weight_scale");
    std::vector<std::int64_t> raw(static_cast<std::size_t>(E * 2), 0);  // per expert and w13 half
    for (std::int64_t x = 0; x < E; ++x)
      for (std::int64_t r = 0; r < N; ++r) {
        const std::int64_t sr = rows[static_cast<std::size_t>(r)];
        const std::uint8_t* crow = cw.data() + (x * N + r) * (K / 2);
        const std::uint8_t* erow = w.data() + (x * R + sr) * w.size(2);
        if (std::memcmp(crow, erow, static_cast<std::size_t>(K / 2)) != 0)
          for (std::int64_t k = 0; k < K; ++k) {
            std::uint8_t a = (crow[k / 2] >> (4 * (k % 2))) & 0xF, g = (erow[k / 2] >> (4 * (k % 2))) & 0xF;
            if (a == g || log.counted(wn, Verdict::Semantic)) continue;
            Place p = place(s, f, x, w13, r, false);
            log.add(wn, Verdict::Semantic, at({x, sr, k / 2}), p.tensor + " row " + std::to_string(p.row) + " k " + std::to_string(k), code_str(a), code_str(g));
          }
        if (!swz_ok) continue;
        const int h = w13 && r >= I ? 1 : 0;
        const float own = own_scale(w13, x, h), applied = applied_scale(w13, x, h);
        for (std::int64_t kb = 0; kb < Kb; ++kb) {
          std::uint8_t cb = cs.data()[(x * N + r) * Kb + kb], eb = eng.data()[(x * R + sr) * Kbs + kb];
          BlockMatch m = match_block(cb, eb, own, applied);
          if (m == BlockMatch::Same || m == BlockMatch::Reconciled) continue;
          if (m == BlockMatch::Raw) {
            ++raw[static_cast<std::size_t>(2 * x + h)];
            continue;
          }
          if (log.counted(sn, Verdict::Semantic)) continue;
          Place p = place(s, f, x, w13, r, true);
          const std::int64_t o = swizzled_offset(sr, kb, Kbp);
          log.add(sn, Verdict::Semantic, at({x, o / Kbp, o % Kbp}), p.tensor + " row " + std::to_string(p.row) + " k-block " + std::to_string(kb),
                  scale_str(cb) + " x " + f32_text(own), scale_str(eb) + " x " + f32_text(applied));
        }
      }
    for (std::int64_t x = 0; x < E; ++x)
      for (int h = 0; h < 2; ++h)
        if (std::int64_t n = raw[static_cast<std::size_t>(2 * x + h)]) {
          const float own = own_scale(w13, x, h), applied = applied_scale(w13, x, h);
          const ExpertRole role = !w13 ? ExpertRole::Down : h ? ExpertRole::Up : ExpertRole::Gate;
          out.unreconciled.push_back({s.name, "expert " + std::to_string(x) + " " + std::string(role_names(role).shard_id) + (!w13 ? "" : h ? " (up)" : " (gate)"),
                                      s.prefixes[static_cast<std::size_t>(x)][role], own, applied, static_cast<double>(applied) / own, n});
        }
  }

  // Layout: every weight and block-scale tensor against the reference's bytes (dump name, then
  // the reference's name for the same tensor: vLLM keeps the swizzle under *_weight_scale).
  std::vector<std::pair<std::string, std::string>> layout_names = {{"w13_weight", "w13_weight"}, {"w2_weight", "w2_weight"}};
  for (const std::string pr : {"w13", "w2"}) {
    layout_names.push_back({pr + "_weight_scale", cv.derived_names ? pr + "_weight_scale" : pr + "_blockscale_swizzled"});
    if (cv.derived_names) layout_names.push_back({pr + "_blockscale_swizzled", pr + "_blockscale_swizzled"});
  }
  const std::string what = engine_name(e) + "'s " + moe_backend_name(b) + " layout";
  for (const auto& [n, rn] : layout_names) {
    if (!d.has(pre + n)) {
      log.add(n, Verdict::Layout, "", what, "present", "absent");
      continue;
    }
    if (std::find(out.params.begin(), out.params.end(), n) == out.params.end()) out.params.push_back(n);
    Tensor got = d.tensor(pre + n);
    const Tensor& exp = expect.tensor(rn);
    if (got.shape() != exp.shape()) {
      log.add(n, Verdict::Layout, "", what, "shape " + shape_str(exp.shape()), "shape " + shape_str(got.shape()));
      continue;
    }
    const std::int64_t rows = exp.size(1), cols = exp.size(2);
    for (std::int64_t i = 0; i < exp.numel(); ++i) {
      if (exp.data()[i] == got.data()[i] || log.counted(n, Verdict::Layout)) continue;
      std::int64_t x = i / (rows * cols), r = (i / cols) % rows, col = i % cols;
      const bool scales = n.find("scale") != std::string::npos;
      log.add(n, Verdict::Layout, at({x, r, col}), std::string("expert ") + std::to_string(x) + (exp.data()[i] == 0 ? " (zero here: padding or a zero byte)" : ""),
              scales ? scale_str(exp.data()[i]) : "byte " + std::to_string(exp.data()[i]), scales ? scale_str(got.data()[i]) : "byte " + std::to_string(got.data()[i]));
    }
  }

  // Names in the report are the dump's, under the module.
  auto finish = [&] {
    for (auto& p : out.params) p = cv.prefix + p;
    for (auto& m : out.mismatches) m.param = cv.prefix + m.param;
    return out;
  };
  if (ct) {
    check_scalars(d, pre, ct_scalars(s, c, e, b), out, log);
    return finish();
  }
  if (e == Engine::Vllm) {
    check_scalars(d, pre, vllm_scalars(s, src, b), out, log);
    return finish();
  }
  check_scalars(d, pre, sglang_scalars(s, src, b), out, log);
  return finish();
}

}  // namespace nvfp4::diff

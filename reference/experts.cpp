#include "reference/experts.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "reference/loading.h"
#include "reference/reconcile.h"
#include "reference/shuffle.h"
#include "reference/swizzle.h"

namespace nvfp4::ref {

std::int64_t trtllm_padded_intermediate(std::int64_t I) { return round_up(I, 64); }

Module experts_create_weights(const ExpertsSpec& s) {
  Module m;
  const std::int64_t E = s.E, H = s.H, I = s.I;
  m.add("w13_weight", Tensor::empty(DType::U8, {E, 2 * I, H / 2}));
  m.add("w2_weight", Tensor::empty(DType::U8, {E, H, I / 2}));
  m.add("w13_weight_scale", Tensor::empty(DType::F8_E4M3, {E, 2 * I, H / 16}));
  m.add("w2_weight_scale", Tensor::empty(DType::F8_E4M3, {E, H, I / 16}));
  m.add("w13_weight_scale_2", Tensor::empty(DType::F32, {E, 2}));
  m.add("w2_weight_scale_2", Tensor::empty(DType::F32, {E}));
  if (s.has_input_scale) {
    m.add("w13_input_scale", Tensor::empty(DType::F32, {E, 2}));
    m.add("w2_input_scale", Tensor::empty(DType::F32, {E}));
  }
  return m;
}

void experts_load(Module& m, const ExpertsSpec& s, const Checkpoint& c, CkptFormat f) {
  const FormatNames& fn = format_names(f);
  Coverage cov;
  cov.expect("w13_weight", s.E * 2 * s.I);
  cov.expect("w13_weight_scale", s.E * 2 * s.I);
  cov.expect("w2_weight", s.E * s.H);
  cov.expect("w2_weight_scale", s.E * s.H);
  cov.expect("w13_weight_scale_2", s.E * 2);
  cov.expect("w2_weight_scale_2", s.E);
  if (s.has_input_scale) {
    cov.expect("w13_input_scale", s.E * 2);
    cov.expect("w2_input_scale", s.E);
  }
  for (std::int64_t e = 0; e < s.E; ++e) {
    const auto& ps = s.prefixes[static_cast<std::size_t>(e)];
    // Gate (w1) -> w13 rows [0, I) and slot (e, 0); up (w3) -> rows [I, 2I) and slot (e, 1); down (w2).
    for (const ExpertRole role : kExpertRoles) {
      const std::string& p = ps[role];
      const bool w13 = role != ExpertRole::Down;
      const std::int64_t half = role == ExpertRole::Up ? 1 : 0;
      std::string wp = w13 ? "w13" : "w2";
      std::int64_t rows = w13 ? s.I : s.H, row = half * s.I;
      Tensor w = c.tensor(p + "." + fn.weight), sc = load_block_scales(c, p + "." + fn.weight_scale);
      copy_rows(m.tensor(wp + "_weight"), e, row, w, p + "." + fn.weight);
      copy_rows(m.tensor(wp + "_weight_scale"), e, row, sc, p + "." + fn.weight_scale);
      std::int64_t unit = (w13 ? e * 2 * s.I : e * s.H) + row;
      cov.mark(wp + "_weight", unit, rows);
      cov.mark(wp + "_weight_scale", unit, rows);
      std::int64_t slot = w13 ? e * 2 + half : e;
      set_f32(m.tensor(wp + "_weight_scale_2"), slot, load_decode_scale(c, p + "." + fn.weight_scale_2, fn.encode_scales));
      cov.mark(wp + "_weight_scale_2", slot, 1);
      if (s.has_input_scale) {
        set_f32(m.tensor(wp + "_input_scale"), slot, load_decode_scale(c, p + "." + fn.input_scale, fn.encode_scales));
        cov.mark(wp + "_input_scale", slot, 1);
      }
    }
  }
  cov.verify(s.name);
}

namespace {

Tensor f32_vector(const std::vector<float>& v) {
  Tensor t = Tensor::empty(DType::F32, {static_cast<std::int64_t>(v.size())});
  for (std::size_t i = 0; i < v.size(); ++i) set_f32(t, static_cast<std::int64_t>(i), v[i]);
  return t;
}

// [E, rows, cols] -> [E, rows_out, cols_out]: place the given row ranges of each expert at the
// given destinations; everything else is zero (trtllm's padding).
struct RowMove { std::int64_t src_row, dst_row, count; };
Tensor rearrange(const Tensor& in, std::int64_t rows_out, std::int64_t cols_out, const std::vector<RowMove>& moves) {
  std::int64_t E = in.size(0), rows = in.size(1), cols = in.size(2);
  Tensor out = Tensor::zeros(in.dtype(), {E, rows_out, cols_out});
  for (std::int64_t e = 0; e < E; ++e)
    for (const RowMove& mv : moves)
      for (std::int64_t r = 0; r < mv.count; ++r)
        std::memcpy(out.data() + (e * rows_out + mv.dst_row + r) * cols_out, in.data() + (e * rows + mv.src_row + r) * cols,
                    static_cast<std::size_t>(cols));
  return out;
}

}  // namespace

namespace {

// Per expert, gate and up share one common scale: the max, block scales reconciled onto it.
// Returns the reconciled w13 block scales; common gets each expert's scale.
Tensor reconcile_w13(const Module& src, const ExpertsSpec& s, std::vector<float>& common, std::vector<Reconciliation>& rec) {
  const std::int64_t E = s.E, H = s.H, I = s.I;
  const Tensor& s2 = src.tensor("w13_weight_scale_2");
  common.assign(static_cast<std::size_t>(E), 0.0f);
  Tensor w13_scale = src.tensor("w13_weight_scale").clone();
  for (std::int64_t e = 0; e < E; ++e) {
    float g = get_f32(s2, 2 * e), u = get_f32(s2, 2 * e + 1), c = std::max(g, u);
    common[static_cast<std::size_t>(e)] = c;
    for (int half = 0; half < 2; ++half) {
      float own = half ? u : g;
      double err = 0;
      Tensor rows = src.tensor("w13_weight_scale").view(DType::F8_E4M3, {E * 2 * I, H / 16}).narrow0((2 * e + half) * I, I);
      Tensor r = reconcile_shard(rows, own, c, &err);
      std::memcpy(w13_scale.data() + (2 * e + half) * I * (H / 16), r.data(), r.nbytes());
      if (own != c) rec.push_back({s.name + "." + std::to_string(e), std::string(role_names(half ? ExpertRole::Up : ExpertRole::Gate).shard_id), own, c, err});
    }
  }
  return w13_scale;
}

// cutlass: weights as loaded, block scales swizzled.
void cutlass_layout(const Module& src, const Tensor& w13_scale, Module& out) {
  out.add("w13_weight", src.tensor("w13_weight").clone());
  out.add("w2_weight", src.tensor("w2_weight").clone());
  Tensor swz13 = swizzle_128x4(w13_scale), swz2 = swizzle_128x4(src.tensor("w2_weight_scale"));
  // Where an engine aliases the swizzled scales onto the sources (same shape and dtype), the two
  // names are one Parameter holding the swizzled bytes; otherwise the sources keep the loaded ones.
  const bool alias13 = swz13.shape() == w13_scale.shape(), alias2 = swz2.shape() == src.tensor("w2_weight_scale").shape();
  out.add("w13_weight_scale", alias13 ? swz13 : src.tensor("w13_weight_scale").clone());
  out.add("w2_weight_scale", alias2 ? swz2 : src.tensor("w2_weight_scale").clone());
  if (alias13) out.alias("w13_blockscale_swizzled", "w13_weight_scale");
  else out.add("w13_blockscale_swizzled", swz13);
  if (alias2) out.alias("w2_blockscale_swizzled", "w2_weight_scale");
  else out.add("w2_blockscale_swizzled", swz2);
}

// trtllm: [w1; w3] -> [w3; 0; w1; 0] with each half padded to Ip rows, w2's K padded to Ip, rows
// shuffled (FlashInfer's permutations), block scales shuffled the same way and swizzled.
void trtllm_layout(const Module& src, const ExpertsSpec& s, const Tensor& w13_scale, Module& out) {
  const std::int64_t H = s.H, I = s.I;
  if (H % 64) bad_input("", s.name, "trtllm needs the hidden size H = " + std::to_string(H) + " to be a multiple of 64");
  const std::int64_t Ip = trtllm_padded_intermediate(I);
  std::vector<RowMove> w31{{I, 0, I}, {0, Ip, I}};
  Tensor w13 = rearrange(src.tensor("w13_weight"), 2 * Ip, H / 2, w31);
  Tensor sc13 = rearrange(w13_scale, 2 * Ip, H / 16, w31);
  Tensor w2 = rearrange(src.tensor("w2_weight"), H, Ip / 2, {{0, 0, H}});
  Tensor sc2 = rearrange(src.tensor("w2_weight_scale"), H, Ip / 16, {{0, 0, H}});
  Permutation p13 = compose(gated_act_reorder(2 * Ip), shuffle_a_rows(2 * Ip, 128));
  Permutation p2 = shuffle_a_rows(H, 128);
  out.add("w13_weight", permute_rows(w13, p13));
  out.add("w2_weight", permute_rows(w2, p2));
  Tensor swz13 = swizzle_128x4(permute_rows(sc13, p13));  // [E, 2Ip, H/16]: 2Ip % 128 == 0, H/16 % 4 == 0
  // [E, roundup(H, 128), Ip/16]. FlashInfer's get_shuffle_matrix_sf_a_row_indices asserts
  // H % 128 == 0 here; H % 64 == 0 is accepted (docs/formats.md#padding-and-shape-rules), so the padded rows are kept.
  Tensor swz2 = swizzle_128x4(permute_rows(sc2, p2));
  // sglang binds w13/w2_blockscale_swizzled to the processed scales themselves.
  out.add("w13_weight_scale", swz13);
  out.add("w2_weight_scale", swz2);
  out.alias("w13_blockscale_swizzled", "w13_weight_scale");
  out.alias("w2_blockscale_swizzled", "w2_weight_scale");
}

// The activation scalars: the max input scale over experts, alphas per expert, and trtllm's
// g1_scale_c.
void activation_scalars(const Module& src, const ExpertsSpec& s, Backend b, const std::vector<float>& common, Module& out) {
  const std::int64_t E = s.E;
  out.add("w13_input_scale", src.tensor("w13_input_scale").clone());
  out.add("w2_input_scale", src.tensor("w2_input_scale").clone());
  // A chunk of a layer's experts takes the layer's maxima (core/module_map.h), so it derives what
  // the whole layer does.
  const auto& layer = s.layer_input_maxima;
  float in13 = layer ? layer->w13 : max_of(src.tensor("w13_input_scale")), in2 = layer ? layer->w2 : max_of(src.tensor("w2_input_scale"));
  std::vector<float> g1(static_cast<std::size_t>(E)), g2(static_cast<std::size_t>(E));
  for (std::int64_t e = 0; e < E; ++e) {
    g1[static_cast<std::size_t>(e)] = in13 * common[static_cast<std::size_t>(e)];
    g2[static_cast<std::size_t>(e)] = in2 * get_f32(src.tensor("w2_weight_scale_2"), e);
  }
  float q13 = 1.0f / in13, q2 = 1.0f / in2;
  out.add("g1_alphas", f32_vector(g1));
  out.add("g2_alphas", f32_vector(g2));
  out.add("w13_input_scale_quant", Tensor::scalar_f32(q13));
  out.add("w2_input_scale_quant", Tensor::scalar_f32(q2));
  if (b == Backend::Trtllm) {
    std::vector<float> c(static_cast<std::size_t>(E));
    for (std::size_t e = 0; e < c.size(); ++e) c[e] = q2 * g1[e];
    out.add("g1_scale_c", f32_vector(c));
  }
}

}  // namespace

Module experts_process(const Module& src, const ExpertsSpec& s, Backend b, std::vector<Reconciliation>& rec) {
  std::vector<float> common;
  const Tensor w13_scale = reconcile_w13(src, s, common, rec);
  Module out;
  if (b == Backend::Cutlass) cutlass_layout(src, w13_scale, out);
  else trtllm_layout(src, s, w13_scale, out);
  out.add("w13_weight_scale_2", src.tensor("w13_weight_scale_2").clone());
  out.add("w2_weight_scale_2", src.tensor("w2_weight_scale_2").clone());
  out.add("w13_weight_global_scale", f32_vector(common));
  if (s.has_input_scale) activation_scalars(src, s, b, common, out);
  return out;
}

namespace {
void check_target(const ExpertsSpec& s, int e, const std::string& proj) {
  if (e < 0 || e >= s.E) bad_input("", s.name, "expert " + std::to_string(e) + " out of range [0, " + std::to_string(s.E) + ")");
  if (proj != "w13" && proj != "w2") bad_input("", s.name, "proj must be w13 or w2, not \"" + proj + "\"");
}
}  // namespace

LogicalWeight experts_logical(const Module& m, const ExpertsSpec& s, Backend b, int e, const std::string& proj) {
  check_target(s, e, proj);
  const bool w13 = proj == "w13";
  LogicalWeight w;
  w.N = w13 ? 2 * s.I : s.H;
  w.K = w13 ? s.H : s.I;
  const Tensor& packed = m.tensor(proj + "_weight");
  const Tensor& swz = m.tensor(proj + "_blockscale_swizzled");
  std::int64_t rows = packed.size(1), pcols = packed.size(2);  // stored (possibly padded) shape
  std::int64_t kb_stored = pcols * 2 / 16;
  // Expert e's scales only (unswizzling all E of them per call made a layer's calls cost E^2).
  Tensor scales = unswizzle_128x4(swz.view(swz.dtype(), {s.E, swz.size(1), swz.size(2)}).narrow0(e, 1), rows, kb_stored);
  // Stored row of each logical row: identity for cutlass; through the inverse permutation for trtllm.
  std::vector<std::int64_t> stored(static_cast<std::size_t>(w.N));
  for (std::int64_t r = 0; r < w.N; ++r) stored[static_cast<std::size_t>(r)] = r;
  if (b == Backend::Trtllm) {
    std::int64_t Ip = trtllm_padded_intermediate(s.I);
    Permutation p = w13 ? compose(gated_act_reorder(2 * Ip), shuffle_a_rows(2 * Ip, 128)) : shuffle_a_rows(s.H, 128);
    std::vector<std::int64_t> inv(p.size());
    for (std::size_t n = 0; n < p.size(); ++n) inv[static_cast<std::size_t>(p[n])] = static_cast<std::int64_t>(n);
    for (std::int64_t r = 0; r < w.N; ++r) {
      // Padded source order is [w3 (up); w1 (gate)]: logical gate row t sits at Ip + t, up row t at t.
      std::int64_t padded = w13 ? (r < s.I ? Ip + r : r - s.I) : r;
      stored[static_cast<std::size_t>(r)] = inv[static_cast<std::size_t>(padded)];
    }
  }
  w.codes.resize(static_cast<std::size_t>(w.N * w.K));
  w.scales.resize(static_cast<std::size_t>(w.N * w.K / 16));
  const std::int64_t KB = w.K / 16;
  for (std::int64_t r = 0; r < w.N; ++r) {
    const std::int64_t sr = stored[static_cast<std::size_t>(r)];
    unpack_codes(packed.data() + (e * rows + sr) * pcols, w.K / 2, w.codes.data() + r * w.K);  // K: a multiple of 16
    const std::uint8_t* srow = scales.data() + sr * kb_stored;
    std::copy(srow, srow + KB, w.scales.data() + r * KB);
  }
  w.global_scale = w13 ? get_f32(m.tensor("w13_weight_global_scale"), e) : get_f32(m.tensor("w2_weight_scale_2"), e);
  return w;
}

GemmScalars experts_scalars(const Module& m, const ExpertsSpec& s, int e, const std::string& proj, GemmMode mode) {
  check_target(s, e, proj);
  GemmScalars g;
  if (mode == GemmMode::W4A4) {
    if (!m.has("g1_alphas")) bad_input("", s.name, "w4a4 needs input scales, and this checkpoint has none (W4A16)");
    bool w13 = proj == "w13";
    g.alpha = get_f32(m.tensor(w13 ? "g1_alphas" : "g2_alphas"), e);
    g.input_encode_scale = get_f32(m.tensor(w13 ? "w13_input_scale_quant" : "w2_input_scale_quant"), 0);
  }
  return g;
}

}  // namespace nvfp4::ref

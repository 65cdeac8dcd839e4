#include "tools/diff/linear_diff.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/codecs.h"
#include "core/error.h"
#include "reference/linear.h"
#include "reference/loading.h"
#include "reference/swizzle.h"
#include "tools/diff/block_match.h"
#include "tools/diff/locate.h"
#include "tools/diff/scalar_check.h"

namespace nvfp4::diff {

namespace {

struct Truth {  // the checkpoint's module, as the reference's loaders read it
  Tensor weight, scales;            // [N, K/2] U8, [N, K/16] E4M3
  std::vector<float> s2, in;        // per shard decode scales (in empty: W4A16)
  float s2max = 0, inmax = 1;
  // compressed-tensors: the largest encode scales on disk, as the engines take them.
  float w_enc_max = 0, in_enc_max = 0;
  // The decode scale the engine's alpha applies to every shard: ModelOpt, the max; compressed-
  // tensors, 1 / max encode scale, which is the min of the f32 reciprocals (1/x is monotonic).
  float applied = 0;
};

Truth load_truth(const LinearSpec& s, const Checkpoint& c) {
  Module m = ref::linear_create_weights(s);
  ref::linear_load(m, s, c, c.quant().format);
  Truth t;
  t.weight = m.tensor("weight");
  t.scales = m.tensor("weight_scale");
  for (std::size_t i = 0; i < s.shard_ids.size(); ++i) {
    t.s2.push_back(ref::get_f32(m.tensor("weight_scale_2"), static_cast<std::int64_t>(i)));
    if (s.has_input_scale) t.in.push_back(ref::get_f32(m.tensor("input_scale"), static_cast<std::int64_t>(i)));
  }
  t.s2max = *std::max_element(t.s2.begin(), t.s2.end());
  if (!t.in.empty()) t.inmax = *std::max_element(t.in.begin(), t.in.end());
  t.applied = t.s2max;
  if (c.quant().format == CkptFormat::CompressedTensors) {
    const FormatNames& fn = format_names(CkptFormat::CompressedTensors);
    for (const auto& p : s.prefixes) {
      t.w_enc_max = std::max(t.w_enc_max, c.tensor(p + "." + fn.weight_scale_2).get_f32(0));
      if (s.has_input_scale) t.in_enc_max = std::max(t.in_enc_max, c.tensor(p + "." + fn.input_scale).get_f32(0));
    }
    t.applied = *std::min_element(t.s2.begin(), t.s2.end());
  }
  return t;
}

// Which shard a module row belongs to, and the checkpoint tensor and row holding it.
struct RowSource { std::size_t shard; std::string tensor; std::int64_t row; };
RowSource row_source(const LinearSpec& s, CkptFormat f, std::int64_t r, bool scales) {
  const FormatNames& fn = format_names(f);
  std::int64_t off = 0;
  for (std::size_t i = 0; i < s.shard_rows.size(); ++i) {
    if (r < off + s.shard_rows[i]) {
      const std::string& p = s.fused_on_disk ? s.prefixes[0] : s.prefixes[i];
      return {i, p + "." + (scales ? fn.weight_scale : fn.weight), s.fused_on_disk ? r : r - off};
    }
    off += s.shard_rows[i];
  }
  return {0, "", -1};
}

void require(bool ok, const EngineDump& d, const std::string& name, const std::string& what) {
  if (!ok) bad_input(d.file_of(name), name, what);
}

// The reference's post-processing under the engine's convention (no reconcile): the packed weight
// padded with zero rows and columns to multiples of 32, and the swizzled block scales.
Tensor padded_weight(const Tensor& w, std::int64_t N, std::int64_t K, std::int64_t align) {
  std::int64_t Np = ref::round_up(N, align), Kp = ref::round_up(K, align);
  Tensor out = Tensor::zeros(DType::U8, {Np, Kp / 2});
  for (std::int64_t r = 0; r < N; ++r) std::memcpy(out.data() + r * (Kp / 2), w.data() + r * (K / 2), static_cast<std::size_t>(K / 2));
  return out;
}

}  // namespace

ModuleDiff diff_linear(const LinearSpec& s, const Checkpoint& c, const EngineDump& d, Engine e) {
  ModuleDiff out;
  out.module = s.name;
  out.kind = "linear";
  const std::string pre = s.name + ".";
  const bool sgl = e == Engine::Sglang;
  // sglang's compressed-tensors scheme keeps weight_packed unpadded and puts the swizzle under
  // weight_scale (CompressedTensorsW4A4Fp4.process_weights_after_loading); vLLM renames it weight.
  const bool ct = c.quant().format == CkptFormat::CompressedTensors;
  const std::string wname = sgl && ct ? "weight_packed" : "weight", swz_name = sgl && !ct ? "weight_scale_interleaved" : "weight_scale";
  if (!d.has(pre + wname)) {
    out.absent = true;
    return out;
  }
  MismatchLog log(out);
  const Truth t = load_truth(s, c);
  const CkptFormat f = c.quant().format;
  const std::int64_t N = s.N(), K = s.K, Kb = K / 16;

  // --- the packed weight: codes (semantic), bytes with zero padding (layout)
  Tensor w = d.tensor(pre + wname);
  out.params.push_back(wname);
  require(w.dtype() == DType::U8 && w.dim() == 2 && w.size(0) >= N && w.size(1) >= K / 2, d, pre + wname,
          "shape " + shape_str(w.shape()) + " " + std::string(dtype_name(w.dtype())) + " cannot hold this module's packed weight U8 " + shape_str({N, K / 2}));
  const std::int64_t wc = w.size(1);
  for (std::int64_t r = 0; r < N; ++r) {
    const std::uint8_t* er = w.data() + r * wc;
    const std::uint8_t* cr = t.weight.data() + r * (K / 2);
    if (std::memcmp(er, cr, static_cast<std::size_t>(K / 2)) == 0) continue;
    for (std::int64_t k = 0; k < K; ++k) {
      std::uint8_t a = (cr[k / 2] >> (4 * (k % 2))) & 0xF, b = (er[k / 2] >> (4 * (k % 2))) & 0xF;
      if (a == b || log.counted(wname, Verdict::Semantic)) continue;
      RowSource rs = row_source(s, f, r, false);
      log.add(wname, Verdict::Semantic, at({r, k / 2}), rs.tensor + " row " + std::to_string(rs.row) + " k " + std::to_string(k), code_str(a), code_str(b));
    }
  }
  {
    Tensor exp = padded_weight(t.weight, N, K, sgl && ct ? 1 : 32);
    if (exp.shape() != w.shape()) {
      log.add(wname, Verdict::Layout, "", "the packed weight padded to multiples of 32", "shape " + shape_str(exp.shape()), "shape " + shape_str(w.shape()));
    } else {
      for (std::int64_t i = 0; i < exp.numel(); ++i) {
        if (exp.data()[i] == w.data()[i] || log.counted(wname, Verdict::Layout)) continue;
        std::int64_t r = i / wc, cb = i % wc;
        std::string src = "padding (must be zero)";
        if (r < N && cb < K / 2) {
          RowSource rs = row_source(s, f, r, false);
          src = rs.tensor + " row " + std::to_string(rs.row) + " byte " + std::to_string(cb);
        }
        log.add(wname, Verdict::Layout, at({r, cb}), src, "byte " + std::to_string(exp.data()[i]), "byte " + std::to_string(w.data()[i]));
      }
    }
  }

  // --- the swizzled block scales: decoded (semantic), bytes (layout)
  require(d.has(pre + swz_name), d, pre + swz_name, "absent: " + engine_name(e) + " holds the swizzled block scales here");
  Tensor swz = d.tensor(pre + swz_name);
  out.params.push_back(swz_name);
  const std::int64_t Mp = ref::round_up(N, 128), Kbp = ref::round_up(Kb, 4);
  require((swz.dtype() == DType::F8_E4M3 || swz.dtype() == DType::U8) && swz.dim() == 2, d, pre + swz_name,
          "expected 2-D F8_E4M3 block scales, found " + std::string(dtype_name(swz.dtype())) + " " + shape_str(swz.shape()));
  if (swz.size(0) != Mp || swz.size(1) != Kbp) {
    log.add(swz_name, Verdict::Semantic, "", "the 128x4 swizzle of " + std::to_string(N) + " x " + std::to_string(Kb) + " block scales",
            "shape " + shape_str({Mp, Kbp}), "shape " + shape_str(swz.shape()));
  } else {
    Tensor eng = ref::unswizzle_128x4(swz, N, Kb);
    std::vector<std::int64_t> raw_blocks(s.shard_rows.size(), 0);
    for (std::int64_t r = 0; r < N; ++r) {
      RowSource rs = row_source(s, f, r, true);
      const float own = t.s2[rs.shard], common = t.applied;
      for (std::int64_t kb = 0; kb < Kb; ++kb) {
        std::uint8_t cb = t.scales.data()[r * Kb + kb], eb = eng.data()[r * Kb + kb];
        BlockMatch bm = match_block(cb, eb, own, common);
        if (bm == BlockMatch::Same || bm == BlockMatch::Reconciled) continue;
        if (bm == BlockMatch::Raw) {
          ++raw_blocks[rs.shard];
          continue;
        }
        if (log.counted(swz_name, Verdict::Semantic)) continue;
        log.add(swz_name, Verdict::Semantic, at({swizzled_offset(r, kb, Kbp) / Kbp, swizzled_offset(r, kb, Kbp) % Kbp}),
                rs.tensor + " row " + std::to_string(rs.row) + " k-block " + std::to_string(kb),
                scale_str(cb) + " x " + f32_text(own) + (own == common ? "" : " (reconciled onto " + f32_text(common) + ")"),
                scale_str(eb) + " x " + f32_text(common));
      }
    }
    for (std::size_t i = 0; i < raw_blocks.size(); ++i)
      if (raw_blocks[i] > 0)
        out.unreconciled.push_back({s.name, s.shard_ids[i], s.fused_on_disk ? s.prefixes[0] : s.prefixes[i], t.s2[i], t.applied,
                                    static_cast<double>(t.applied) / t.s2[i], raw_blocks[i]});
    Tensor exp = ref::swizzle_128x4(t.scales);
    for (std::int64_t i = 0; i < exp.numel(); ++i) {
      if (exp.data()[i] == swz.data()[i] || log.counted(swz_name, Verdict::Layout)) continue;
      auto [r, kb] = unlocate_swizzled(i, Mp, Kbp);
      std::string src = "padding (must be zero)";
      if (r < N && kb < Kb) {
        RowSource rs = row_source(s, f, r, true);
        src = rs.tensor + " row " + std::to_string(rs.row) + " k-block " + std::to_string(kb);
      }
      log.add(swz_name, Verdict::Layout, at({i / Kbp, i % Kbp}), src, scale_str(exp.data()[i]), scale_str(swz.data()[i]));
    }
  }
  // sglang keeps weight_scale: the swizzled bytes where it aliases (same shape), else as loaded.
  if (sgl && !ct && d.has(pre + "weight_scale")) {
    Tensor ws = d.tensor(pre + "weight_scale");
    out.params.push_back("weight_scale");
    Tensor exp = ws.shape() == swz.shape() ? ref::swizzle_128x4(t.scales) : t.scales;
    if (exp.shape() != ws.shape()) {
      log.add("weight_scale", Verdict::Layout, "", "the loaded block scales", "shape " + shape_str(exp.shape()), "shape " + shape_str(ws.shape()));
    } else {
      for (std::int64_t i = 0; i < exp.numel(); ++i)
        if (exp.data()[i] != ws.data()[i] && !log.counted("weight_scale", Verdict::Layout))
          log.add("weight_scale", Verdict::Layout, at({i / ws.size(1), i % ws.size(1)}),
                  ws.shape() == swz.shape() ? "the swizzled block scales (aliased)" : "the loaded block scales", scale_str(exp.data()[i]), scale_str(ws.data()[i]));
    }
  }

  // --- scalars: f32 operations on the checkpoint's, in the engine's order.
  const float alpha = t.inmax * t.s2max, inv = 1.0f / t.inmax;
  const bool a4 = s.has_input_scale;
  std::vector<ScalarExpect> scalars;
  if (ct) {
    // sglang: the largest encode scales themselves and alpha = 1 / (in x w); vLLM: their f32
    // reciprocals as decode scales, the input one kept as _inv, alpha = in x w (both f32).
    const float w_dec = 1.0f / t.w_enc_max, in_dec = 1.0f / t.in_enc_max;
    if (sgl) {
      scalars.push_back({"weight_global_scale", {t.w_enc_max}, Verdict::Semantic, "max weight_global_scale (encode)", {}, {}});
      if (a4) {
        scalars.push_back({"input_global_scale", {t.in_enc_max}, Verdict::Semantic, "max input_global_scale (encode)", {}, {}});
        scalars.push_back({"alpha", {1.0f / (t.in_enc_max * t.w_enc_max)}, Verdict::Semantic, "1 / (max input x max weight encode scale) (f32)", {}, {}});
      }
    } else {
      scalars.push_back({"weight_global_scale", {w_dec}, Verdict::Semantic, "1 / max weight_global_scale (f32)", {}, {}});
      if (a4) {
        scalars.push_back({"input_global_scale", {in_dec}, Verdict::Semantic, "1 / max input_global_scale (f32)", {}, {}});
        scalars.push_back({"input_global_scale_inv", {t.in_enc_max}, Verdict::Semantic, "max input_global_scale (encode)", {}, {}});
        scalars.push_back({"alpha", {in_dec * w_dec}, Verdict::Semantic, "input_global_scale x weight_global_scale (f32)", {}, {}});
      }
    }
  } else {
    scalars.push_back({"alpha", {alpha}, Verdict::Semantic, "max input scale x max weight_scale_2 (f32)", {}, {}});
    if (sgl) {
      scalars.push_back({"input_scale_inv", {inv}, Verdict::Semantic, "1 / max input scale (f32)", {}, {}});
      scalars.push_back({"weight_scale_2", t.s2, Verdict::Layout, "each shard's weight_scale_2", s.shard_ids, {}});
      scalars.push_back({"input_scale", a4 ? t.in : std::vector<float>(s.shard_ids.size(), 1.0f), Verdict::Layout, "each shard's input_scale", s.shard_ids, {}});
    } else {
      scalars.push_back({"weight_global_scale", {t.s2max}, Verdict::Semantic, "max weight_scale_2", {}, {}});
      if (a4) {
        scalars.push_back({"input_global_scale", {t.inmax}, Verdict::Semantic, "max input scale", {}, {}});
        scalars.push_back({"input_global_scale_inv", {inv}, Verdict::Semantic, "1 / max input scale (f32)", {}, {}});
      }
    }
  }
  check_scalars(d, pre, scalars, out, log);
  return out;
}

}  // namespace nvfp4::diff

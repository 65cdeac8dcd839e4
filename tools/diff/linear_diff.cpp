#include "tools/diff/linear_diff.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "reference/linear.h"
#include "reference/loading.h"
#include "reference/swizzle.h"
#include "tools/diff/decode.h"
#include "tools/diff/scalar_rules.h"

namespace nvfp4::diff {

namespace {

struct Truth {  // the checkpoint's module, as the reference's loaders read it
  Tensor weight, scales;  // [N, K/2] U8, [N, K/16] E4M3
  LinearScales scalars;
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
  LinearScales& v = t.scalars;
  for (std::size_t i = 0; i < s.shard_ids.size(); ++i) {
    v.s2.push_back(ref::get_f32(m.tensor("weight_scale_2"), static_cast<std::int64_t>(i)));
    if (s.has_input_scale) v.in.push_back(ref::get_f32(m.tensor("input_scale"), static_cast<std::int64_t>(i)));
  }
  v.s2max = *std::max_element(v.s2.begin(), v.s2.end());
  if (!v.in.empty()) v.inmax = *std::max_element(v.in.begin(), v.in.end());
  t.applied = v.s2max;
  if (c.quant().format == CkptFormat::CompressedTensors) {
    const FormatNames& fn = format_names(CkptFormat::CompressedTensors);
    for (const auto& p : s.prefixes) {
      v.w_enc_max = std::max(v.w_enc_max, c.tensor(p + "." + fn.weight_scale_2).get_f32(0));
      if (s.has_input_scale) v.in_enc_max = std::max(v.in_enc_max, c.tensor(p + "." + fn.input_scale).get_f32(0));
    }
    t.applied = *std::min_element(v.s2.begin(), v.s2.end());
  }
  return t;
}

// Which shard a module row belongs to, and the checkpoint tensor and row holding it.
RowSource row_source(const LinearSpec& s, CkptFormat f, std::int64_t r, bool scales) {
  const FormatNames& fn = format_names(f);
  std::int64_t off = 0;
  for (std::size_t i = 0; i < s.shard_rows.size(); ++i) {
    if (r < off + s.shard_rows[i]) {
      const std::string& p = s.fused_on_disk ? s.prefixes[0] : s.prefixes[i];
      return {p + "." + (scales ? fn.weight_scale : fn.weight), s.fused_on_disk ? r : r - off, i};
    }
    off += s.shard_rows[i];
  }
  return {"", -1, 0};
}

void require(bool ok, const EngineDump& d, const std::string& name, const std::string& what) {
  if (!ok) bad_input(d.file_of(name), name, what);
}

// The packed weight padded with zero rows and columns to multiples of `align`.
Tensor padded_weight(const Tensor& w, std::int64_t N, std::int64_t K, std::int64_t align) {
  std::int64_t Np = ref::round_up(N, align), Kp = ref::round_up(K, align);
  Tensor out = Tensor::zeros(DType::U8, {Np, Kp / 2});
  for (std::int64_t r = 0; r < N; ++r) std::memcpy(out.data() + r * (Kp / 2), w.data() + r * (K / 2), static_cast<std::size_t>(K / 2));
  return out;
}

// Where layout byte i of a [rows, cols] tensor of this module comes from: a checkpoint row (`unit`
// "byte" or "k-block"), or padding. m, k: its logical row and column.
std::pair<std::string, std::string> byte_place(const Projection& p, std::string index, std::int64_t m, std::int64_t k, std::int64_t cols, const char* unit) {
  if (m >= p.rows.N || k >= cols) return {std::move(index), "padding (must be zero)"};
  RowSource s = p.rows.source(0, m, std::string(unit) == "k-block");
  return {std::move(index), s.tensor + " row " + std::to_string(s.row) + " " + unit + " " + std::to_string(k)};
}

// The packed weight: codes (semantic), bytes with zero padding (layout).
void check_weight(const LinearConvention& row, const Projection& p, ModuleDiff& out, MismatchLog& log) {
  const Tensor& w = p.eng_weight;
  const std::int64_t N = p.rows.N, K = p.rows.K, wc = w.size(1);
  out.params.push_back(row.weight);
  decode_rows(p, true, false, log);
  Tensor exp = padded_weight(p.ckpt_weight, N, K, row.weight_align);
  if (exp.shape() != w.shape()) {
    log.add(row.weight, Verdict::Layout, "", "the packed weight padded to multiples of 32", "shape " + shape_str(exp.shape()), "shape " + shape_str(w.shape()));
    return;
  }
  compare_bytes(row.weight, exp, w, false, [&](std::int64_t i) { return byte_place(p, at({i / wc, i % wc}), i / wc, i % wc, K / 2, "byte"); }, log);
}

// The swizzled block scales: decoded (semantic), bytes (layout); shards kept raw under another's scale.
void check_swizzled(const LinearSpec& s, const LinearConvention& row, const Truth& t, Projection& p, const Tensor& swz, ModuleDiff& out, MismatchLog& log) {
  const std::int64_t N = p.rows.N, Kb = p.rows.K / 16, Mp = ref::round_up(N, 128), Kbp = ref::round_up(Kb, 4);
  if (swz.size(0) != Mp || swz.size(1) != Kbp) {
    log.add(row.swizzled, Verdict::Semantic, "", "the 128x4 swizzle of " + std::to_string(N) + " x " + std::to_string(Kb) + " block scales",
            "shape " + shape_str({Mp, Kbp}), "shape " + shape_str(swz.shape()));
    return;
  }
  p.eng_scales = ref::unswizzle_128x4(swz, N, Kb);
  p.R = N;
  p.Kbs = Kb;
  p.Kbp = Kbp;
  const std::vector<std::int64_t> raw = decode_rows(p, false, true, log);
  for (std::size_t i = 0; i < raw.size(); ++i)
    if (raw[i] > 0)
      out.unreconciled.push_back({s.name, s.shard_ids[i], s.fused_on_disk ? s.prefixes[0] : s.prefixes[i], p.own[i], t.applied,
                                  static_cast<double>(t.applied) / p.own[i], raw[i]});
  compare_bytes(row.swizzled, ref::swizzle_128x4(t.scales), swz, true, [&](std::int64_t i) {
    auto [r, kb] = unlocate_swizzled(i, Mp, Kbp);
    return byte_place(p, at({i / Kbp, i % Kbp}), r, kb, Kb, "k-block");
  }, log);
}

// The loaded block scales the row keeps: the swizzled bytes where the row aliases them and the
// shapes agree, else as loaded.
void check_loaded_scales(const LinearConvention& row, const Truth& t, const Tensor& swz, const EngineDump& d, const std::string& pre, ModuleDiff& out,
                         MismatchLog& log) {
  const std::string& n = row.loaded_scales;
  if (row.loaded == LoadedScales::None || !d.has(pre + n)) return;
  Tensor ws = d.tensor(pre + n);
  out.params.push_back(n);
  const bool aliased = row.loaded == LoadedScales::AliasWhereShapesAgree && ws.shape() == swz.shape();
  Tensor exp = aliased ? ref::swizzle_128x4(t.scales) : t.scales;
  if (exp.shape() != ws.shape()) {
    log.add(n, Verdict::Layout, "", "the loaded block scales", "shape " + shape_str(exp.shape()), "shape " + shape_str(ws.shape()));
    return;
  }
  const std::string source = aliased ? "the swizzled block scales (aliased)" : "the loaded block scales";
  compare_bytes(n, exp, ws, true, [&](std::int64_t i) { return std::pair{at({i / ws.size(1), i % ws.size(1)}), source}; }, log);
}

// A fused-on-disk module under a loader that writes its one per-tensor scale into slot 0 only
// (FusedScales::SlotZeroOnly): every other slot of each per-tensor parameter is uninitialized, and
// so is any scalar the engine derives from the max over the slots. Fails naming those slots, which
// the engine may have deleted since (vLLM 0.19.1 keeps only the max).
void check_fused_slots(const LinearSpec& s, const LinearConvention& row, const Checkpoint& c, MismatchLog& log) {
  if (row.fused_scales != FusedScales::SlotZeroOnly || !s.fused_on_disk || s.shard_ids.size() < 2) return;
  const FormatNames& fn = format_names(c.quant().format);
  std::vector<std::string> names = {fn.weight_scale_2};
  if (s.has_input_scale) names.push_back(fn.input_scale);
  for (const std::string& n : names) {
    const std::string disk = s.prefixes[0] + "." + n;
    const std::string value = f32_text(c.tensor(disk).get_f32(0));
    for (std::size_t i = 1; i < s.shard_ids.size(); ++i)
      log.add(n, Verdict::Semantic, at({static_cast<std::int64_t>(i)}),
              "shard " + s.shard_ids[i] + "'s slot: " + engine_name(row.engine) + " loads the fused " + disk + " into slot 0 only (" + row.fused_cite +
                  "), this slot stays torch.empty and the max over the slots reads it",
              value, "uninitialized");
  }
}

}  // namespace

ModuleDiff diff_linear(const LinearSpec& s, const Checkpoint& c, const EngineDump& d, const LinearConvention& row) {
  ModuleDiff out;
  out.module = s.name;
  out.kind = "linear";
  const std::string pre = s.name + ".";
  if (!d.has(pre + row.weight)) {
    out.absent = true;
    return out;
  }
  MismatchLog log(out);
  const Truth t = load_truth(s, c);
  const CkptFormat f = c.quant().format;
  const std::int64_t N = s.N(), K = s.K;
  Projection p;
  p.rows.N = N;
  p.rows.K = K;
  p.rows.source = [&s, f](std::int64_t, std::int64_t r, bool scales) { return row_source(s, f, r, scales); };
  p.weight = row.weight;
  p.scales = row.swizzled;
  p.ckpt_weight = t.weight;
  p.ckpt_scales = t.scales;
  p.own = t.scalars.s2;
  p.applied.assign(p.own.size(), t.applied);
  p.say_reconciled_onto = true;
  p.eng_weight = d.tensor(pre + row.weight);
  const Tensor& w = p.eng_weight;
  require(w.dtype() == DType::U8 && w.dim() == 2 && w.size(0) >= N && w.size(1) >= K / 2, d, pre + row.weight,
          "shape " + shape_str(w.shape()) + " " + std::string(dtype_name(w.dtype())) + " cannot hold this module's packed weight U8 " + shape_str({N, K / 2}));
  check_weight(row, p, out, log);

  require(d.has(pre + row.swizzled), d, pre + row.swizzled, "absent: " + engine_name(row.engine) + " holds the swizzled block scales here");
  Tensor swz = d.tensor(pre + row.swizzled);
  out.params.push_back(row.swizzled);
  require((swz.dtype() == DType::F8_E4M3 || swz.dtype() == DType::U8) && swz.dim() == 2, d, pre + row.swizzled,
          "expected 2-D F8_E4M3 block scales, found " + std::string(dtype_name(swz.dtype())) + " " + shape_str(swz.shape()));
  check_swizzled(s, row, t, p, swz, out, log);
  check_loaded_scales(row, t, swz, d, pre, out, log);
  check_fused_slots(s, row, c, log);
  check_scalars(d, pre, linear_scalars(row.scalars, s, t.scalars), out, log);
  return out;
}

}  // namespace nvfp4::diff

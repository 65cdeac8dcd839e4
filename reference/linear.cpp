#include "reference/linear.h"

#include <algorithm>

#include "core/error.h"
#include "reference/loading.h"
#include "reference/reconcile.h"
#include "reference/swizzle.h"

namespace nvfp4::ref {

Module linear_create_weights(const LinearSpec& s) {
  Module m;
  auto p = static_cast<std::int64_t>(s.shard_ids.size());
  m.add("weight", Tensor::empty(DType::U8, {s.N(), s.K / 2}));
  m.add("weight_scale", Tensor::empty(DType::F8_E4M3, {s.N(), s.K / 16}));
  m.add("weight_scale_2", Tensor::empty(DType::F32, {p}));
  if (s.has_input_scale) m.add("input_scale", Tensor::empty(DType::F32, {p}));
  return m;
}

void linear_load(Module& m, const LinearSpec& s, const Checkpoint& c, CkptFormat f) {
  const FormatNames& fn = format_names(f);
  auto p = static_cast<std::int64_t>(s.shard_ids.size());
  Coverage cov;
  cov.expect("weight", s.N());
  cov.expect("weight_scale", s.N());
  cov.expect("weight_scale_2", p);
  if (s.has_input_scale) cov.expect("input_scale", p);
  auto load_shard = [&](const std::string& prefix, std::int64_t row, std::int64_t slot_first, std::int64_t slots) {
    std::string wn = prefix + "." + fn.weight, sn = prefix + "." + fn.weight_scale;
    Tensor w = c.tensor(wn), sc = load_block_scales(c, sn);
    copy_rows(m.tensor("weight"), -1, row, w, wn);
    copy_rows(m.tensor("weight_scale"), -1, row, sc, sn);
    cov.mark("weight", row, w.size(0));
    cov.mark("weight_scale", row, sc.size(0));
    // A scalar of a module fused on disk fills every slot (vLLM #39765, sglang #29151).
    float s2 = load_decode_scale(c, prefix + "." + fn.weight_scale_2, fn.encode_scales);
    for (std::int64_t k = slot_first; k < slot_first + slots; ++k) set_f32(m.tensor("weight_scale_2"), k, s2);
    cov.mark("weight_scale_2", slot_first, slots);
    if (s.has_input_scale) {
      float in = load_decode_scale(c, prefix + "." + fn.input_scale, fn.encode_scales);
      for (std::int64_t k = slot_first; k < slot_first + slots; ++k) set_f32(m.tensor("input_scale"), k, in);
      cov.mark("input_scale", slot_first, slots);
    }
  };
  if (s.fused_on_disk) {
    load_shard(s.prefixes[0], 0, 0, p);
  } else {
    std::int64_t row = 0;
    for (std::int64_t i = 0; i < p; ++i) {
      load_shard(s.prefixes[static_cast<std::size_t>(i)], row, i, 1);
      row += s.shard_rows[static_cast<std::size_t>(i)];
    }
  }
  cov.verify(s.name);
}

Module linear_process(const Module& src, const LinearSpec& s, std::vector<Reconciliation>& rec) {
  auto p = static_cast<std::int64_t>(s.shard_ids.size());
  const Tensor& s2 = src.tensor("weight_scale_2");
  const float common = max_of(s2);

  // Reconcile each shard's block-scale rows onto the common scale.
  Tensor scales = Tensor::empty(DType::F8_E4M3, src.tensor("weight_scale").shape());
  std::int64_t row = 0;
  for (std::int64_t i = 0; i < p; ++i) {
    std::int64_t rows = s.shard_rows[static_cast<std::size_t>(i)];
    float own = get_f32(s2, i);
    double err = 0;
    Tensor r = reconcile_shard(src.tensor("weight_scale").narrow0(row, rows), own, common, &err);
    copy_rows(scales, -1, row, r, s.name + ".weight_scale");
    if (own != common) rec.push_back({s.name, s.shard_ids[static_cast<std::size_t>(i)], own, common, err});
    row += rows;
  }

  Module out;
  out.add("weight", src.tensor("weight").clone());
  Tensor swz = swizzle_128x4(scales);
  // Where an engine aliases weight_scale_interleaved onto weight_scale (same shape and dtype), the
  // two names are one Parameter holding the swizzled bytes; otherwise weight_scale keeps the loaded
  // scales and weight_scale_interleaved is its own.
  const bool aliased = swz.shape() == scales.shape();
  out.add("weight_scale", aliased ? swz : src.tensor("weight_scale").clone());
  out.add("weight_scale_2", s2.clone());
  if (s.has_input_scale) out.add("input_scale", src.tensor("input_scale").clone());
  if (s.has_input_scale) {
    const Tensor& in = src.tensor("input_scale");
    const float in_max = max_of(in);
    out.add("alpha", Tensor::scalar_f32(in_max * common));
    out.add("input_scale_inv", Tensor::scalar_f32(1.0f / in_max));
  }
  out.add("weight_global_scale", Tensor::scalar_f32(common));
  if (aliased) out.alias("weight_scale_interleaved", "weight_scale");
  else out.add("weight_scale_interleaved", swz);
  return out;
}

LogicalWeight linear_logical(const Module& m, const LinearSpec& s) {
  LogicalWeight w;
  w.N = s.N();
  w.K = s.K;
  const Tensor& packed = m.tensor("weight");
  w.codes.resize(static_cast<std::size_t>(w.N * w.K));
  unpack_codes(packed.data(), w.N * w.K / 2, w.codes.data());  // K is a multiple of 16: no byte spans two rows
  Tensor sc = unswizzle_128x4(m.tensor("weight_scale_interleaved"), w.N, w.K / 16);
  w.scales.assign(sc.data(), sc.data() + sc.nbytes());
  w.global_scale = get_f32(m.tensor("weight_global_scale"), 0);
  return w;
}

GemmScalars linear_scalars(const Module& m, const LinearSpec& s, GemmMode mode) {
  GemmScalars g;
  if (mode == GemmMode::W4A4) {
    if (!m.has("alpha")) bad_input("", s.name, "w4a4 needs input scales, and this checkpoint has none (W4A16)");
    g.alpha = get_f32(m.tensor("alpha"), 0);
    g.input_encode_scale = get_f32(m.tensor("input_scale_inv"), 0);
  }
  return g;
}

}  // namespace nvfp4::ref

#include "optimized/source_loader.h"

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "optimized/codecs.h"
#include "optimized/mutants.h"

namespace nvfp4::opt {

void for_each_source(const ModelSpec& spec, const std::function<void(const std::string&, const Source&)>& f) {
  const FormatNames& fn = format_names(spec.format);
  using K = Source::Kind;
  for (const auto& l : spec.linears) {
    const auto p = static_cast<std::int64_t>(l.shard_ids.size());
    std::int64_t row = 0;
    for (std::size_t i = 0; i < l.prefixes.size(); ++i) {
      const std::string& pre = l.prefixes[i];
      // Fused on disk: one tensor covers every shard's rows and its scalar fills every slot.
      const std::int64_t slot = l.fused_on_disk ? 0 : static_cast<std::int64_t>(i), slots = l.fused_on_disk ? p : 1;
      f(l.name, {K::Weight, pre + "." + fn.weight, "weight", -1, row, l.N(), l.K / 2});
      f(l.name, {K::BlockScale, pre + "." + fn.weight_scale, "weight_scale", -1, row, l.N(), l.K / 16});
      f(l.name, {K::GlobalScale, pre + "." + fn.weight_scale_2, "weight_scale_2", -1, 0, 0, 0, slot, slots, fn.encode_scales});
      if (l.has_input_scale)
        f(l.name, {K::GlobalScale, pre + "." + fn.input_scale, "input_scale", -1, 0, 0, 0, slot, slots, fn.encode_scales});
      row += l.fused_on_disk ? l.N() : l.shard_rows[i];
    }
  }
  for (const auto& x : spec.experts)
    for (std::int64_t e = 0; e < x.E; ++e)
      for (const ExpertRole role : kExpertRoles) {  // gate -> w13 rows [0, I), slot (e, 0); up -> [I, 2I), (e, 1); down
        const std::string& pre = x.prefixes[static_cast<std::size_t>(e)][role];
        const bool w13 = role != ExpertRole::Down;
        const std::int64_t half = role == ExpertRole::Up ? 1 : 0;
        const std::string w = w13 ? "w13" : "w2";
        const std::int64_t rows = w13 ? 2 * x.I : x.H, row = half * x.I, K = w13 ? x.H : x.I;
        const std::int64_t slot = w13 ? 2 * e + half : e;
        f(x.name, {K::Weight, pre + "." + fn.weight, w + "_weight", e, row, rows, K / 2});
        f(x.name, {K::BlockScale, pre + "." + fn.weight_scale, w + "_weight_scale", e, row, rows, K / 16});
        f(x.name, {K::GlobalScale, pre + "." + fn.weight_scale_2, w + "_weight_scale_2", -1, 0, 0, 0, slot, 1, fn.encode_scales});
        if (x.has_input_scale)
          f(x.name, {K::GlobalScale, pre + "." + fn.input_scale, w + "_input_scale", -1, 0, 0, 0, slot, 1, fn.encode_scales});
      }
}

namespace {

// The decode scale a GlobalScale source holds, or the reason it cannot be used.
float decode_scale(const Checkpoint& c, const Source& s, std::string* problem) {
  const TensorInfo& info = c.info(s.tensor);
  const bool shape_ok = info.shape.empty() || (info.shape.size() == 1 && info.shape[0] == 1);
  if (!shape_ok || (info.dtype != DType::F32 && info.dtype != DType::BF16)) {
    *problem = "expected an F32 or BF16 scalar (shape [] or [1]), found " + std::string(dtype_name(info.dtype)) + shape_str(info.shape);
    return 0;
  }
  Tensor t = c.tensor(s.tensor);
  float v;
  if (info.dtype == DType::F32) {
    std::memcpy(&v, t.data(), 4);
  } else {
    std::uint16_t h;
    std::memcpy(&h, t.data(), 2);
    v = bf16_value(h);
  }
  if (std::isnan(v)) *problem = "NaN global scale";
  else if (std::isinf(v)) *problem = "infinite global scale";
  else if (v <= 0) *problem = "global scale " + std::to_string(v) + " is not positive";
  if (!problem->empty()) return 0;
  const float d = s.encode ? 1.0f / v : v;
  if (!std::isfinite(d) || d <= 0) *problem = "encode scale has no finite positive reciprocal";
  return d;
}

void validate_rows(const Checkpoint& c, const Source& s) {
  const TensorInfo& info = c.info(s.tensor);
  const DType want = s.kind == Source::Kind::Weight ? DType::U8 : DType::F8_E4M3;
  if (info.dtype != want || info.shape.size() != 2 || info.shape[1] != s.cols || s.row + info.shape[0] > s.rows)
    bad_input(c.file_of(s.tensor), s.tensor,
              std::string(dtype_name(info.dtype)) + shape_str(info.shape) + " does not fit rows [" + std::to_string(s.row) +
                  ", ...) of a " + std::string(dtype_name(want)) + " [" + std::to_string(s.rows) + ", " + std::to_string(s.cols) + "] parameter");
  if (s.kind != Source::Kind::BlockScale) return;
  Tensor t = c.tensor(s.tensor);
  const std::uint8_t* b = t.data();
  const std::int64_t n = t.numel();
  // NaN is S.1111.111; any other set sign bit but -0 is a negative scale. Reloads read every scale
  // of the model, so one pass with no early exit, 8 bytes at a time, then the place only on
  // failure. Per byte, with t = v & 0x7F: t + 1 reaches bit 7 iff t == 0x7F (NaN), t + 0x7F iff
  // t != 0 (negative when the sign is set); neither carries out of the byte.
  auto bad = [](std::uint8_t v) { return ((v & 0x7F) == 0x7F) || v > 0x80; };
  constexpr std::uint64_t k01 = 0x0101010101010101ull, k7F = 0x7F7F7F7F7F7F7F7Full, k80 = 0x8080808080808080ull;
  std::uint64_t any = 0;
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t v;
    std::memcpy(&v, b + i, 8);
    const std::uint64_t t = v & k7F;
    any |= ((t + k01) | ((t + k7F) & v)) & k80;
  }
  for (; i < n; ++i) any |= bad(b[i]);
  if (!any) return;
  i = 0;
  while (!bad(b[i])) ++i;
  const std::string at = "[" + std::to_string(i / s.cols) + ", " + std::to_string(i % s.cols) + "]";
  bad_input(c.file_of(s.tensor), s.tensor, ((b[i] & 0x7F) == 0x7F ? "NaN block scale at " : "negative block scale at ") + at);
}

}  // namespace

void validate_sources(const Checkpoint& c, const ModelSpec& spec) {
  for_each_source(spec, [&](const std::string&, const Source& s) {
    if (!c.has(s.tensor)) bad_input(c.dir().string(), s.tensor, "tensor not found in the checkpoint");
    if (s.kind != Source::Kind::GlobalScale) {
      validate_rows(c, s);
      return;
    }
    std::string problem;
    decode_scale(c, s, &problem);
    if (!problem.empty()) bad_input(c.file_of(s.tensor), s.tensor, problem);
  });
}

void copy_sources(const Checkpoint& c, const ModelSpec& spec, std::map<std::string, Module>& modules, const Placements& direct) {
  for_each_source(spec, [&](const std::string& module, const Source& s) {
    Tensor& dst = modules.at(module).tensor(s.param);
    if (s.kind == Source::Kind::GlobalScale) {
      std::string problem;
      const float v = decode_scale(c, s, &problem);
      const std::int64_t slots = mutant(2) ? 1 : s.slots;  // mutant 2: a fused scalar fills slot 0 only
      for (std::int64_t k = s.slot; k < s.slot + slots; ++k) std::memcpy(dst.data() + 4 * k, &v, 4);
      return;
    }
    Tensor t = c.tensor(s.tensor);
    const std::int64_t batch = s.expert < 0 ? 0 : s.expert;
    if (auto it = direct.find({module, s.param}); it != direct.end()) {
      if constexpr (mutant(3)) return;  // mutant 3: the shuffled rows keep the previous weights
      const RowPlacement& r = it->second;
      for (std::int64_t i = 0; i < t.size(0); ++i)
        std::memcpy(dst.data() + (batch * r.rows_out + r.destinations[s.row + i]) * r.row_bytes, t.data() + i * s.cols,
                    static_cast<std::size_t>(s.cols));
      return;
    }
    std::memcpy(dst.data() + (batch * s.rows + s.row) * s.cols, t.data(), t.nbytes());
  });
}

}  // namespace nvfp4::opt

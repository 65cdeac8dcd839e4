// Processed bytes against index formulas applied to the raw checkpoint tensors, independently of
// both pipelines (comparing the pipelines with each other cannot see a layout mistake they
// share). Read straight from the files of a generated checkpoint whose scales were aimed at E4M3
// rounding midpoints (properties/scale_aims.h):
//   reconcile   R(S) = S when the shard's own scale equals the module's max, else the E4M3 byte
//               nearest to f32(value(S) * f32(own / max)), ties to the even byte, saturating at 448,
//               found by search over the 127 finite bytes (the pipelines use bit arithmetic);
//   swizzle     vLLM's swizzle_blockscale as index arithmetic: pad [M, K] to [Mp, Kp] with zeros,
//               view as [Mp/128, 4, 32, Kp/4, 4], permute (0, 3, 2, 1, 4);
//   trtllm rows each group of 32 output rows is the transpose of its source rows viewed as [8][4]
//               (shuffle_matrix_a, epilogue tile 128); w13 first interleaves [up; gate], each half
//               padded with zero rows to roundup(I, 64); w2's K is padded with zeros to that size.
// Every byte of weight, weight_scale_interleaved, w13/w2_weight, w13/w2_blockscale_swizzled and the
// trtllm w13/w2_weight_scale is compared, in both pipelines.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "core/checkpoint.h"
#include "core/module_map.h"
#include "core/module_names.h"
#include "core/test/temp_dir.h"
#include "properties/generators.h"
#include "properties/scale_aims.h"
#include "registry/registry.h"

namespace nvfp4 {
namespace {

float e4m3_value(std::uint8_t b) {
  const int e = (b >> 3) & 15, m = b & 7;
  const float mag = e == 0 ? std::ldexp(static_cast<float>(m), -9) : std::ldexp(1.0f + static_cast<float>(m) / 8.0f, e - 7);
  return (b & 0x80) ? -mag : mag;
}

int ties_seen = 0;  // reconciles that landed exactly between two E4M3 values, for the case's tag

std::uint8_t e4m3_nearest(float x) {
  const std::uint8_t sign = x < 0 ? 0x80 : 0;
  const float a = std::fabs(x);
  std::uint8_t best = 0;
  for (int b = 1; b <= 0x7E; ++b) {
    const float d = std::fabs(e4m3_value(static_cast<std::uint8_t>(b)) - a), db = std::fabs(e4m3_value(best) - a);
    if (d < db) best = static_cast<std::uint8_t>(b);
    else if (d == db && d != 0) {
      ++ties_seen;
      if ((b & 1) == 0) best = static_cast<std::uint8_t>(b);
    }
  }
  return best | sign;
}

float decode(const Checkpoint& c, const std::string& name, bool encode) {
  const float v = c.tensor(name).get_f32(0);
  return encode ? 1.0f / v : v;
}

// [rows, cols] bytes of a raw tensor; reconciled when own != common.
struct Rows {
  std::vector<std::uint8_t> b;
  std::int64_t rows = 0, cols = 0;
  std::uint8_t at(std::int64_t r, std::int64_t c) const { return b[static_cast<std::size_t>(r * cols + c)]; }
};
Rows raw(const Checkpoint& ck, const std::string& name) {
  const Tensor t = ck.tensor(name);
  Rows r;
  r.rows = t.size(0);
  r.cols = t.numel() / r.rows;
  r.b.assign(t.data(), t.data() + t.nbytes());
  return r;
}
Rows reconciled(Rows r, float own, float common) {
  if (own == common) return r;
  const float ratio = own / common;
  for (auto& s : r.b) s = e4m3_nearest(e4m3_value(s) * ratio);
  return r;
}
Rows stack(const std::vector<Rows>& parts) {
  Rows out;
  out.cols = parts.at(0).cols;
  for (const auto& p : parts) {
    out.b.insert(out.b.end(), p.b.begin(), p.b.end());
    out.rows += p.rows;
  }
  return out;
}

std::int64_t rup(std::int64_t x, std::int64_t m) { return (x + m - 1) / m * m; }

// Byte i of one swizzled batch of a logical [M, K] matrix given by value(m, k).
std::vector<std::uint8_t> swizzled(std::int64_t M, std::int64_t K, const std::function<std::uint8_t(std::int64_t, std::int64_t)>& value) {
  const std::int64_t Mp = rup(M, 128), Kp = rup(K, 4);
  std::vector<std::uint8_t> out(static_cast<std::size_t>(Mp * Kp));
  for (std::int64_t m = 0; m < Mp; ++m)
    for (std::int64_t k = 0; k < Kp; ++k) {
      const std::int64_t a = m / 128, b = (m % 128) / 32, c = m % 32, d = k / 4, e = k % 4;  // [Mp/128, 4, 32, Kp/4, 4]
      const std::int64_t at = (((a * (Kp / 4) + d) * 32 + c) * 4 + b) * 4 + e;               // permuted (0, 3, 2, 1, 4)
      out[static_cast<std::size_t>(at)] = (m < M && k < K) ? value(m, k) : 0;
    }
  return out;
}

// Source row of output row n in a 32-row group read as the transpose of [8][4].
std::int64_t shuffled_source(std::int64_t n) {
  const std::int64_t g = n / 32, j = n % 32;
  return 32 * g + 4 * (j % 8) + j / 8;
}

void expect_bytes(const Pipeline& p, const std::string& module, const std::string& param, std::int64_t batch,
                  const std::vector<std::uint8_t>& want, const std::string& what) {
  const Tensor t = p.modules().at(module).tensor(param);
  const std::int64_t per = static_cast<std::int64_t>(want.size());
  if (t.nbytes() < static_cast<std::size_t>((batch + 1) * per))
    RC_FAIL(p.name() + " " + module + "." + param + " is " + describe(t) + ", too small for " + what);
  const std::uint8_t* got = t.data() + batch * per;
  for (std::int64_t i = 0; i < per; ++i)
    if (got[i] != want[static_cast<std::size_t>(i)]) {
      char b[200];
      std::snprintf(b, sizeof b, "%s %s.%s: batch %lld byte %lld is 0x%02x but %s gives 0x%02x", p.name().c_str(), module.c_str(),
                    param.c_str(), static_cast<long long>(batch), static_cast<long long>(i), got[i], what.c_str(), want[static_cast<std::size_t>(i)]);
      RC_FAIL(b);
    }
}

std::vector<std::uint8_t> plain(const Rows& r, std::int64_t rows_out, std::int64_t cols_out,
                                const std::function<std::int64_t(std::int64_t)>& source_row) {
  std::vector<std::uint8_t> out(static_cast<std::size_t>(rows_out * cols_out), 0);
  for (std::int64_t n = 0; n < rows_out; ++n) {
    const std::int64_t s = source_row(n);
    if (s < 0) continue;
    for (std::int64_t c = 0; c < std::min(cols_out, r.cols); ++c) out[static_cast<std::size_t>(n * cols_out + c)] = r.at(s, c);
  }
  return out;
}

// Expected bytes of one (module, param, batch), computed once and checked in both pipelines.
struct Want {
  std::string module, param;
  std::int64_t batch;
  std::vector<std::uint8_t> bytes;
  std::string what;
};

// The raw tensors of one checkpoint, by on-disk prefix.
struct RawTensors {
  const Checkpoint& ck;
  const FormatNames& fn;
  float s2(const std::string& pre) const { return decode(ck, pre + "." + fn.weight_scale_2, fn.encode_scales); }
  Rows weight(const std::string& pre) const { return raw(ck, pre + "." + fn.weight); }
  Rows scale(const std::string& pre) const { return raw(ck, pre + "." + fn.weight_scale); }
};

// A linear module: its shards' weights stacked, their scales reconciled to the largest global
// scale, stacked and swizzled.
void linear_wants(const RawTensors& src, const LinearSpec& l, std::vector<Want>& wants) {
  float common = 0;
  for (const auto& pre : l.prefixes) common = std::max(common, src.s2(pre));
  std::vector<Rows> w, sc;
  for (const auto& pre : l.prefixes) {
    w.push_back(src.weight(pre));
    sc.push_back(reconciled(src.scale(pre), src.s2(pre), common));
  }
  const Rows W = stack(w), S = stack(sc);
  wants.push_back({l.name, "weight", 0, W.b, "the shards' raw weights stacked"});
  wants.push_back({l.name, "weight_scale_interleaved", 0, swizzled(S.rows, S.cols, [&](auto m, auto k) { return S.at(m, k); }),
                   "the swizzle formula on the reconciled raw scales"});
}

// One expert's raw weights and block scales by role, gate's and up's scales reconciled to the
// larger of their two global scales (they share the w13 slot).
struct ExpertRows {
  Rows gate, up, down, gs, us, ds;
};
ExpertRows expert_rows(const RawTensors& src, const RolePrefixes& pre) {
  const std::string &g = pre[ExpertRole::Gate], &u = pre[ExpertRole::Up], &d = pre[ExpertRole::Down];
  const float common = std::max(src.s2(g), src.s2(u));
  return {src.weight(g), src.weight(u), src.weight(d),
          reconciled(src.scale(g), src.s2(g), common), reconciled(src.scale(u), src.s2(u), common), src.scale(d)};
}

void cutlass_expert_wants(const ExpertsSpec& x, std::int64_t e, const ExpertRows& r, std::vector<Want>& wants) {
  const Rows w13 = stack({r.gate, r.up}), s13 = stack({r.gs, r.us});
  wants.push_back({x.name, "w13_weight", e, w13.b, "[gate; up] raw weights"});
  wants.push_back({x.name, "w2_weight", e, r.down.b, "the raw down weights"});
  wants.push_back({x.name, "w13_blockscale_swizzled", e, swizzled(s13.rows, s13.cols, [&](auto m, auto k) { return s13.at(m, k); }),
                   "the swizzle formula on reconciled [gate; up] scales"});
  wants.push_back({x.name, "w2_blockscale_swizzled", e, swizzled(r.ds.rows, r.ds.cols, [&](auto m, auto k) { return r.ds.at(m, k); }),
                   "the swizzle formula on the raw down scales"});
}

// trtllm: interleaved row 2j is up row j, 2j + 1 gate row j (rows >= I of a half are zero).
void trtllm_expert_wants(const ExpertsSpec& x, std::int64_t e, const ExpertRows& r, std::vector<Want>& wants) {
  const std::int64_t Ip = rup(x.I, 64);
  auto w13_source = [&](std::int64_t n, const Rows& u, const Rows& gt, std::int64_t col) -> std::uint8_t {
    const std::int64_t row = shuffled_source(n), j = row / 2;
    if (j >= x.I) return 0;
    return row % 2 == 0 ? u.at(j, col) : gt.at(j, col);
  };
  const std::int64_t rows13 = 2 * Ip;
  std::vector<std::uint8_t> w13(static_cast<std::size_t>(rows13 * r.gate.cols)), s13(static_cast<std::size_t>(rows13 * r.gs.cols));
  for (std::int64_t n = 0; n < rows13; ++n) {
    for (std::int64_t k = 0; k < r.gate.cols; ++k) w13[static_cast<std::size_t>(n * r.gate.cols + k)] = w13_source(n, r.up, r.gate, k);
    for (std::int64_t k = 0; k < r.gs.cols; ++k) s13[static_cast<std::size_t>(n * r.gs.cols + k)] = w13_source(n, r.us, r.gs, k);
  }
  wants.push_back({x.name, "w13_weight", e, w13, "interleave [up; gate], then the 32-row transpose"});
  wants.push_back({x.name, "w13_weight_scale", e,
                   swizzled(rows13, r.gs.cols, [&](auto m, auto k) { return s13[static_cast<std::size_t>(m * r.gs.cols + k)]; }),
                   "interleave, transpose, then swizzle on reconciled scales"});
  wants.push_back({x.name, "w2_weight", e, plain(r.down, x.H, Ip / 2, shuffled_source), "the 32-row transpose of raw down weights, K padded"});
  const auto s2b = plain(r.ds, x.H, Ip / 16, shuffled_source);
  wants.push_back({x.name, "w2_weight_scale", e, swizzled(x.H, Ip / 16, [&](auto m, auto k) { return s2b[static_cast<std::size_t>(m * (Ip / 16) + k)]; }),
                   "transpose, pad, then swizzle on raw down scales"});
}

std::vector<Want> expected_bytes(const RawTensors& src, const ModelSpec& spec, Backend backend) {
  std::vector<Want> wants;
  for (const auto& l : spec.linears) linear_wants(src, l, wants);
  for (const auto& x : spec.experts)
    for (std::int64_t e = 0; e < x.E; ++e) {
      const ExpertRows r = expert_rows(src, x.prefixes[static_cast<std::size_t>(e)]);
      if (backend == Backend::Cutlass) cutlass_expert_wants(x, e, r, wants);
      else trtllm_expert_wants(x, e, r, wants);
    }
  return wants;
}

RC_GTEST_PROP(LayoutBytesProps, EqualIndexFormulasOnTheRawTensors, ()) {
  PipelineCase c = *gen::pipeline_case();
  RC_TAG(format_name(c.ckpt.format), backend_name(c.backend));
  TempDir d;
  GeneratedCheckpoint g = generate_checkpoint(c.ckpt);
  write_checkpoint(d.path(), g, c.ckpt.files);
  aim_scales(g, map_modules(Checkpoint::open(d.path())));
  write_checkpoint(d.path(), g, c.ckpt.files);
  const Checkpoint ck = Checkpoint::open(d.path());
  const ModelSpec spec = map_modules(ck);
  ties_seen = 0;
  const std::vector<Want> wants = expected_bytes({ck, format_names(spec.format)}, spec, c.backend);
  RC_TAG(ties_seen > 0 ? "reconcile ties hit" : "no reconcile tie");
  for (const auto& name : pipeline_names()) {
    auto p = make_pipeline(name, c.backend);
    p->load_weights(ck);
    p->process_weights_after_loading(c.backend);
    for (const auto& w : wants) expect_bytes(*p, w.module, w.param, w.batch, w.bytes, w.what);
  }
}

}  // namespace
}  // namespace nvfp4

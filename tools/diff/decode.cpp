#include "tools/diff/decode.h"

#include <cstdio>
#include <cstring>

#include "core/codecs.h"
#include "generator/encoders.h"

namespace nvfp4::diff {

BlockMatch match_block(std::uint8_t ckpt, std::uint8_t eng, float own, float applied) {
  if (own == applied) return ckpt == eng ? BlockMatch::Same : BlockMatch::Differs;
  if (eng == f32_to_e4m3_satfinite(e4m3_to_f32(ckpt) * (own / applied))) return BlockMatch::Reconciled;
  return ckpt == eng ? BlockMatch::Raw : BlockMatch::Differs;
}

std::string scale_str(std::uint8_t b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", b);
  return f32_text(e4m3_to_f32(b)) + " (" + buf + ")";
}

std::string code_str(std::uint8_t c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%x", c);
  return std::string("code ") + buf + " (" + f32_text(e2m1_to_f32(c)) + ")";
}

std::int64_t swizzled_offset(std::int64_t m, std::int64_t k, std::int64_t Kp) {
  std::int64_t mT = m / 128, i = (m % 128) / 32, j = m % 32, kT = k / 4, kk = k % 4;
  return (((mT * (Kp / 4) + kT) * 32 + j) * 4 + i) * 4 + kk;
}

std::pair<std::int64_t, std::int64_t> unlocate_swizzled(std::int64_t o, std::int64_t /*Mp*/, std::int64_t Kp) {
  std::int64_t kk = o % 4, i = (o / 4) % 4, j = (o / 16) % 32, kT = (o / 512) % (Kp / 4), mT = o / 512 / (Kp / 4);
  return {128 * mT + 32 * i + j, 4 * kT + kk};
}

namespace {

// An index into an engine tensor of the projection: [x, a, b] or [a, b].
std::string index(const RowMap& m, std::int64_t x, std::int64_t a, std::int64_t b) { return m.per_expert ? at({x, a, b}) : at({a, b}); }

// The codes of logical row r of expert x, stored at row sr.
void compare_code_row(const Projection& p, std::int64_t x, std::int64_t r, std::int64_t sr, MismatchLog& log) {
  const std::int64_t K = p.rows.K, C = p.eng_weight.size(p.eng_weight.dim() - 1);
  const std::uint8_t* crow = p.ckpt_weight.data() + (x * p.rows.N + r) * (K / 2);
  const std::uint8_t* erow = p.eng_weight.data() + (x * p.R + sr) * C;
  if (std::memcmp(crow, erow, static_cast<std::size_t>(K / 2)) == 0) return;
  for (std::int64_t k = 0; k < K; ++k) {
    std::uint8_t a = (crow[k / 2] >> (4 * (k % 2))) & 0xF, g = (erow[k / 2] >> (4 * (k % 2))) & 0xF;
    if (a == g || log.counted(p.weight, Verdict::Semantic)) continue;
    const RowSource s = p.rows.source(x, r, false);
    log.add(p.weight, Verdict::Semantic, index(p.rows, x, sr, k / 2), s.tensor + " row " + std::to_string(s.row) + " k " + std::to_string(k), code_str(a),
            code_str(g));
  }
}

// The block scales of logical row r of expert x, stored at row sr; counts Raw blocks per group.
void match_block_row(const Projection& p, std::int64_t x, std::int64_t r, std::int64_t sr, std::vector<std::int64_t>& raw, MismatchLog& log) {
  const std::int64_t Kb = p.rows.K / 16;
  const std::size_t g = p.rows.source(x, r, true).group;
  const float own = p.own[g], applied = p.applied[g];
  for (std::int64_t kb = 0; kb < Kb; ++kb) {
    std::uint8_t cb = p.ckpt_scales.data()[(x * p.rows.N + r) * Kb + kb], eb = p.eng_scales.data()[(x * p.R + sr) * p.Kbs + kb];
    BlockMatch m = match_block(cb, eb, own, applied);
    if (m == BlockMatch::Same || m == BlockMatch::Reconciled) continue;
    if (m == BlockMatch::Raw) {
      ++raw[g];
      continue;
    }
    if (log.counted(p.scales, Verdict::Semantic)) continue;
    const RowSource s = p.rows.source(x, r, true);
    const std::int64_t o = swizzled_offset(sr, kb, p.Kbp);
    const std::string note = p.say_reconciled_onto && own != applied ? " (reconciled onto " + f32_text(applied) + ")" : "";
    log.add(p.scales, Verdict::Semantic, index(p.rows, x, o / p.Kbp, o % p.Kbp), s.tensor + " row " + std::to_string(s.row) + " k-block " + std::to_string(kb),
            scale_str(cb) + " x " + f32_text(own) + note, scale_str(eb) + " x " + f32_text(applied));
  }
}

}  // namespace

std::vector<std::int64_t> decode_rows(const Projection& p, bool codes, bool blocks, MismatchLog& log) {
  std::vector<std::int64_t> raw(p.own.size(), 0);
  for (std::int64_t x = 0; x < p.rows.experts; ++x)
    for (std::int64_t r = 0; r < p.rows.N; ++r) {
      const std::int64_t sr = p.rows.at(r);
      if (codes) compare_code_row(p, x, r, sr, log);
      if (blocks) match_block_row(p, x, r, sr, raw, log);
    }
  return raw;
}

void compare_bytes(const std::string& param, const Tensor& expect, const Tensor& got, bool scales,
                   const std::function<std::pair<std::string, std::string>(std::int64_t)>& where, MismatchLog& log) {
  auto text = [&](std::uint8_t b) { return scales ? scale_str(b) : "byte " + std::to_string(b); };
  for (std::int64_t i = 0; i < expect.numel(); ++i) {
    if (expect.data()[i] == got.data()[i] || log.counted(param, Verdict::Layout)) continue;
    auto [idx, source] = where(i);
    log.add(param, Verdict::Layout, idx, source, text(expect.data()[i]), text(got.data()[i]));
  }
}

}  // namespace nvfp4::diff

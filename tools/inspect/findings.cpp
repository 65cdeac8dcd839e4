#include "tools/inspect/findings.h"

#include "core/printable.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "core/codecs.h"

namespace nvfp4 {

std::string Finding::line() const {
  std::string s = level == Level::Fail ? "FAIL " : "note ";
  if (!file.empty()) s += printable_short(file, 240) + ": ";  // one printable line, as Error does
  if (!tensor.empty()) s += printable_short(tensor, 200) + ": ";
  return s + printable_short(what, 600);
}

bool is_kv_scale(const std::string& name) { return name.ends_with(".k_scale") || name.ends_with(".v_scale"); }

float read_decode_scale(const Checkpoint& c, const std::string& name, bool encode) {
  float v = c.tensor(name).get_f32(0);
  return encode ? 1.0f / v : v;
}

namespace {

void check_block_scales(const Checkpoint& c, const std::string& name, std::vector<Finding>& out) {
  Tensor s = c.tensor(name);
  std::int64_t nan = 0, neg = 0, first = -1;
  for (std::int64_t i = 0; i < s.numel(); ++i) {
    std::uint8_t b = s.data()[i];
    if (e4m3_is_nan(b)) { ++nan; if (first < 0) first = i; }
    else if ((b & 0x80) && b != 0x80) { ++neg; if (first < 0) first = i; }
  }
  std::int64_t cols = s.shape()[1];
  if (nan)
    out.push_back({Finding::Level::Fail, c.file_of(name), name,
                   std::to_string(nan) + " NaN block scale(s), first at [" + std::to_string(first / cols) + ", " +
                       std::to_string(first % cols) + "]"});
  if (neg)
    out.push_back({Finding::Level::Fail, c.file_of(name), name, std::to_string(neg) + " negative block scale(s)"});
}

// Over every block of one weight: which E4M3 byte the producer wrote for all-zero blocks
// (docs/formats.md#zero-block-scales), and blocks whose data is dead or suspicious.
struct BlockScan {
  std::map<int, std::int64_t> zero_block_codes;
  std::int64_t blocks = 0, saturated = 0, subnormal = 0;
};

void scan_blocks(const Checkpoint& c, const std::string& wname, const std::string& sname, BlockScan& scan, std::vector<Finding>& out) {
  Tensor w = c.tensor(wname), s = c.tensor(sname);
  std::int64_t N = w.shape()[0], kb = s.shape()[1];
  std::int64_t zero_scales = 0, dead = 0, first_dead = -1;
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t b = 0; b < kb; ++b) {
      const std::uint8_t* p = w.data() + n * w.shape()[1] + 8 * b;
      bool zero = true;
      for (int i = 0; i < 8; ++i) zero &= (p[i] & 0x77) == 0;  // +0 or -0 codes
      const std::uint8_t sb = s.data()[n * kb + b];
      if (zero) ++scan.zero_block_codes[sb];
      if ((sb & 0x7F) == 0) {
        ++zero_scales;
        if (!zero && dead++ == 0) first_dead = n * kb + b;
      }
      scan.saturated += (sb & 0x7F) == 0x7E;                    // 448, E4M3's largest finite value
      scan.subnormal += (sb & 0x78) == 0 && (sb & 0x07) != 0;   // exponent field 0: below 2^-6
    }
  scan.blocks += N * kb;
  // A weight whose block scales are all zero dequantizes to exactly 0: the module outputs nothing,
  // and every comparison between pipelines would still pass.
  if (N * kb > 0 && zero_scales == N * kb)
    out.push_back({Finding::Level::Fail, c.file_of(sname), sname,
                   "every block scale is zero: the weight dequantizes to exactly 0 (a dead module)"});
  else if (dead)
    out.push_back({Finding::Level::Fail, c.file_of(sname), sname,
                   std::to_string(dead) + " block(s) with a zero scale but nonzero codes (their data dequantizes to 0), first at [" +
                       std::to_string(first_dead / kb) + ", " + std::to_string(first_dead % kb) + "]"});
}

// FP8 KV-cache scales (`*.k_scale`, `*.v_scale`, ModelOpt's kv_cache quantization): not weights
// of either pipeline, but a NaN or non-positive one breaks attention just as surely.
void check_kv_scales(const Checkpoint& c, std::vector<Finding>& out) {
  std::int64_t k = 0, v = 0;
  float lo = INFINITY, hi = -INFINITY;
  for (const auto& name : c.tensor_names()) {
    if (!is_kv_scale(name)) continue;
    const TensorInfo& t = c.info(name);
    if (shape_numel(t.shape) != 1 || (t.dtype != DType::F32 && t.dtype != DType::BF16 && t.dtype != DType::F16)) {
      out.push_back({Finding::Level::Fail, c.file_of(name), name,
                     "a KV-cache scale must be one F32, BF16 or F16 value, not " + std::string(dtype_name(t.dtype)) + shape_str(t.shape)});
      continue;
    }
    const float x = c.tensor(name).get_f32(0);
    if (!std::isfinite(x) || x <= 0) {
      out.push_back({Finding::Level::Fail, c.file_of(name), name, "KV-cache scale " + f32_text(x) + " is not a positive finite value"});
      continue;
    }
    (name.ends_with(".k_scale") ? k : v) += 1;
    lo = std::min(lo, x), hi = std::max(hi, x);
  }
  if (k + v)
    out.push_back({Finding::Level::Info, "", "",
                   "KV-cache scales: " + std::to_string(k) + " k_scale, " + std::to_string(v) + " v_scale, from " + f32_text(lo) + " to " + f32_text(hi) +
                       " (FP8 KV cache; recognised and checked, not used by the weight pipelines)"});
}

void check_global(const Checkpoint& c, const std::string& name, bool encode, std::vector<Finding>& out) {
  float v = c.tensor(name).get_f32(0);
  std::string what;
  if (std::isnan(v)) what = "NaN global scale";
  else if (std::isinf(v)) what = "infinite global scale";
  else if (v == 0) what = "zero global scale";
  else if (v < 0) what = "negative global scale " + f32_text(v);
  else if (encode && std::isinf(1.0f / v)) what = "encode scale " + f32_text(v) + " has no finite reciprocal";
  if (!what.empty()) out.push_back({Finding::Level::Fail, c.file_of(name), name, what});
}

}  // namespace

constexpr const char* kReconciled = "block scales are reconciled onto the max when processed";
constexpr const char* kMaxInput = "activations are quantized with the max";

std::vector<Finding> check_values(const Checkpoint& c, const ModelSpec& spec) {
  std::vector<Finding> out;
  const FormatNames& fn = format_names(spec.format);
  BlockScan scan;
  auto prefix_checks = [&](const std::string& p, bool has_in) {
    check_block_scales(c, p + "." + fn.weight_scale, out);
    scan_blocks(c, p + "." + fn.weight, p + "." + fn.weight_scale, scan, out);
    check_global(c, p + "." + fn.weight_scale_2, fn.encode_scales, out);
    if (has_in) check_global(c, p + "." + fn.input_scale, fn.encode_scales, out);
    c.release({p + "." + fn.weight, p + "." + fn.weight_scale});  // bounded RSS on checkpoints larger than memory
  };
  auto differ = [&](const std::string& module, const std::vector<std::string>& prefixes,
                    const std::vector<std::string>& labels, const std::string& suffix, const char* consequence) {
    std::vector<float> v;
    for (const auto& p : prefixes) v.push_back(read_decode_scale(c, p + "." + suffix, fn.encode_scales));
    bool same = true;
    for (float x : v) same &= x == v[0];
    if (same) return;
    std::string s = "shards' " + suffix + " differ:";
    for (std::size_t i = 0; i < v.size(); ++i) s += " " + labels[i] + "=" + f32_text(v[i]);
    out.push_back({Finding::Level::Info, "", module, s + " (" + consequence + ")"});
  };
  for (const auto& l : spec.linears) {
    for (const auto& p : l.prefixes) prefix_checks(p, l.has_input_scale);
    if (l.prefixes.size() > 1) {
      differ(l.name, l.prefixes, l.shard_ids, fn.weight_scale_2, kReconciled);
      if (l.has_input_scale) differ(l.name, l.prefixes, l.shard_ids, fn.input_scale, kMaxInput);
    }
  }
  for (const auto& x : spec.experts)
    for (std::int64_t e = 0; e < x.E; ++e) {
      const auto& ps = x.prefixes[static_cast<std::size_t>(e)];
      for (const auto& p : ps) prefix_checks(p, x.has_input_scale);
      differ(x.name + "." + std::to_string(e), {ps[ExpertRole::Gate], ps[ExpertRole::Up]},
             {std::string(role_names(ExpertRole::Gate).shard_id), std::string(role_names(ExpertRole::Up).shard_id)}, fn.weight_scale_2,
             kReconciled);
    }
  check_kv_scales(c, out);
  if (scan.blocks)
    out.push_back({Finding::Level::Info, "", "",
                   "block scales: " + std::to_string(scan.blocks) + ", " + std::to_string(scan.saturated) +
                       " at the E4M3 maximum 448 (the block holding each weight's amax is expected there), " + std::to_string(scan.subnormal) +
                       " subnormal (below 2^-6, 1 to 3 significant bits)"});
  if (!scan.zero_block_codes.empty()) {
    std::string s = "all-zero blocks use scale byte(s):";
    for (auto [code, n] : scan.zero_block_codes) {
      char b[48];
      std::snprintf(b, sizeof b, " 0x%02X (%s) x%lld", code, f32_text(e4m3_to_f32(static_cast<std::uint8_t>(code))).c_str(),
                    static_cast<long long>(n));
      s += b;
    }
    out.push_back({Finding::Level::Info, "", "", s});
  }
  return out;
}

}  // namespace nvfp4

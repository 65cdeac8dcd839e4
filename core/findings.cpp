#include "core/findings.h"

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

float read_decode_scale(const Checkpoint& c, const std::string& name, bool encode) {
  float v = c.tensor(name).get_f32(0);
  return encode ? 1.0f / v : v;
}

namespace {

std::string fmt(float v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.9g", static_cast<double>(v));
  return b;
}

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

// Which E4M3 byte the producer wrote for all-zero blocks (NVFP4-SPEC §2.5).
void count_zero_block_codes(const Checkpoint& c, const std::string& wname, const std::string& sname,
                            std::map<int, std::int64_t>& codes) {
  Tensor w = c.tensor(wname), s = c.tensor(sname);
  std::int64_t N = w.shape()[0], kb = s.shape()[1];
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t b = 0; b < kb; ++b) {
      const std::uint8_t* p = w.data() + n * w.shape()[1] + 8 * b;
      bool zero = true;
      for (int i = 0; i < 8; ++i) zero &= (p[i] & 0x77) == 0;  // +0 or -0 codes
      if (zero) ++codes[s.data()[n * kb + b]];
    }
}

void check_global(const Checkpoint& c, const std::string& name, bool encode, std::vector<Finding>& out) {
  float v = c.tensor(name).get_f32(0);
  std::string what;
  if (std::isnan(v)) what = "NaN global scale";
  else if (std::isinf(v)) what = "infinite global scale";
  else if (v == 0) what = "zero global scale";
  else if (v < 0) what = "negative global scale " + fmt(v);
  else if (encode && std::isinf(1.0f / v)) what = "encode scale " + fmt(v) + " has no finite reciprocal";
  if (!what.empty()) out.push_back({Finding::Level::Fail, c.file_of(name), name, what});
}

}  // namespace

constexpr const char* kReconciled = "block scales are reconciled onto the max when processed";
constexpr const char* kMaxInput = "activations are quantized with the max";

std::vector<Finding> check_values(const Checkpoint& c, const ModelSpec& spec) {
  std::vector<Finding> out;
  const FormatNames& fn = format_names(spec.format);
  std::map<int, std::int64_t> zero_codes;
  auto prefix_checks = [&](const std::string& p, bool has_in) {
    check_block_scales(c, p + "." + fn.weight_scale, out);
    count_zero_block_codes(c, p + "." + fn.weight, p + "." + fn.weight_scale, zero_codes);
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
    for (std::size_t i = 0; i < v.size(); ++i) s += " " + labels[i] + "=" + fmt(v[i]);
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
      differ(x.name + "." + std::to_string(e), {ps[0], ps[1]}, {"w1", "w3"}, fn.weight_scale_2, kReconciled);
    }
  if (!zero_codes.empty()) {
    std::string s = "all-zero blocks use scale byte(s):";
    for (auto [code, n] : zero_codes) {
      char b[48];
      std::snprintf(b, sizeof b, " 0x%02X (%s) x%lld", code, fmt(e4m3_to_f32(static_cast<std::uint8_t>(code))).c_str(),
                    static_cast<long long>(n));
      s += b;
    }
    out.push_back({Finding::Level::Info, "", "", s});
  }
  return out;
}

}  // namespace nvfp4

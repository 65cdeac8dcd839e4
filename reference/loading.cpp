#include "reference/loading.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "reference/numerics.h"

namespace nvfp4::ref {

void Coverage::mark(const std::string& param, std::int64_t first, std::int64_t count) {
  auto& v = counts_.at(param);
  for (std::int64_t i = first; i < first + count; ++i) ++v.at(static_cast<std::size_t>(i));
}

void Coverage::verify(const std::string& module) const {
  for (const auto& [param, v] : counts_)
    for (std::size_t i = 0; i < v.size(); ++i)
      if (v[i] != 1)
        bad_input("", module + "." + param, (v[i] == 0 ? "slot/row " + std::to_string(i) + " was never loaded"
                                                         : "slot/row " + std::to_string(i) + " was loaded " +
                                                               std::to_string(v[i]) + " times") +
                                                " (each must be written exactly once per load)");
}

float load_decode_scale(const Checkpoint& c, const std::string& name, bool encode) {
  Tensor t = c.tensor(name);
  float v = real_value(t.data(), t.dtype() == DType::BF16 ? Real::BF16 : Real::F32);
  std::string what;
  if (std::isnan(v)) what = "NaN global scale";
  else if (std::isinf(v)) what = "infinite global scale";
  else if (v <= 0) what = "global scale " + std::to_string(v) + " is not positive";
  if (!what.empty()) bad_input(c.file_of(name), name, what);
  float d = encode ? 1.0f / v : v;
  if (!std::isfinite(d) || d <= 0) bad_input(c.file_of(name), name, "encode scale has no finite positive reciprocal");
  return d;
}

Tensor load_block_scales(const Checkpoint& c, const std::string& name) {
  Tensor t = c.tensor(name);
  std::int64_t cols = t.size(1);
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    std::uint8_t b = t.data()[i];
    if ((b & 0x7F) == 0x7F)
      bad_input(c.file_of(name), name, "NaN block scale at [" + std::to_string(i / cols) + ", " + std::to_string(i % cols) + "]");
    if ((b & 0x80) && b != 0x80)
      bad_input(c.file_of(name), name, "negative block scale at [" + std::to_string(i / cols) + ", " + std::to_string(i % cols) + "]");
  }
  return t;
}

void copy_rows(Tensor& dst, std::int64_t expert, std::int64_t row, const Tensor& src, const std::string& what) {
  std::int64_t cols = dst.size(-1), rows = dst.size(-2);
  if (src.dim() != 2 || src.size(1) != cols || row + src.size(0) > rows)
    bad_input("", what, "shape " + shape_str(src.shape()) + " does not fit rows [" + std::to_string(row) + ", ...) of " +
                            shape_str(dst.shape()));
  std::size_t off = static_cast<std::size_t>(((expert < 0 ? 0 : expert) * rows + row) * cols);
  std::memcpy(dst.data() + off, src.data(), src.nbytes());
}

void set_f32(Tensor& t, std::int64_t index, float v) { std::memcpy(t.data() + 4 * index, &v, 4); }
float get_f32(const Tensor& t, std::int64_t index) { return real_value(t.data() + 4 * index, Real::F32); }

float max_of(const Tensor& t) {
  float m = get_f32(t, 0);
  for (std::int64_t i = 1; i < t.numel(); ++i) m = std::max(m, get_f32(t, i));
  return m;
}

}  // namespace nvfp4::ref

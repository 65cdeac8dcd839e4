#include "optimized/param_binding.h"

#include <cstring>
#include <vector>

#include "optimized/mutants.h"

namespace nvfp4::opt {

bool broadcastable(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  for (std::size_t i = 1; i <= from.size(); ++i) {
    std::int64_t f = from[from.size() - i], t = to[to.size() - i];
    if (f != t && f != 1) return false;
  }
  return true;
}

bool aliases_source(const Tensor& source, DType value_dtype, const Shape& value_shape) {
  if constexpr (mutant(4)) return source.dtype() == value_dtype;  // mutant 4: no broadcast/shape check
  return source.dtype() == value_dtype && broadcastable(value_shape, source.shape());
}

void broadcast_in_place(Tensor& t, const Shape& from) {
  if (!broadcastable(from, t.shape()) || dtype_bits(t.dtype()) % 8)
    throw std::invalid_argument("broadcast_in_place: " + shape_str(from) + " does not broadcast to " + describe(t));
  const Shape& to = t.shape();
  const std::size_t rank = to.size(), es = static_cast<std::size_t>(dtype_bits(t.dtype()) / 8);
  // Strides of the value in element units, 0 along the dimensions it is broadcast over.
  std::vector<std::int64_t> stride(rank, 0);
  std::int64_t s = 1;
  for (std::size_t i = rank; i-- > 0;) {
    std::size_t j = i + from.size() >= rank ? i + from.size() - rank : SIZE_MAX;
    std::int64_t f = j == SIZE_MAX ? 1 : from[j];
    stride[i] = f == 1 ? 0 : s;
    s *= f;
  }
  // Every destination element i reads value element v(i) <= i, so walking i downwards never reads
  // a place already overwritten.
  std::uint8_t* p = t.data();
  for (std::int64_t i = t.numel(); i-- > 0;) {
    std::int64_t rem = i, v = 0;
    for (std::size_t d = rank; d-- > 0;) {
      v += (rem % to[d]) * stride[d];
      rem /= to[d];
    }
    if (v != i) std::memcpy(p + static_cast<std::size_t>(i) * es, p + static_cast<std::size_t>(v) * es, es);
  }
}

}  // namespace nvfp4::opt

#include "reference/exact_sum.h"

#include <cmath>

namespace nvfp4::ref {

SplitValue split(double v) {
  if (v == 0) return {};
  int e;
  const double f = std::frexp(v, &e);  // v = f * 2^e, 0.5 <= |f| < 1
  std::int64_t m = static_cast<std::int64_t>(std::ldexp(f, 53));
  e -= 53;
  const int tz = __builtin_ctzll(static_cast<std::uint64_t>(m < 0 ? -m : m));
  return {m / (std::int64_t{1} << tz), e + tz};
}

boost::multiprecision::cpp_int ExactSum::value() const {
  boost::multiprecision::cpp_int v = 0;
  for (int j = kDigits - 1; j >= 0; --j) {
    v <<= 32;
    v += d_[static_cast<std::size_t>(j)];
  }
  return v;
}

}  // namespace nvfp4::ref

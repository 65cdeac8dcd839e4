#include "reference/swizzle.h"

#include <stdexcept>

namespace nvfp4::ref {

std::int64_t round_up(std::int64_t x, std::int64_t m) { return (x + m - 1) / m * m; }

namespace {

// Visits every (b, m, k) of the padded tensor in swizzled order; pos is the running output index.
template <class F>
void for_each_swizzled(std::int64_t B, std::int64_t Mp, std::int64_t Kp, F f) {
  std::int64_t pos = 0;
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t mT = 0; mT < Mp / 128; ++mT)
      for (std::int64_t kT = 0; kT < Kp / 4; ++kT)
        for (std::int64_t j = 0; j < 32; ++j)
          for (std::int64_t i = 0; i < 4; ++i)
            for (std::int64_t kk = 0; kk < 4; ++kk) f(pos++, b, 128 * mT + 32 * i + j, 4 * kT + kk);
}

}  // namespace

Tensor swizzle_128x4(const Tensor& in) {
  if (in.dim() != 2 && in.dim() != 3) throw std::invalid_argument("swizzle_128x4 needs [M, K] or [B, M, K]");
  if (dtype_bits(in.dtype()) != 8) throw std::invalid_argument("swizzle_128x4 needs 1-byte elements");
  std::int64_t B = in.dim() == 3 ? in.size(0) : 1, M = in.size(-2), K = in.size(-1);
  std::int64_t Mp = round_up(M, 128), Kp = round_up(K, 4);
  Shape s = in.dim() == 3 ? Shape{B, Mp, Kp} : Shape{Mp, Kp};
  Tensor out = Tensor::empty(in.dtype(), s);
  const std::uint8_t* src = in.data();
  std::uint8_t* dst = out.data();
  for_each_swizzled(B, Mp, Kp, [&](std::int64_t pos, std::int64_t b, std::int64_t m, std::int64_t k) {
    dst[pos] = (m < M && k < K) ? src[(b * M + m) * K + k] : 0;
  });
  return out;
}

Tensor unswizzle_128x4(const Tensor& in, std::int64_t M, std::int64_t K) {
  std::int64_t B = in.dim() == 3 ? in.size(0) : 1, Mp = in.size(-2), Kp = in.size(-1);
  if (Mp != round_up(M, 128) || Kp != round_up(K, 4)) throw std::invalid_argument("unswizzle_128x4: shape mismatch");
  Tensor out = Tensor::empty(in.dtype(), in.dim() == 3 ? Shape{B, M, K} : Shape{M, K});
  const std::uint8_t* src = in.data();
  std::uint8_t* dst = out.data();
  for_each_swizzled(B, Mp, Kp, [&](std::int64_t pos, std::int64_t b, std::int64_t m, std::int64_t k) {
    if (m < M && k < K) dst[(b * M + m) * K + k] = src[pos];
  });
  return out;
}

}  // namespace nvfp4::ref

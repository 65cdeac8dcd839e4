#include "reference/numerics.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace nvfp4::ref {

float e2m1_value(std::uint8_t code) {
  static const float mag[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  float v = mag[code & 7];
  return (code & 8) ? -v : v;
}

std::uint8_t e2m1_quantize(float x) {
  if (std::isnan(x)) return 0x7;
  float a = std::fabs(x);
  std::uint8_t m;
  // Inclusive bounds round down to the even code (0, 1.0, 2.0, 4.0), exclusive ones up.
  if (a <= 0.25f) m = 0;
  else if (a < 0.75f) m = 1;
  else if (a <= 1.25f) m = 2;
  else if (a < 1.75f) m = 3;
  else if (a <= 2.5f) m = 4;
  else if (a < 3.5f) m = 5;
  else if (a <= 5.0f) m = 6;
  else m = 7;
  return static_cast<std::uint8_t>(m | (std::signbit(x) ? 8 : 0));
}

float e4m3_value(std::uint8_t b) {
  int e = (b >> 3) & 15, m = b & 7;
  if (e == 15 && m == 7) return std::numeric_limits<float>::quiet_NaN();
  double v = e == 0 ? std::ldexp(m, -9) : std::ldexp(8 + m, e - 10);
  return static_cast<float>((b & 0x80) ? -v : v);
}

std::uint8_t e4m3_satfinite(float x) {
  if (std::isnan(x)) return 0x7F;
  std::uint8_t sign = std::signbit(x) ? 0x80 : 0x00;
  double a = std::fabs(static_cast<double>(x));
  if (a > 464.0) return sign | 0x7E;  // past the 448/480 midpoint: saturate (464 itself ties to 448)
  // Grid spacing at a: 2^(floor(log2 a) - 3) for normals, 2^-9 below 2^-6.
  int exp = a >= 0.015625 ? std::ilogb(a) : -6;
  double ulp = std::ldexp(1.0, exp - 3);
  double v = std::nearbyint(a / ulp) * ulp;  // default rounding mode: to nearest, ties to even
  if (v == 0) return sign;
  if (v < 0.015625) return sign | static_cast<std::uint8_t>(v / std::ldexp(1.0, -9));
  int e = std::ilogb(v);
  int man = static_cast<int>(v / std::ldexp(1.0, e - 3)) - 8;
  return sign | static_cast<std::uint8_t>(((e + 7) << 3) | man);
}

float real_value(const std::uint8_t* p, Real t) {
  if (t == Real::F32) {
    float v;
    std::memcpy(&v, p, 4);
    return v;
  }
  std::uint16_t h;
  std::memcpy(&h, p, 2);
  if (t == Real::BF16) {
    std::uint32_t b = static_cast<std::uint32_t>(h) << 16;
    float v;
    std::memcpy(&v, &b, 4);
    return v;
  }
  int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  double v;
  if (e == 31) v = m ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  else if (e == 0) v = std::ldexp(m, -24);
  else v = std::ldexp(1024 + m, e - 25);
  return static_cast<float>(s ? -v : v);
}

void real_store(double v, std::uint8_t* p, Real t) {
  if (t == Real::F32) {
    float f = static_cast<float>(v);
    std::memcpy(p, &f, 4);
    return;
  }
  if (t == Real::BF16) {
    float f = static_cast<float>(v);
    std::uint32_t b;
    std::memcpy(&b, &f, 4);
    if ((b & 0xFFFF) != 0 && !std::isnan(f)) throw std::logic_error("value not representable in BF16");
    std::uint16_t h = static_cast<std::uint16_t>(b >> 16);
    std::memcpy(p, &h, 2);
    return;
  }
  std::uint16_t h = std::signbit(v) ? 0x8000 : 0;
  double a = std::fabs(v);
  if (std::isinf(a)) h |= 0x7C00;
  else if (a >= std::ldexp(1.0, -14)) {
    int e = std::ilogb(a);
    h |= static_cast<std::uint16_t>(((e + 15) << 10) | (static_cast<int>(a / std::ldexp(1.0, e - 10)) - 1024));
  } else {
    h |= static_cast<std::uint16_t>(a / std::ldexp(1.0, -24));
  }
  std::memcpy(p, &h, 2);
}

}  // namespace nvfp4::ref

// Exhaustive sweeps of float encoders over all 2^32 bit patterns, against an independent
// definition: "the nearest value of the format, ties to the even code". The expected code comes
// from the format's value table alone: adjacent values' midpoints (exact in float) cut the positive
// floats, ordered by bit pattern, into segments of one code each. Within a segment the check is a
// branch-free loop the compiler vectorizes, so a whole sweep takes seconds. Used for the
// generator's file encoders and for the optimized pipeline's own encoders.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <thread>
#include <vector>

#include "core/codecs.h"

namespace nvfp4::sweep {

struct Format {
  std::vector<double> value;    // code -> non-negative value, increasing
  double past_max;              // the next grid point above the max (decides the overflow midpoint)
  std::uint16_t overflow_code;  // what finite values past that midpoint become
  std::uint16_t inf_code, nan_code, sign_bit;
  bool check_nan = true;        // false: NaN inputs are checked elsewhere (payload-keeping formats)
};

struct Segment { std::uint32_t first; std::uint16_t pos, neg; };

// Segments of positive bit patterns [first, next.first) with one expected code (and its negative).
inline std::vector<Segment> segments(const Format& f) {
  std::vector<Segment> s{{0, 0, f.sign_bit}};
  s.reserve(f.value.size() + 4);
  const std::size_t n = f.value.size();
  for (std::size_t c = 0; c < n; ++c) {
    double hi = c + 1 < n ? f.value[c + 1] : f.past_max;
    double mid = (f.value[c] + hi) / 2;
    float fm = static_cast<float>(mid);
    EXPECT_EQ(static_cast<double>(fm), mid) << "midpoint not exact";
    bool tie_goes_up = (c + 1) % 2 == 0;  // ties go to the even code
    std::uint32_t first = f32_bits(fm) + (tie_goes_up ? 0 : 1);
    std::uint16_t code = c + 1 < n ? static_cast<std::uint16_t>(c + 1) : f.overflow_code;
    s.push_back({first, code, static_cast<std::uint16_t>(code | f.sign_bit)});
  }
  s.push_back({0x7F800000u, f.inf_code, static_cast<std::uint16_t>(f.inf_code | f.sign_bit)});
  if (f.check_nan) s.push_back({0x7F800001u, f.nan_code, f.nan_code});  // NaN: one code whatever the sign
  s.push_back({f.check_nan ? 0x80000000u : 0x7F800001u, 0, 0});          // end
  return s;
}

// The hot loop, cloned for AVX2 where the CPU has it (dispatched at load time). GCC only: clang 14
// does not multiversion templates, and the sanitizer builds that use it need no speed.
#if defined(__GNUC__) && !defined(__clang__)
#define NVFP4_AVX2_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define NVFP4_AVX2_CLONES
#endif
template <class Enc>
NVFP4_AVX2_CLONES inline std::uint32_t check_range(
    std::uint32_t lo, std::uint32_t hi, std::uint16_t pos, std::uint16_t neg, Enc enc) {
  std::uint32_t acc = 0;
  for (std::uint32_t b = lo; b < hi; ++b)
    acc |= static_cast<std::uint32_t>(enc(f32_from_bits(b)) ^ pos) |
           static_cast<std::uint32_t>(enc(f32_from_bits(b | 0x80000000u)) ^ neg);
  return acc;
}

template <class Enc>
inline void sweep(const Format& f, Enc enc) {
  std::vector<Segment> seg = segments(f);
  // Split segments into pieces of at most 2^24 patterns and share them out to threads.
  struct Piece { std::uint32_t lo, hi; std::uint16_t pos, neg; };
  std::vector<Piece> pieces;
  for (std::size_t i = 0; i + 1 < seg.size(); ++i)
    for (std::uint64_t lo = seg[i].first; lo < seg[i + 1].first; lo += 1u << 24)
      pieces.push_back({static_cast<std::uint32_t>(lo),
                        static_cast<std::uint32_t>(std::min<std::uint64_t>(lo + (1u << 24), seg[i + 1].first)),
                        seg[i].pos, seg[i].neg});
  std::vector<std::uint32_t> first_bad(pieces.size(), 0);
  std::vector<bool> bad(pieces.size(), false);
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (std::size_t p = t; p < pieces.size(); p += threads) {
        const Piece pc = pieces[p];
        if (check_range(pc.lo, pc.hi, pc.pos, pc.neg, enc) == 0) continue;
        bad[p] = true;
        for (std::uint32_t b = pc.lo; b < pc.hi; ++b)
          if (enc(f32_from_bits(b)) != pc.pos || enc(f32_from_bits(b | 0x80000000u)) != pc.neg) {
            first_bad[p] = b;
            break;
          }
      }
    });
  for (auto& th : pool) th.join();
  for (std::size_t p = 0; p < pieces.size(); ++p)
    if (bad[p]) {
      float x = f32_from_bits(first_bad[p]);
      ADD_FAILURE() << "first mismatch at bits 0x" << std::hex << first_bad[p] << " (" << x << "): expected 0x"
                    << int(pieces[p].pos) << " / negative 0x" << int(pieces[p].neg) << ", encoder gave 0x"
                    << int(enc(x)) << " / 0x" << int(enc(-x));
      return;
    }
}

inline Format e4m3_format(bool satfinite) {
  Format f;
  // Values from the format definition (not from the decoder under a different test).
  for (int c = 0; c <= 0x7E; ++c) {
    int e = c >> 3, m = c & 7;
    f.value.push_back(e == 0 ? std::ldexp(m / 8.0, -6) : std::ldexp(1.0 + m / 8.0, e - 7));
  }
  // Past 448 the next grid point would be 480, the NaN pattern 0x7F: the midpoint 464 ties to
  // 448 (even); beyond it satfinite keeps 448 and torch/ml_dtypes give NaN, keeping the sign.
  f.past_max = 480.0;
  f.overflow_code = satfinite ? 0x7E : 0x7F;
  f.inf_code = satfinite ? 0x7E : 0x7F;
  f.nan_code = 0x7F;
  f.sign_bit = 0x80;
  return f;
}

inline Format e2m1_format() {
  Format f;
  f.value = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
  f.past_max = 8.0;  // the top binade's next grid point; everything past 5 saturates anyway
  f.overflow_code = 7;
  f.inf_code = 7;
  f.nan_code = 7;    // CUDA's choice for NaN
  f.sign_bit = 0x8;
  return f;
}

// IEEE binary16: overflow past the midpoint of 65504 and 2^16 goes to Inf. NaN keeps a payload, so
// it is checked by the caller.
inline Format f16_format() {
  Format f;
  for (int c = 0; c < 0x7C00; ++c) {
    int e = c >> 10, m = c & 1023;
    f.value.push_back(e == 0 ? std::ldexp(m, -24) : std::ldexp(1024 + m, e - 25));
  }
  f.past_max = 65536.0;
  f.overflow_code = f.inf_code = 0x7C00;
  f.sign_bit = 0x8000;
  f.check_nan = false;
  return f;
}

// bfloat16: f32's exponent range with 7 mantissa bits.
inline Format bf16_format() {
  Format f;
  for (std::uint32_t c = 0; c < 0x7F80; ++c) f.value.push_back(f32_from_bits(c << 16));
  f.past_max = std::ldexp(1.0, 128);
  f.overflow_code = f.inf_code = 0x7F80;
  f.sign_bit = 0x8000;
  f.check_nan = false;
  return f;
}

}  // namespace nvfp4::sweep

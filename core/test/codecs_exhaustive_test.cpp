// Every one of the 2^32 float bit patterns through the E4M3 (both overflow variants) and E2M1
// encoders, checked against an independent definition: "the nearest value of the format, ties
// to the even code". The expected code is derived from the format's value table alone: adjacent
// values' midpoints (exact in float: they have at most 5 significant bits) cut the positive
// floats, ordered by bit pattern, into segments of one code each. Within a segment the check is
// a branch-free loop the compiler vectorizes, so the whole sweep takes seconds.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <thread>
#include <vector>

#include "core/codecs.h"

namespace nvfp4 {
namespace {

struct Format {
  std::vector<double> value;   // code -> non-negative value, increasing
  double past_max;             // the next grid point above the max (decides the overflow midpoint)
  std::uint8_t overflow_code;  // what finite values past that midpoint become
  std::uint8_t inf_code, nan_code, sign_bit;
};

struct Segment { std::uint32_t first; std::uint8_t pos, neg; };

// Segments of positive bit patterns [first, next.first) with one expected code (and its negative).
std::vector<Segment> segments(const Format& f) {
  std::vector<Segment> s{{0, 0, f.sign_bit}};
  const std::size_t n = f.value.size();
  for (std::size_t c = 0; c < n; ++c) {
    double hi = c + 1 < n ? f.value[c + 1] : f.past_max;
    double mid = (f.value[c] + hi) / 2;
    float fm = static_cast<float>(mid);
    EXPECT_EQ(static_cast<double>(fm), mid) << "midpoint not exact";
    bool tie_goes_up = (c + 1) % 2 == 0;  // ties go to the even code
    std::uint32_t first = f32_bits(fm) + (tie_goes_up ? 0 : 1);
    std::uint8_t code = c + 1 < n ? static_cast<std::uint8_t>(c + 1) : f.overflow_code;
    s.push_back({first, code, static_cast<std::uint8_t>(code | f.sign_bit)});
  }
  s.push_back({0x7F800000u, f.inf_code, static_cast<std::uint8_t>(f.inf_code | f.sign_bit)});
  s.push_back({0x7F800001u, f.nan_code, f.nan_code});  // NaN: one code whatever the sign
  s.push_back({0x80000000u, 0, 0});                     // end
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
NVFP4_AVX2_CLONES std::uint32_t check_range(
    std::uint32_t lo, std::uint32_t hi, std::uint8_t pos, std::uint8_t neg, Enc enc) {
  std::uint32_t acc = 0;
  for (std::uint32_t b = lo; b < hi; ++b)
    acc |= static_cast<std::uint32_t>(enc(f32_from_bits(b)) ^ pos) |
           static_cast<std::uint32_t>(enc(f32_from_bits(b | 0x80000000u)) ^ neg);
  return acc;
}

template <class Enc>
void sweep(const Format& f, Enc enc) {
  std::vector<Segment> seg = segments(f);
  // Split segments into pieces of at most 2^24 patterns and share them out to threads.
  struct Piece { std::uint32_t lo, hi; std::uint8_t pos, neg; };
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

Format e4m3(bool satfinite) {
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

struct Sat { std::uint8_t operator()(float x) const { return f32_to_e4m3_satfinite(x); } };
struct NoSat { std::uint8_t operator()(float x) const { return f32_to_e4m3_nan_overflow(x); } };
struct E2M1 { std::uint8_t operator()(float x) const { return f32_to_e2m1(x); } };

TEST(ExhaustiveE4M3, SatfiniteMatchesNearestEvenOnAll2p32Floats) { sweep(e4m3(true), Sat{}); }

TEST(ExhaustiveE4M3, NanOnOverflowMatchesNearestEvenOnAll2p32Floats) {
  sweep(e4m3(false), NoSat{});
}

TEST(ExhaustiveE2M1, MatchesNearestEvenOnAll2p32Floats) {
  Format f;
  f.value = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
  f.past_max = 8.0;  // the top binade's next grid point; everything past 5 saturates anyway
  f.overflow_code = 7;
  f.inf_code = 7;
  f.nan_code = 7;    // CUDA's choice for NaN
  f.sign_bit = 0x8;
  sweep(f, E2M1{});
}

}  // namespace
}  // namespace nvfp4

// Every one of the 2^32 float bit patterns through core's E4M3 (satfinite and NaN-on-overflow) and
// E2M1 encoders, against "nearest value, ties to even" derived from the value table
// (core/test/nearest_even_sweep.h).
#include <gtest/gtest.h>

#include "core/codecs.h"
#include "core/test/nearest_even_sweep.h"

namespace nvfp4 {
namespace {

struct Sat { std::uint8_t operator()(float x) const { return f32_to_e4m3_satfinite(x); } };
struct NoSat { std::uint8_t operator()(float x) const { return f32_to_e4m3_nan_overflow(x); } };
struct E2M1 { std::uint8_t operator()(float x) const { return f32_to_e2m1(x); } };

TEST(ExhaustiveE4M3, SatfiniteMatchesNearestEvenOnAll2p32Floats) { sweep::sweep(sweep::e4m3_format(true), Sat{}); }

TEST(ExhaustiveE4M3, NanOnOverflowMatchesNearestEvenOnAll2p32Floats) { sweep::sweep(sweep::e4m3_format(false), NoSat{}); }

TEST(ExhaustiveE2M1, MatchesNearestEvenOnAll2p32Floats) { sweep::sweep(sweep::e2m1_format(), E2M1{}); }

}  // namespace
}  // namespace nvfp4

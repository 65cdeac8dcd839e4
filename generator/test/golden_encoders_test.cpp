// The generator's encoders against ml_dtypes and numpy on millions of random and edge floats
// (tools/golden/codecs_golden.py). NaN inputs are excluded there: their codes are a per-library
// choice that the hand-worked tests (encoders_test.cpp) pin instead.
#include <gtest/gtest.h>

#include <cmath>

#include "core/safetensors.h"
#include "core/test/golden_dir.h"
#include "generator/encoders.h"

namespace nvfp4 {
namespace {

// Opened inside each test body, so a missing data set fails the test instead of skipping it.
class GoldenEncoders : public ::testing::Test {
 protected:
  static Tensor t(const char* name) {
    static const SafetensorsFile f = SafetensorsFile::open(golden_dir() / "codecs.safetensors");
    return f.tensor(name);
  }
};

template <class T, class F>
void compare(const Tensor& x, const Tensor& want, F ours, const char* what) {
  ASSERT_EQ(x.numel(), want.numel());
  const auto* bits = x.data_as<std::uint32_t>();
  const auto* w = want.data_as<T>();
  std::int64_t bad = 0;
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    T got = ours(f32_from_bits(bits[i]));
    if (got != w[i] && bad++ < 5)
      ADD_FAILURE() << what << ": x = " << f32_from_bits(bits[i]) << " (bits 0x" << std::hex << bits[i]
                    << "): ml_dtypes 0x" << +w[i] << ", ours 0x" << +got;
  }
  EXPECT_EQ(bad, 0) << what << ": mismatches out of " << x.numel();
  EXPECT_GT(x.numel(), 4'000'000) << "too few golden values to mean anything";
}

TEST_F(GoldenEncoders, E4M3NanOnOverflowMatchesMlDtypes) {
  compare<std::uint8_t>(t("x"), t("e4m3_nosat"), f32_to_e4m3_nan_overflow, "e4m3 (NaN on overflow)");
}
TEST_F(GoldenEncoders, E4M3SatfiniteMatchesClipThenCast) {
  compare<std::uint8_t>(t("x"), t("e4m3_sat"), f32_to_e4m3_satfinite, "e4m3 satfinite");
}
TEST_F(GoldenEncoders, E2M1MatchesMlDtypes) { compare<std::uint8_t>(t("x"), t("e2m1"), f32_to_e2m1, "e2m1"); }
TEST_F(GoldenEncoders, BF16MatchesMlDtypes) { compare<std::uint16_t>(t("x"), t("bf16"), f32_to_bf16, "bf16"); }
TEST_F(GoldenEncoders, F16MatchesNumpy) { compare<std::uint16_t>(t("x"), t("f16"), f32_to_f16, "f16"); }

}  // namespace
}  // namespace nvfp4

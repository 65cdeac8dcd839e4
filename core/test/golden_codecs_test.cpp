// Core codecs against ml_dtypes and numpy on millions of random and edge floats
// (tools/golden/codecs_golden.py). NaN inputs are excluded there: their codes are a
// per-library choice (docs/formats.md#nan-and-infinity) that the hand-worked tests pin instead.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/codecs.h"
#include "core/safetensors.h"
#include "core/test/golden_dir.h"

namespace nvfp4 {
namespace {

// Opened inside each test body, so a missing data set fails the test instead of skipping it.
class GoldenCodecs : public ::testing::Test {
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

TEST_F(GoldenCodecs, E4M3NanOnOverflowMatchesMlDtypes) {
  compare<std::uint8_t>(t("x"), t("e4m3_nosat"), f32_to_e4m3_nan_overflow, "e4m3 (NaN on overflow)");
}
TEST_F(GoldenCodecs, E4M3SatfiniteMatchesClipThenCast) {
  compare<std::uint8_t>(t("x"), t("e4m3_sat"), f32_to_e4m3_satfinite, "e4m3 satfinite");
}
TEST_F(GoldenCodecs, E2M1MatchesMlDtypes) { compare<std::uint8_t>(t("x"), t("e2m1"), f32_to_e2m1, "e2m1"); }
TEST_F(GoldenCodecs, BF16MatchesMlDtypes) { compare<std::uint16_t>(t("x"), t("bf16"), f32_to_bf16, "bf16"); }
TEST_F(GoldenCodecs, F16MatchesNumpy) { compare<std::uint16_t>(t("x"), t("f16"), f32_to_f16, "f16"); }

TEST_F(GoldenCodecs, DecodersMatchOnEveryCode) {
  auto check = [](const Tensor& want, auto decode, int n, const char* what) {
    ASSERT_EQ(want.numel(), n);
    for (int c = 0; c < n; ++c) {
      float w = want.data_as<float>()[c], g = decode(c);
      if (std::isnan(w)) EXPECT_TRUE(std::isnan(g)) << what << " code " << c;
      else EXPECT_EQ(f32_bits(g), f32_bits(w)) << what << " code " << c << ": " << g << " vs " << w;
    }
  };
  check(t("e4m3_decode"), [](int c) { return e4m3_to_f32(static_cast<std::uint8_t>(c)); }, 256, "e4m3");
  check(t("e2m1_decode"), [](int c) { return e2m1_to_f32(static_cast<std::uint8_t>(c)); }, 16, "e2m1");
  check(t("bf16_decode"), [](int c) { return bf16_to_f32(static_cast<std::uint16_t>(c)); }, 65536, "bf16");
  check(t("f16_decode"), [](int c) { return f16_to_f32(static_cast<std::uint16_t>(c)); }, 65536, "f16");
}

}  // namespace
}  // namespace nvfp4

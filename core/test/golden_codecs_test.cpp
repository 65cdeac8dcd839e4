// Core's decoders against ml_dtypes and numpy on every code (tools/golden/codecs_golden.py); the
// generator's encoders on millions of floats: generator/test/golden_encoders_test.cpp.
#include <gtest/gtest.h>

#include <cmath>

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

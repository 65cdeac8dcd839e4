// opt::gemm_into, the GEMM into a caller's output (optimized/gemm.h): on every dispatch path and
// both modes it fills an output of NaN bytes, F32 with the bytes opt::gemm returns, BF16 with
// those values rounded to nearest even (rounded here, not by the code under test), allocates nothing through the tracking allocator (a counted quantity,
// exact), and refuses an output of the wrong shape or dtype with a message naming both. (Its
// results against the exact oracle, class by class: kernel_classes_test.cpp, which runs it on 2
// threads.) The M values reach the rows kernel, the w4a4 panels / AMX tiles and a partial tile.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/allocator.h"
#include "optimized/gemm.h"
#include "optimized/kernels/dispatch.h"
#include "optimized/kernels/tiles.h"
#include "optimized/layout_maps.h"
#include "properties/kernel_weights.h"

namespace nvfp4 {
namespace {

namespace tiles = opt::tiles;

// The BF16 of x's F32 values, truncated (any BF16 bits are valid inputs), and those values back as
// F32 (exact): the same activations in both dtypes.
Tensor as_bf16(const Tensor& x) {
  Tensor b = Tensor::empty(DType::BF16, x.shape());
  const auto* f = x.data_as<std::uint32_t>();
  auto* h = b.data_as<std::uint16_t>();
  for (std::int64_t i = 0; i < x.numel(); ++i) h[i] = static_cast<std::uint16_t>(f[i] >> 16);
  return b;
}
Tensor as_f32(const Tensor& b) {
  Tensor x = Tensor::empty(DType::F32, b.shape());
  for (std::int64_t i = 0; i < b.numel(); ++i) x.data_as<std::uint32_t>()[i] = std::uint32_t{b.data_as<std::uint16_t>()[i]} << 16;
  return x;
}
// f32 -> BF16, round to nearest even (no NaN here), written out rather than taken from the code under test.
std::uint16_t rne_bf16(float v) {
  std::uint32_t u;
  std::memcpy(&u, &v, 4);
  return static_cast<std::uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

// The first element where got differs from want, "" if none.
std::string first_difference(const Tensor& got, const std::vector<std::uint16_t>& want) {
  for (std::size_t i = 0; i < want.size(); ++i)
    if (got.data_as<std::uint16_t>()[i] != want[i])
      return "element " + std::to_string(i) + ": got BF16 bits " + std::to_string(got.data_as<std::uint16_t>()[i]) + ", want " + std::to_string(want[i]);
  return "";
}

TEST(GemmInto, WritesEveryElementOnEveryPathAndAllocatesNothing) {
  opt::LayoutCache cache;
  const std::int64_t N = tiles::kPanelRows + tiles::kPanelGroupRows + 5, K = 17 * tiles::kBlockK;
  const kernel_test::Weight wt = kernel_test::make_weight(N, K, 11, cache);
  for (std::int64_t M : {std::int64_t{1}, tiles::kAmxMinRows + 1, 2 * std::int64_t{tiles::kAmxTileM} + 8}) {
    const Tensor xb = as_bf16(kernel_test::activations(M, K, static_cast<std::uint64_t>(M)));
    const Tensor xf = as_f32(xb);
    for (opt::Isa isa : opt::available_isas())
      for (GemmMode mode : {GemmMode::W4A16, GemmMode::W4A4}) {
        opt::ScopedIsa forced(isa);
        const std::string where = std::string(opt::isa_name(isa)) + " " + gemm_mode_name(mode) + " M=" + std::to_string(M);
        const Tensor want = opt::gemm(xf, wt.w, mode);  // also warms the per-thread scratch
        (void)opt::gemm(xb, wt.w, mode);
        Tensor yf = Tensor::empty(DType::F32, {M, N}), yb = Tensor::empty(DType::BF16, {M, N});
        std::memset(yf.data(), 0xFF, yf.nbytes());
        std::memset(yb.data(), 0xFF, yb.nbytes());
        AllocScope scope;
        opt::gemm_into(xf, wt.w, mode, yf);
        opt::gemm_into(xb, wt.w, mode, yb);
        EXPECT_EQ(scope.stats().alloc_count, 0) << where;
        // F32: the bytes opt::gemm returns, and no element left as the NaN bytes (kernel_classes_test
        // holds the values to the exact oracle). BF16: the same values (the F32 x is the BF16 x
        // exactly), each rounded to nearest even.
        EXPECT_EQ(std::memcmp(yf.data(), want.data(), want.nbytes()), 0) << where << " F32: not the bytes opt::gemm returns";
        std::vector<std::uint16_t> rounded(static_cast<std::size_t>(M * N));
        for (std::size_t i = 0; i < rounded.size(); ++i) {
          ASSERT_FALSE(std::isnan(want.data_as<float>()[i])) << where << " F32: element " << i << " unwritten";
          rounded[i] = rne_bf16(want.data_as<float>()[i]);
        }
        EXPECT_EQ(first_difference(yb, rounded), "") << where << " BF16";
      }
  }
}

TEST(GemmInto, RefusesAnOutputOfTheWrongShapeOrDtype) {
  opt::LayoutCache cache;
  const kernel_test::Weight wt = kernel_test::make_weight(40, 64, 5, cache);
  const Tensor x = kernel_test::activations(3, 64, 9);
  struct Bad {
    DType d;
    Shape s;
    const char* got;
  };
  for (const Bad& b : {Bad{DType::F32, {3, 41}, "F32 [3, 41]"}, Bad{DType::F32, {4, 40}, "F32 [4, 40]"}, Bad{DType::F32, {120}, "F32 [120]"},
                       Bad{DType::BF16, {3, 40}, "BF16 [3, 40]"}}) {
    Tensor y = Tensor::empty(b.d, b.s);
    try {
      opt::gemm_into(x, wt.w, GemmMode::W4A4, y);
      ADD_FAILURE() << "an output of " << b.got << " was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_EQ(std::string(e.what()), std::string("gemm: the output must be F32 [3, 40], got ") + b.got);
    }
  }
}

}  // namespace
}  // namespace nvfp4

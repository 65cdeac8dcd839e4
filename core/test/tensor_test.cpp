#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <thread>

#include "core/allocator.h"
#include "core/module.h"
#include "core/tensor.h"

namespace nvfp4 {
namespace {

TEST(Allocator, CountsLiveBytesPeakAndAllocations) {
  auto& a = TrackingAllocator::global();
  a.reset();
  AllocStats s0 = a.stats();
  {
    Tensor t = Tensor::empty(DType::F32, {10, 3});  // 120 bytes
    Tensor u = Tensor::empty(DType::U8, {7});       // 7 bytes
    AllocStats s = a.stats();
    EXPECT_EQ(s.live_bytes - s0.live_bytes, 127);
    EXPECT_EQ(s.alloc_count, 2);
    EXPECT_EQ(s.alloc_bytes, 127);
    EXPECT_EQ(s.peak_bytes - s0.live_bytes, 127);
  }
  AllocStats s1 = a.stats();
  EXPECT_EQ(s1.live_bytes, s0.live_bytes);
  EXPECT_EQ(s1.peak_bytes - s0.live_bytes, 127);  // the peak remembers
  a.reset();
  EXPECT_EQ(a.stats().peak_bytes, a.stats().live_bytes);
  EXPECT_EQ(a.stats().alloc_count, 0);
}

// Counted from zero before any reset(): a reader that never resets (a fresh allocator, the global
// one at start) sees exactly what was allocated.
TEST(Allocator, AFreshAllocatorCountsFromZero) {
  TrackingAllocator a;
  EXPECT_EQ(a.stats().alloc_count, 0);
  EXPECT_EQ(a.stats().alloc_bytes, 0);
  EXPECT_EQ(a.stats().live_bytes, 0);
  void* p = a.allocate(64);
  EXPECT_EQ(a.stats().alloc_count, 1);
  EXPECT_EQ(a.stats().alloc_bytes, 64);
  EXPECT_EQ(a.stats().live_bytes, 64);
  EXPECT_EQ(a.stats().peak_bytes, 64);
  a.deallocate(p, 64);
  EXPECT_EQ(a.stats().live_bytes, 0);
  EXPECT_EQ(a.stats().alloc_count, 1);
}

TEST(Allocator, ScopesCountOnlyTheirOwnThread) {
  // Two threads allocate at once, each in its own scope: each scope sees exactly its own bytes
  // (100 and 1000), whatever the other thread does; the inner scope shadows the outer one.
  std::int64_t got[2] = {0, 0}, peak[2] = {0, 0};
  auto work = [&](int i, std::int64_t n) {
    AllocScope sc;
    for (int r = 0; r < 200; ++r) {
      Tensor t = Tensor::empty(DType::U8, {n});
      got[i] += sc.stats().live_bytes;
    }
    peak[i] = sc.stats().peak_bytes;
    got[i] = got[i] / 200 + 1000000 * sc.stats().alloc_count + sc.stats().live_bytes;
  };
  std::thread a(work, 0, 100), b(work, 1, 1000);
  a.join();
  b.join();
  EXPECT_EQ(got[0], 100 + 200 * 1000000);
  EXPECT_EQ(got[1], 1000 + 200 * 1000000);
  EXPECT_EQ(peak[0], 100);
  EXPECT_EQ(peak[1], 1000);
  AllocScope outer;
  {
    AllocScope inner;
    Tensor t = Tensor::empty(DType::U8, {5});
    EXPECT_EQ(inner.stats().alloc_bytes, 5);
  }
  EXPECT_EQ(outer.stats().alloc_bytes, 0);
}

TEST(Allocator, PoisonMakesUninitializedFloatsNaN) {
  ScopedPoison on(true);
  Tensor t = Tensor::empty(DType::F32, {4});
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(std::isnan(t.get_f32(i)));
  Tensor s = Tensor::empty(DType::F8_E4M3, {2});
  EXPECT_TRUE(std::isnan(s.get_f32(1)));
  Tensor z = Tensor::zeros(DType::F32, {4});
  EXPECT_EQ(z.get_f32(3), 0.0f);
}

TEST(Tensor, SubByteSizesAndViews) {
  EXPECT_EQ(dtype_nbytes(DType::F4, 6), 3u);
  Tensor t = Tensor::zeros(DType::U8, {4, 8});
  Tensor v = t.view(DType::F8_E4M3, {32});
  EXPECT_EQ(v.address(), t.address());
  EXPECT_THROW(t.view(DType::F32, {9}), std::invalid_argument);
  Tensor r = t.narrow0(1, 2);
  EXPECT_EQ(r.shape(), (Shape{2, 8}));
  EXPECT_EQ(static_cast<const std::uint8_t*>(r.address()) - static_cast<const std::uint8_t*>(t.address()), 8);
  EXPECT_THROW(t.narrow0(3, 2), std::out_of_range);
  Tensor c = t.clone();
  EXPECT_NE(c.address(), t.address());
  EXPECT_TRUE(c.bitwise_equal(t));
  c.data()[0] = 1;
  EXPECT_FALSE(c.bitwise_equal(t));
}

TEST(Module, AliasesShareOneParameter) {
  Module m;
  m.add("weight_scale", Tensor::zeros(DType::F8_E4M3, {128, 4}));
  m.alias("weight_scale_interleaved", "weight_scale");
  EXPECT_EQ(m.param("weight_scale"), m.param("weight_scale_interleaved"));
  EXPECT_EQ(m.alias_of("weight_scale_interleaved"), "weight_scale");
  EXPECT_EQ(m.alias_of("weight_scale"), "");
  EXPECT_THROW(m.add("weight_scale", Tensor::zeros(DType::U8, {1})), std::logic_error);
  EXPECT_THROW(m.param("missing"), std::out_of_range);
  EXPECT_EQ(m.names(), (std::vector<std::string>{"weight_scale", "weight_scale_interleaved"}));
}

}  // namespace
}  // namespace nvfp4

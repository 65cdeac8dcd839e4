// The AVX-512 E2M1 encoder of the w4a4 activation quantizer against the scalar one
// (optimized/codecs.h, itself swept against the value table) on all 2^32 floats, 16 at a time,
// split over the cores. Skipped on CPUs without AVX-512.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "optimized/codecs.h"
#include "optimized/kernels/avx512_quantize.h"
#include "optimized/kernels/dispatch.h"

namespace nvfp4::opt {
namespace {

TEST(Avx512Exhaustive, E2M1OfSixteenEqualsTheScalarEncoderOnAll2p32Floats) {
  const auto& isas = available_isas();
  if (std::find(isas.begin(), isas.end(), Isa::Avx512) == isas.end()) GTEST_SKIP() << "no AVX-512 on this CPU";
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::atomic<std::uint64_t> bad{0}, first_bad{~std::uint64_t{0}};
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      alignas(64) std::uint32_t bits[16];
      alignas(16) std::uint8_t got[16], want[16];
      const std::uint64_t per = (std::uint64_t{1} << 32) / threads;
      for (std::uint64_t base = t * per; base < (t + 1 == threads ? std::uint64_t{1} << 32 : (t + 1) * per); base += 16) {
        for (int i = 0; i < 16; ++i) bits[i] = static_cast<std::uint32_t>(base + static_cast<std::uint64_t>(i));
        _mm_store_si128(reinterpret_cast<__m128i*>(got), avx512::e2m1_16(_mm512_castsi512_ps(_mm512_load_si512(bits))));
        for (int i = 0; i < 16; ++i) want[i] = e2m1(float_of(bits[i]));
        for (int i = 0; i < 16; ++i)
          if (got[i] != want[i]) {
            ++bad;
            std::uint64_t f = first_bad.load();
            while (bits[i] < f && !first_bad.compare_exchange_weak(f, bits[i])) {}
          }
      }
    });
  for (auto& th : pool) th.join();
  EXPECT_EQ(bad.load(), 0u) << "first at bits 0x" << std::hex << first_bad.load();
}

}  // namespace
}  // namespace nvfp4::opt

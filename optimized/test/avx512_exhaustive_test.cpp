// The AVX-512 E2M1 and E4M3 encoders of the w4a4 activation quantizer against the scalar ones
// (optimized/codecs.h, themselves swept against the value tables) on all 2^32 floats, 16 at a time,
// split over the cores. Skipped on CPUs without AVX-512.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <utility>
#include <vector>

#include "optimized/codecs.h"
#include "optimized/kernels/avx512_quantize.h"
#include "optimized/kernels/dispatch.h"

namespace nvfp4::opt {
namespace {

// Every f32 bit pattern, 16 at a time, split over the cores: got(bits) fills 16 codes, want(f)
// gives one. Returns the failing count and the first failing pattern.
template <class Got, class Want>
std::pair<std::uint64_t, std::uint64_t> sweep(Got got_of, Want want_of) {
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::atomic<std::uint64_t> bad{0}, first_bad{~std::uint64_t{0}};
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      alignas(64) std::uint32_t bits[16];
      alignas(16) std::uint8_t got[16];
      const std::uint64_t per = (std::uint64_t{1} << 32) / threads;
      for (std::uint64_t base = t * per; base < (t + 1 == threads ? std::uint64_t{1} << 32 : (t + 1) * per); base += 16) {
        for (int i = 0; i < 16; ++i) bits[i] = static_cast<std::uint32_t>(base + static_cast<std::uint64_t>(i));
        got_of(_mm512_castsi512_ps(_mm512_load_si512(bits)), got);
        for (int i = 0; i < 16; ++i)
          if (got[i] != want_of(float_of(bits[i]))) {
            ++bad;
            std::uint64_t f = first_bad.load();
            while (bits[i] < f && !first_bad.compare_exchange_weak(f, bits[i])) {}
          }
      }
    });
  for (auto& th : pool) th.join();
  return {bad.load(), first_bad.load()};
}

bool have_avx512() {
  const auto& isas = available_isas();
  return std::find(isas.begin(), isas.end(), Isa::Avx512) != isas.end();
}

TEST(Avx512Exhaustive, E2M1OfSixteenEqualsTheScalarEncoderOnAll2p32Floats) {
  if (!have_avx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  const auto [bad, first] = sweep([](__m512 x, std::uint8_t* got) { _mm_store_si128(reinterpret_cast<__m128i*>(got), avx512::e2m1_16(x)); },
                                  [](float f) { return e2m1(f); });
  EXPECT_EQ(bad, 0u) << "first at bits 0x" << std::hex << first;
}

// The block scales' encoder of the vectorized activation quantizer, the same way.
TEST(Avx512Exhaustive, E4M3OfSixteenEqualsTheScalarEncoderOnAll2p32Floats) {
  if (!have_avx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  const auto [bad, first] = sweep([](__m512 x, std::uint8_t* got) { _mm_store_si128(reinterpret_cast<__m128i*>(got), _mm512_cvtepi32_epi8(avx512::e4m3_16(x))); },
                                  [](float f) { return e4m3_satfinite(f); });
  EXPECT_EQ(bad, 0u) << "first at bits 0x" << std::hex << first;
}

}  // namespace
}  // namespace nvfp4::opt

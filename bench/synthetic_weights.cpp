#include "bench/synthetic_weights.h"

#include "core/codecs.h"
#include "generator/rng.h"

namespace nvfp4::bench {

std::unique_ptr<SyntheticWeights> make_weights(opt::LayoutCache& cache, std::int64_t N, std::int64_t K, std::uint64_t seed) {
  auto s = std::make_unique<SyntheticWeights>();
  s->N = N;
  s->K = K;
  s->swizzle = cache.swizzle(N, K / 16);
  s->packed.resize(static_cast<std::size_t>(N * K / 2));
  s->scales.assign(static_cast<std::size_t>(s->swizzle->batch_bytes()), 0);
  Rng r(seed);
  for (std::size_t i = 0; i < s->packed.size(); i += 8) {
    const std::uint64_t v = r.next();
    for (std::size_t j = 0; j < 8 && i + j < s->packed.size(); ++j) s->packed[i + j] = static_cast<std::uint8_t>(v >> (8 * j));
  }
  // Block scales spread over a few binades (0x28 .. 0x47: 0.25 .. 3.75), as real ones are.
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t b = 0; b < K / 16; ++b)
      s->scales[static_cast<std::size_t>(s->swizzle->rows()[n] + s->swizzle->cols()[b])] = static_cast<std::uint8_t>(0x28 + r.next() % 32);
  opt::GemmWeights& w = s->w;
  w.packed = s->packed.data();
  w.rows = w.N = N;
  w.row_bytes = K / 2;
  w.K = K;
  w.scales = s->scales.data();
  w.swizzle = s->swizzle.get();
  w.global_scale = 1.0f / 1024;
  w.alpha = 1.0f / 4096;
  w.input_gs = 64.0f;
  return s;
}

std::vector<float> dequantized(const SyntheticWeights& s) {
  std::vector<float> f(static_cast<std::size_t>(s.N * s.K));
  for (std::int64_t n = 0; n < s.N; ++n)
    for (std::int64_t k = 0; k < s.K; ++k) {
      const std::uint8_t code = (s.packed[static_cast<std::size_t>(n * s.K / 2 + k / 2)] >> (4 * (k % 2))) & 0xF;
      const float S = e4m3_to_f32(s.scales[static_cast<std::size_t>(s.swizzle->rows()[n] + s.swizzle->cols()[k / 16])]);
      f[static_cast<std::size_t>(n * s.K + k)] = e2m1_to_f32(code) * S * s.w.global_scale;
    }
  return f;
}

std::vector<std::int8_t> doubled_codes(const SyntheticWeights& s) {
  std::vector<std::int8_t> q(static_cast<std::size_t>(s.N * s.K));
  for (std::int64_t i = 0; i < s.N * s.K; ++i)
    q[static_cast<std::size_t>(i)] = static_cast<std::int8_t>(2.0f * e2m1_to_f32((s.packed[static_cast<std::size_t>(i / 2)] >> (4 * (i % 2))) & 0xF));
  return q;
}

}  // namespace nvfp4::bench

// Certified oracle sums (checks/certified_product.h) against the exact oracle they stand in for.
// From the input: a mode; a weight of N = 1..6 rows and K = 16..128 (codes, and E4M3 scale bytes,
// NaN bytes rarely); the w4a16 global scale and the w4a4 scalars; F32 activations [M = 1..5, K]
// drawn to meet f32 rounding boundaries and cancellation: raw bits, small integers times powers of
// two from 2^-40 to 2^40, and the negation of an earlier element of the row. On every lane path the
// CPU has, and Auto: the same refusal with the same message as ref::gemm_exact, or its f32 bits on
// every element and a magnitude sum no smaller than its and at most 5 (K/16 + 7) 2^-53 looser.
// max_len 2 KiB.
#include <bit>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "checks/certified_product.h"
#include "core/error.h"
#include "fuzz/byte_reader.h"
#include "fuzz/fuzz_check.h"
#include "reference/gemm.h"

namespace {

using namespace nvfp4;

// A positive scalar: mostly a small integer times a power of two, sometimes raw bits (0, NaN, Inf,
// negative, subnormal: whatever both must handle alike).
float scalar(fuzz::ByteReader& in) {
  if (in.in(0, 7) == 0) return in.f32_bits();
  return std::ldexp(static_cast<float>(in.in(1, 15)), static_cast<int>(in.in(-12, 12)));
}

struct Outcome {
  std::optional<std::string> error;
  Tensor y;
  std::vector<double> mag;
};

template <class F>
Outcome run(F&& f) {
  Outcome o;
  try {
    f(o);
  } catch (const Error& e) {
    o.error = e.what();
  }
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > (2u << 10)) return 0;
  fuzz::ByteReader in(data, size);
  const GemmMode mode = in.flag() ? GemmMode::W4A4 : GemmMode::W4A16;
  ref::LogicalWeight w;
  w.N = in.in(1, 6);
  w.K = 16 * in.in(1, 8);
  const std::int64_t M = in.in(1, 5);
  for (std::int64_t i = 0; i < w.N * w.K / 16; ++i) {
    std::uint8_t b = in.byte();
    if ((b & 0x7F) == 0x7F && !in.flag()) b = 0x38;  // NaN scales stay rare
    w.scales.push_back(b);
  }
  for (std::int64_t i = 0; i < w.N * w.K; i += 2) {
    const std::uint8_t b = in.byte();
    w.codes.push_back(b & 0xF);
    w.codes.push_back(b >> 4);
  }
  w.global_scale = scalar(in);  // non-finite: refused by both
  // alpha and the w4a4 input scale stay finite: the oracle's domain (a pipeline derives them from
  // finite checkpoint scales, and refuses the rest on load).
  float alpha = scalar(in), gs = scalar(in);
  if (!std::isfinite(alpha)) alpha = 1.0f;
  if (!std::isfinite(gs)) gs = 1.0f;
  const ref::GemmScalars sc{alpha, gs};
  Tensor x = Tensor::empty(DType::F32, {M, w.K});
  float* v = x.data_as<float>();
  for (std::int64_t m = 0; m < M; ++m)
    for (std::int64_t k = 0; k < w.K; ++k) {
      const int how = static_cast<int>(in.in(0, 7));
      float f;
      if (how == 0) {
        f = in.f32_bits();
        if (!std::isfinite(f) && !in.flag()) f = 1.0f;  // non-finite values stay rare
      } else if (how == 1 && k > 0) {
        f = -v[m * w.K + in.in(0, k - 1)];  // cancels an earlier element (on equal weights)
      } else {
        f = std::ldexp(static_cast<float>(in.in(-64, 64)), static_cast<int>(in.in(-40, 40)));
      }
      v[m * w.K + k] = f;
    }

  const Outcome exact = run([&](Outcome& o) { o.y = ref::gemm_exact(x, w, mode, sc, &o.mag); });
  const double loose = 1 + 5.0 * static_cast<double>(w.K / 16 + 7) * std::ldexp(1.0, -53);
  for (checks::LanePath p : {checks::LanePath::Auto, checks::LanePath::Portable, checks::LanePath::Avx2, checks::LanePath::Avx512}) {
    if (!checks::lane_path_available(p)) continue;
    const Outcome c = run([&](Outcome& o) {
      checks::CertifiedProduct r = checks::certified_gemm(x, w, mode, sc, p);
      o.y = std::move(r.y);
      o.mag = std::move(r.mag);
    });
    FUZZ_CHECK(c.error == exact.error, "lane path %d: refusal \"%s\" where the oracle's is \"%s\"", static_cast<int>(p),
               c.error.value_or("(none)").c_str(), exact.error.value_or("(none)").c_str());
    if (exact.error) continue;
    for (std::int64_t i = 0; i < exact.y.numel(); ++i) {
      const float e = exact.y.data_as<float>()[i], g = c.y.data_as<float>()[i];
      FUZZ_CHECK(std::bit_cast<std::uint32_t>(e) == std::bit_cast<std::uint32_t>(g), "lane path %d, element %lld: certified %a, exact %a",
                 static_cast<int>(p), static_cast<long long>(i), static_cast<double>(g), static_cast<double>(e));
      const double me = exact.mag[static_cast<std::size_t>(i)], mc = c.mag[static_cast<std::size_t>(i)];
      // The oracle's is the true sum rounded to nearest, one step up; ours an upper bound.
      FUZZ_CHECK(mc >= me * (1 - std::ldexp(1.0, -52)), "lane path %d, element %lld: magnitude %a below the oracle's %a", static_cast<int>(p),
                 static_cast<long long>(i), mc, me);
      FUZZ_CHECK(!(mc > me * loose * (1 + std::ldexp(1.0, -50)) + 0x1p-1000), "lane path %d, element %lld: magnitude %a too far above the oracle's %a",
                 static_cast<int>(p), static_cast<long long>(i), mc, me);
    }
  }
  return 0;
}

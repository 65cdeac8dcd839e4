// Random quantized weights and activations for the kernel tests (kernel_classes_test.cpp,
// amx_kernel_test.cpp): a weight in both forms, logical for the exact oracle and stored (packed
// rows, scales swizzled by the reference's own swizzle, the optimized index map to read them) for
// the kernels; optionally with its stored rows shuffled and padded as trtllm's are, each stored row
// naming the output column it stands for (GemmWeights::out_col, -1 for padding).
#pragma once
#include <algorithm>
#include <cstring>
#include <memory>
#include <numeric>
#include <vector>

#include "generator/rng.h"
#include "optimized/gemm.h"
#include "optimized/layout_maps.h"
#include "reference/gemm.h"
#include "reference/swizzle.h"

namespace nvfp4::kernel_test {

struct Weight {
  ref::LogicalWeight lw;
  ref::GemmScalars s;
  std::vector<std::uint8_t> packed;
  std::vector<std::int64_t> out_col;  // empty: stored row n is output column n
  Tensor swizzled;
  std::shared_ptr<const opt::SwizzleMap> map;
  opt::GemmWeights w;
};

// Stored row -> output column for N columns stored in a random order among pad padding rows (-1).
inline std::vector<std::int64_t> shuffled_columns(std::int64_t N, std::int64_t pad, Rng& g) {
  std::vector<std::int64_t> c(static_cast<std::size_t>(N + pad), -1);
  std::iota(c.begin(), c.begin() + N, std::int64_t{0});
  for (std::int64_t i = N + pad - 1; i > 0; --i) std::swap(c[static_cast<std::size_t>(i)], c[g.next() % static_cast<std::uint64_t>(i + 1)]);
  return c;
}

// Scales stay within a few binades and some are 0, so that a block the kernel drops or misplaces
// moves the result far past the bound. pad >= 0: the N rows stored in a random order among `pad`
// padding rows of random codes and scales (out_col -1), which must not reach the output. columns
// (non-empty): stored row -> output column as given instead (-1 padding; pad unused).
inline Weight make_weight(std::int64_t N, std::int64_t K, std::uint64_t seed, opt::LayoutCache& cache, std::int64_t pad = -1,
                          std::vector<std::int64_t> columns = {}) {
  Weight r;
  Rng g(seed);
  r.lw.N = N;
  r.lw.K = K;
  r.lw.codes.resize(static_cast<std::size_t>(N * K));
  r.lw.scales.resize(static_cast<std::size_t>(N * K / 16));
  auto scale = [&] {
    const std::uint64_t v = g.next();
    return v % 16 == 0 ? std::uint8_t{0} : static_cast<std::uint8_t>(0x28 + (v >> 8) % 0x28);  // 0, or 2^-2 .. 2^3 (E4M3 0x28 .. 0x4F)
  };
  for (auto& c : r.lw.codes) c = static_cast<std::uint8_t>(g.next() & 15);
  for (auto& s : r.lw.scales) s = scale();
  r.lw.global_scale = 1.5f;
  r.s.alpha = 0.75f;
  r.s.input_encode_scale = 2.0f;
  const std::int64_t R = !columns.empty() ? static_cast<std::int64_t>(columns.size()) : pad < 0 ? N : N + pad;  // stored rows
  if (!columns.empty())
    r.out_col = std::move(columns);
  else if (pad >= 0)
    r.out_col = shuffled_columns(N, pad, g);
  std::vector<std::uint8_t> codes(static_cast<std::size_t>(R * K)), scales(static_cast<std::size_t>(R * K / 16));
  for (std::int64_t n = 0; n < R; ++n) {
    const std::int64_t src = r.out_col.empty() ? n : r.out_col[static_cast<std::size_t>(n)];
    for (std::int64_t k = 0; k < K; ++k)
      codes[static_cast<std::size_t>(n * K + k)] = src >= 0 ? r.lw.codes[static_cast<std::size_t>(src * K + k)] : static_cast<std::uint8_t>(g.next() & 15);
    for (std::int64_t b = 0; b < K / 16; ++b)
      scales[static_cast<std::size_t>(n * K / 16 + b)] = src >= 0 ? r.lw.scales[static_cast<std::size_t>(src * K / 16 + b)] : scale();
  }
  r.packed.assign(static_cast<std::size_t>(R * K / 2), 0);
  for (std::int64_t i = 0; i < R * K; ++i)
    r.packed[static_cast<std::size_t>(i / 2)] |= static_cast<std::uint8_t>(codes[static_cast<std::size_t>(i)] << (i % 2 ? 4 : 0));
  Tensor lin = Tensor::zeros(DType::F8_E4M3, {R, K / 16});
  std::memcpy(lin.data(), scales.data(), scales.size());
  r.swizzled = ref::swizzle_128x4(lin);
  r.map = cache.swizzle(R, K / 16);
  r.w.packed = r.packed.data();
  r.w.rows = R;
  r.w.N = N;
  r.w.row_bytes = K / 2;
  r.w.K = K;
  r.w.scales = r.swizzled.data();
  r.w.swizzle = r.map.get();
  r.w.out_col = r.out_col.empty() ? nullptr : r.out_col.data();
  r.w.global_scale = r.lw.global_scale;
  r.w.alpha = r.s.alpha;
  r.w.input_gs = r.s.input_encode_scale;
  return r;
}

inline Tensor activations(std::int64_t M, std::int64_t K, std::uint64_t seed) {
  Tensor x = Tensor::empty(DType::F32, {M, K});
  Rng g(seed);
  float* p = x.data_as<float>();
  for (std::int64_t i = 0; i < M * K; ++i) p[i] = static_cast<float>(g.normal() * (i % 11 == 0 ? 8.0 : 1.0));
  return x;
}

}  // namespace nvfp4::kernel_test

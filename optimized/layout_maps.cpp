#include "optimized/layout_maps.h"

#include <stdexcept>

namespace nvfp4::opt {

std::int64_t round_up(std::int64_t x, std::int64_t m) { return (x + m - 1) / m * m; }

std::int64_t shuffle_row(std::int64_t n) { return 32 * (n / 32) + 4 * (n % 8) + (n % 32) / 8; }

std::int64_t w31_row(std::int64_t n, std::int64_t half) {
  const std::int64_t r = shuffle_row(n);
  return r % 2 == 0 ? r / 2 : half + (r - 1) / 2;
}

namespace {

void set_inverse(RowMap& m, std::int64_t source_rows) {
  m.inverse = Tensor::empty(DType::I64, {source_rows});
  auto* inv = m.inverse.data_as<std::int64_t>();
  const auto* src = m.data();
  for (std::int64_t n = 0; n < m.rows_out; ++n)
    if (src[n] >= 0) inv[src[n]] = n;
}

SwizzleMap make_swizzle(std::int64_t M, std::int64_t K) {
  SwizzleMap s;
  s.M = M;
  s.K = K;
  s.Mp = round_up(M, 128);
  s.Kp = round_up(K, 4);
  s.row_offset = Tensor::empty(DType::I64, {s.Mp});
  s.col_offset = Tensor::empty(DType::I64, {s.Kp});
  auto* r = s.row_offset.data_as<std::int64_t>();
  auto* c = s.col_offset.data_as<std::int64_t>();
  for (std::int64_t m = 0; m < s.Mp; ++m) r[m] = (m / 128) * 128 * s.Kp + (m % 32) * 16 + ((m % 128) / 32) * 4;
  for (std::int64_t k = 0; k < s.Kp; ++k) c[k] = (k / 4) * 512 + k % 4;
  return s;
}

}  // namespace

RowMap trtllm_w13_rows(std::int64_t I) {
  const std::int64_t Ip = round_up(I, 64);
  RowMap m;
  m.rows_out = 2 * Ip;
  m.source = Tensor::empty(DType::I64, {m.rows_out});
  auto* src = m.source.data_as<std::int64_t>();
  for (std::int64_t n = 0; n < m.rows_out; ++n) {
    const std::int64_t q = w31_row(n, Ip);  // row of [w3; 0; w1; 0]
    if (q < Ip) src[n] = q < I ? I + q : -1;                        // up (w3) half
    else src[n] = q - Ip < I ? q - Ip : -1;                         // gate (w1) half
  }
  set_inverse(m, 2 * I);
  return m;
}

RowMap trtllm_w2_rows(std::int64_t H) {
  if (H % 32) throw std::invalid_argument("trtllm_w2_rows: H must be a multiple of 32");
  RowMap m;
  m.rows_out = H;
  m.source = Tensor::empty(DType::I64, {H});
  auto* src = m.source.data_as<std::int64_t>();
  for (std::int64_t n = 0; n < H; ++n) src[n] = shuffle_row(n);
  set_inverse(m, H);
  return m;
}

std::shared_ptr<const SwizzleMap> LayoutCache::swizzle(std::int64_t M, std::int64_t K) {
  auto& slot = swizzle_[{M, K}];
  if (!slot) slot = std::make_shared<const SwizzleMap>(make_swizzle(M, K));
  return slot;
}

std::shared_ptr<const RowMap> LayoutCache::w13_rows(std::int64_t I) {
  auto& slot = w13_[I];
  if (!slot) slot = std::make_shared<const RowMap>(trtllm_w13_rows(I));
  return slot;
}

std::shared_ptr<const RowMap> LayoutCache::w2_rows(std::int64_t H) {
  auto& slot = w2_[H];
  if (!slot) slot = std::make_shared<const RowMap>(trtllm_w2_rows(H));
  return slot;
}

}  // namespace nvfp4::opt

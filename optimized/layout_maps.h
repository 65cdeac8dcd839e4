// Index maps of the layouts the optimized pipeline writes, computed once per shape and shared by
// every module of that shape (an engine caches them by shape too: FlashInfer memoizes its permute
// indices by (shape, epilogue tile)). They are tracked tensors, so they count as resident bytes.
//
// 128x4 block-scale layout (docs/formats.md#the-128x4-block-scale-layout): the byte of scale (m, k) within one batch sits at
//   row_offset[m] + col_offset[k],
//   row_offset[m] = (m / 128) * 128 * Kp + (m % 32) * 16 + ((m % 128) / 32) * 4,
//   col_offset[k] = (k / 4) * 512 + k % 4,
// so rows [128 t, 128 t + 128) fill exactly bytes [128 t Kp, 128 (t + 1) Kp): a swizzle never moves
// a byte out of its 128-row band, which is what makes the in-place swizzle need one band of scratch.
//
// trtllm MoE rows (docs/formats.md#trt-llm-gen-moe-row-permutations, epilogue tile 128): output row n of an expert holds
//   w2:  source row shuffle(n),
//   w13: padded row q = r even ? r / 2 : Ip + (r - 1) / 2 with r = shuffle(n), where the padded
//        expert is [w3 (up); zeros; w1 (gate); zeros], each half Ip = roundup(I, 64) rows,
//   shuffle(n) = 32 (n / 32) + 4 (n % 8) + (n % 32) / 8,
// stored here as the row of the loaded [w1 (gate); w3 (up)] expert, or -1 for a zero row.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <tuple>

#include "core/tensor.h"

namespace nvfp4::opt {

std::int64_t round_up(std::int64_t x, std::int64_t m);

struct SwizzleMap {
  std::int64_t M = 0, K = 0, Mp = 0, Kp = 0;  // logical and padded scale rows/columns of one batch
  Tensor row_offset;                          // I64 [Mp]
  Tensor col_offset;                          // I64 [Kp]
  std::int64_t batch_bytes() const { return Mp * Kp; }
  const std::int64_t* rows() const { return row_offset.data_as<std::int64_t>(); }
  const std::int64_t* cols() const { return col_offset.data_as<std::int64_t>(); }
};

// Source row of every output row of one trtllm expert (see above).
struct RowMap {
  std::int64_t rows_out = 0;
  Tensor source;   // I64 [rows_out], -1 for padding rows
  Tensor inverse;  // I64 [source rows]: the output row each source row goes to
  const std::int64_t* data() const { return source.data_as<std::int64_t>(); }
  const std::int64_t* destinations() const { return inverse.data_as<std::int64_t>(); }
};

std::int64_t shuffle_row(std::int64_t n);  // shuffle_matrix_a, epilogue tile 128
// Row of the [w3; w1] matrix (halves of `half` rows) that output row n holds after the gated reorder
// and then the shuffle: r = shuffle(n); r even ? r / 2 : half + (r - 1) / 2.
std::int64_t w31_row(std::int64_t n, std::int64_t half);
RowMap trtllm_w13_rows(std::int64_t I);    // [2 * roundup(I, 64)] over a [2I] source
RowMap trtllm_w2_rows(std::int64_t H);     // [H] over an [H] source (H % 32 == 0)

class LayoutCache {
 public:
  std::shared_ptr<const SwizzleMap> swizzle(std::int64_t M, std::int64_t K);
  std::shared_ptr<const RowMap> w13_rows(std::int64_t I);
  std::shared_ptr<const RowMap> w2_rows(std::int64_t H);
  // Every tensor the cache holds (for resident-byte accounting).
  template <class F>
  void for_each_tensor(F f) const {
    for (const auto& [k, s] : swizzle_) {
      f(s->row_offset);
      f(s->col_offset);
    }
    for (const auto* rows : {&w13_, &w2_})
      for (const auto& [k, r] : *rows) {
        f(r->source);
        f(r->inverse);
      }
  }

 private:
  std::map<std::pair<std::int64_t, std::int64_t>, std::shared_ptr<const SwizzleMap>> swizzle_;
  std::map<std::int64_t, std::shared_ptr<const RowMap>> w13_, w2_;
};

}  // namespace nvfp4::opt

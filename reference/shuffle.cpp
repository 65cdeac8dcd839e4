#include "reference/shuffle.h"

#include <cstring>
#include <stdexcept>

namespace nvfp4::ref {

Permutation gated_act_reorder(std::int64_t M) {
  if (M % 2) throw std::invalid_argument("gated_act_reorder needs an even row count");
  Permutation p;
  for (std::int64_t t = 0; t < M / 2; ++t) {
    p.push_back(t);
    p.push_back(M / 2 + t);
  }
  return p;
}

// Follows flashinfer/utils.py get_shuffle_matrix_a_row_indices: for each old row, its block's
// start plus srcToDstBlk{32,16}RowMap[row in block] is the new row, and row_indices[new] = old.
Permutation shuffle_a_rows(std::int64_t M, int epilogue_tile_m) {
  // FlashInfer get_shuffle_block_size: 32-row blocks for tiles that are multiples of 128.
  const int bs = epilogue_tile_m % 128 == 0 ? 32 : 16;
  if (M % bs) throw std::invalid_argument("shuffle_a_rows: M must be a multiple of the block size");
  // srcToDstBlk32RowMap / srcToDstBlk16RowMap (flashinfer/utils.py).
  std::vector<std::int64_t> src_to_dst(static_cast<std::size_t>(bs));
  for (int i = 0; i < bs; ++i) src_to_dst[static_cast<std::size_t>(i)] = bs == 32 ? 8 * (i % 4) + i / 4 : 8 * (i % 2) + i / 2;
  Permutation row_indices(static_cast<std::size_t>(M));
  for (std::int64_t old = 0; old < M; ++old) {
    std::int64_t dst = old / bs * bs + src_to_dst[static_cast<std::size_t>(old % bs)];
    row_indices[static_cast<std::size_t>(dst)] = old;
  }
  return row_indices;
}

Permutation compose(const Permutation& first, const Permutation& second) {
  Permutation p(second.size());
  for (std::size_t n = 0; n < second.size(); ++n) p[n] = first[static_cast<std::size_t>(second[n])];
  return p;
}

Tensor permute_rows(const Tensor& in, const Permutation& perm) {
  bool batched = in.dim() == 3;
  std::int64_t E = batched ? in.size(0) : 1, M = in.size(batched ? 1 : 0);
  if (static_cast<std::int64_t>(perm.size()) != M) throw std::invalid_argument("permute_rows: wrong permutation size");
  std::size_t row = in.nbytes() / static_cast<std::size_t>(E * M);
  Tensor out = Tensor::empty(in.dtype(), in.shape());
  for (std::int64_t e = 0; e < E; ++e)
    for (std::int64_t n = 0; n < M; ++n)
      std::memcpy(out.data() + static_cast<std::size_t>(e * M + n) * row,
                  in.data() + static_cast<std::size_t>(e * M + perm[static_cast<std::size_t>(n)]) * row, row);
  return out;
}

}  // namespace nvfp4::ref

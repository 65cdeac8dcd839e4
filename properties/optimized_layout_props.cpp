// The optimized pipeline's in-place layout steps against out-of-place versions written here the
// plainest way: the 128x4 swizzle as vLLM's reshape/permute (pad, view as (b, mT, i, j, kT, kk),
// lay out as (b, mT, kT, j, i, kk)), and the trtllm preparation as list-and-stack (per expert:
// a new [w3; 0; w1; 0] tensor, rows picked by FlashInfer's index construction, swizzled, then
// stacked), the way upstream did before the preallocation PR. Also the broadcast fallback of
// alias_or_bind_derived_param over random shapes and dtypes.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstring>
#include <vector>

#include "optimized/block_scales.h"
#include "optimized/layout_maps.h"
#include "optimized/moe_shuffle.h"
#include "optimized/param_binding.h"
#include "properties/generators.h"

namespace nvfp4 {
namespace {

using Bytes = std::vector<std::uint8_t>;

std::int64_t rup(std::int64_t x, std::int64_t m) { return (x + m - 1) / m * m; }

Bytes random_bytes(std::size_t n) {
  Bytes b(n);
  const std::uint64_t seed = *gen::any_u64();
  std::uint64_t s = seed;
  for (auto& x : b) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    x = static_cast<std::uint8_t>(s >> 56);
  }
  return b;
}

// [B, M, K] -> [B, Mp, Kp], written as the tensor permutation.
Bytes plain_swizzle(const Bytes& in, std::int64_t B, std::int64_t M, std::int64_t K) {
  const std::int64_t Mp = rup(M, 128), Kp = rup(K, 4);
  Bytes out;
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t mT = 0; mT < Mp / 128; ++mT)
      for (std::int64_t kT = 0; kT < Kp / 4; ++kT)
        for (std::int64_t j = 0; j < 32; ++j)
          for (std::int64_t i = 0; i < 4; ++i)
            for (std::int64_t kk = 0; kk < 4; ++kk) {
              const std::int64_t m = 128 * mT + 32 * i + j, k = 4 * kT + kk;
              out.push_back(m < M && k < K ? in[static_cast<std::size_t>((b * M + m) * K + k)] : 0);
            }
  return out;
}

opt::ByteMap random_map() {
  opt::ByteMap m;
  Bytes b = random_bytes(256);
  std::memcpy(m.data(), b.data(), 256);
  return m;
}

RC_GTEST_PROP(OptimizedLayoutProps, SwizzleInPlaceAndIntoEqualThePlainPermutation, ()) {
  const std::int64_t B = *gen::any_in(1, 4);
  const bool in_place = *rc::gen::arbitrary<bool>();
  const std::int64_t M = in_place ? 128 * *gen::any_in(1, 4) : *gen::any_in(1, 400);
  const std::int64_t K = in_place ? 4 * *gen::any_in(1, 5) : *gen::any_in(1, 14);
  const std::int64_t split = *gen::any_in<std::int64_t>(0, M + 1);  // two row groups, each with its own byte map
  const opt::ByteMap m0 = random_map(), m1 = random_map();
  const Bytes in = random_bytes(static_cast<std::size_t>(B * M * K));
  Bytes mapped = in;
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t m = 0; m < M; ++m)
      for (std::int64_t k = 0; k < K; ++k) {
        auto& x = mapped[static_cast<std::size_t>((b * M + m) * K + k)];
        x = (m < split ? m0 : m1)[x];
      }
  const Bytes want = plain_swizzle(mapped, B, M, K);

  opt::LayoutCache cache;
  const opt::SwizzleMap& s = *cache.swizzle(M, K);
  opt::RowGroups g;
  if (split > 0) g.add(split, &m0);
  g.add(M, &m1);
  Bytes got;
  if (in_place) {
    got = in;
    Bytes scratch(static_cast<std::size_t>(128 * K));
    for (std::int64_t b = 0; b < B; ++b) opt::swizzle_in_place(got.data() + b * M * K, s, g, scratch);
  } else {
    got.assign(static_cast<std::size_t>(B * s.batch_bytes()), 0xAA);
    for (std::int64_t b = 0; b < B; ++b) opt::swizzle_into(in.data() + b * M * K, got.data() + b * s.batch_bytes(), s, g);
  }
  RC_TAG(in_place ? "in place" : "into");
  RC_ASSERT(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    if (got[i] != want[i])
      RC_FAIL("[" + std::to_string(B) + ", " + std::to_string(M) + ", " + std::to_string(K) + "] byte " + std::to_string(i) +
              ": " + std::to_string(got[i]) + " vs plain " + std::to_string(want[i]));
}

// FlashInfer's row indices for reorder-then-shuffle over M rows, built the way its Python does.
std::vector<std::int64_t> flashinfer_indices(std::int64_t M, bool gated) {
  std::vector<std::int64_t> reorder(static_cast<std::size_t>(M)), shuffle(static_cast<std::size_t>(M)), out(static_cast<std::size_t>(M));
  for (std::int64_t t = 0; t < M; ++t) reorder[static_cast<std::size_t>(t)] = t;
  if (gated)
    for (std::int64_t t = 0; t < M / 2; ++t) {
      reorder[static_cast<std::size_t>(2 * t)] = t;
      reorder[static_cast<std::size_t>(2 * t + 1)] = M / 2 + t;
    }
  for (std::int64_t old = 0; old < M; ++old) {
    const std::int64_t i = old % 32;
    shuffle[static_cast<std::size_t>(old / 32 * 32 + 8 * (i % 4) + i / 4)] = old;
  }
  for (std::int64_t n = 0; n < M; ++n) out[static_cast<std::size_t>(n)] = reorder[static_cast<std::size_t>(shuffle[static_cast<std::size_t>(n)])];
  return out;
}

RC_GTEST_PROP(OptimizedLayoutProps, PreallocatedMoeShuffleEqualsListAndStack, ()) {
  const std::int64_t E = *gen::any_in(1, 6), H = 64 * *gen::any_in(1, 4), I = 16 * *gen::any_in(1, 12);
  const std::int64_t Ip = rup(I, 64);
  const bool w13 = *rc::gen::arbitrary<bool>(), scales = *rc::gen::arbitrary<bool>();
  RC_TAG(w13 ? "w13" : "w2", scales ? "scales" : "weights");
  // Loaded layout: w13 [E, 2I, cols] rows [w1; w3]; w2 [E, H, cols].
  const std::int64_t rows_in = w13 ? 2 * I : H, cols_in = w13 ? (scales ? H / 16 : H / 2) : (scales ? I / 16 : I / 2);
  const std::int64_t cols_out = w13 ? cols_in : (scales ? Ip / 16 : Ip / 2), rows_out = w13 ? 2 * Ip : H;
  const Bytes in = random_bytes(static_cast<std::size_t>(E * rows_in * cols_in));
  std::vector<opt::ByteMap> maps;
  for (std::int64_t e = 0; e < 2 * E; ++e) maps.push_back(scales ? random_map() : opt::identity_map());

  // List and stack: one fresh tensor per expert, appended.
  const std::vector<std::int64_t> idx = flashinfer_indices(rows_out, w13);
  Bytes want;
  for (std::int64_t e = 0; e < E; ++e) {
    Bytes padded(static_cast<std::size_t>(rows_out * cols_out), 0);  // [w3; 0; w1; 0] or [w2] with K padded
    for (std::int64_t r = 0; r < rows_in; ++r) {
      const bool up = w13 && r >= I;
      const std::int64_t dst = !w13 ? r : up ? r - I : Ip + r;
      const opt::ByteMap& m = maps[static_cast<std::size_t>(2 * e + (up ? 1 : 0))];
      for (std::int64_t k = 0; k < cols_in; ++k)
        padded[static_cast<std::size_t>(dst * cols_out + k)] = m[in[static_cast<std::size_t>((e * rows_in + r) * cols_in + k)]];
    }
    Bytes permuted;
    for (std::int64_t n = 0; n < rows_out; ++n)
      permuted.insert(permuted.end(), padded.begin() + idx[static_cast<std::size_t>(n)] * cols_out,
                      padded.begin() + (idx[static_cast<std::size_t>(n)] + 1) * cols_out);
    if (scales) permuted = plain_swizzle(permuted, 1, rows_out, cols_out);
    want.insert(want.end(), permuted.begin(), permuted.end());
  }

  // Preallocated: the loaded tensor at the start of storage sized for the result, in place.
  opt::LayoutCache cache;
  const opt::RowMap& rows = w13 ? *cache.w13_rows(I) : *cache.w2_rows(H);
  Bytes storage(want.size(), 0xCD);
  std::memcpy(storage.data(), in.data(), in.size());
  Bytes scratch(static_cast<std::size_t>(rows_in * cols_in));
  if (scales) {
    std::vector<opt::RowGroups> groups(static_cast<std::size_t>(E));
    for (std::int64_t e = 0; e < E; ++e) {
      if (w13) groups[static_cast<std::size_t>(e)].add(I, &maps[static_cast<std::size_t>(2 * e)]);
      groups[static_cast<std::size_t>(e)].add(rows_in, &maps[static_cast<std::size_t>(2 * e + (w13 ? 1 : 0))]);
    }
    opt::gather_scale_rows_in_place(storage.data(), E, rows_in, cols_in, rows, *cache.swizzle(rows_out, cols_out), groups, scratch);
  } else {
    opt::gather_weight_rows_in_place(storage.data(), E, rows_in, cols_in, rows, cols_out, scratch);
  }
  RC_ASSERT(storage.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i)
    if (storage[i] != want[i])
      RC_FAIL("E=" + std::to_string(E) + " H=" + std::to_string(H) + " I=" + std::to_string(I) + " byte " + std::to_string(i) +
              " (expert " + std::to_string(static_cast<std::int64_t>(i) / (static_cast<std::int64_t>(want.size()) / E)) +
              "): preallocated " + std::to_string(storage[i]) + " vs list-and-stack " + std::to_string(want[i]));
}

RC_GTEST_PROP(OptimizedLayoutProps, AliasExactlyWhenBroadcastableAndDtypeEqual, ()) {
  const Shape source = *rc::gen::container<std::vector<std::int64_t>>(static_cast<std::size_t>(*gen::any_in(1, 4)),
                                                                        gen::any_in<std::int64_t>(1, 5));
  // A value shape: the source's, a broadcastable one (1s, fewer dimensions), or an arbitrary one.
  Shape value = source;
  const int kind = *gen::any_in(0, 3);
  if (kind == 1) {
    for (auto& d : value) d = *rc::gen::arbitrary<bool>() ? 1 : d;
    value.erase(value.begin(), value.begin() + *gen::any_in<std::ptrdiff_t>(0, static_cast<std::ptrdiff_t>(value.size())));
  } else if (kind == 2) {
    value = *rc::gen::container<std::vector<std::int64_t>>(static_cast<std::size_t>(*gen::any_in(0, 4)), gen::any_in<std::int64_t>(1, 6));
  }
  const DType sd = *rc::gen::element(DType::U8, DType::F8_E4M3, DType::F32), vd = *rc::gen::element(sd, sd, DType::F32);
  const bool expect_alias = sd == vd && opt::broadcastable(value, source);
  RC_TAG(expect_alias ? "aliased" : "fallback");

  Module m;
  Tensor src = Tensor::empty(sd, source);
  const Bytes init = random_bytes(src.nbytes());
  std::memcpy(src.data(), init.data(), init.size());
  ParamPtr s = m.add("src", src);
  ParamPtr reserve = std::make_shared<Parameter>(Parameter{Tensor::empty(vd, value)});
  const Bytes v = random_bytes(dtype_nbytes(vd, shape_numel(value)));
  auto write = [&](Tensor& t) { std::memcpy(t.data(), v.data(), v.size()); };
  const opt::Bound bound = opt::alias_or_bind_derived_param(m, "src", "derived", vd, value, reserve, write, write);

  RC_ASSERT((bound == opt::Bound::AliasedSource) == expect_alias);
  const Tensor& d = m.tensor("derived");
  if (expect_alias) {
    RC_ASSERT(m.param("derived") == s);
    // Every element of the source reads the broadcast value.
    const std::size_t es = static_cast<std::size_t>(dtype_bits(sd) / 8);
    const Shape& to = source;
    for (std::int64_t i = 0; i < shape_numel(to); ++i) {
      std::int64_t rem = i, vi = 0, stride = 1;
      for (std::size_t k = to.size(); k-- > 0;) {
        const std::int64_t idx = rem % to[k];
        rem /= to[k];
        const std::size_t vk = k + value.size() - to.size();
        if (k + value.size() >= to.size() && value[vk] != 1) vi += idx * stride;
        if (k + value.size() >= to.size()) stride *= value[vk];
      }
      RC_ASSERT(std::memcmp(d.data() + static_cast<std::size_t>(i) * es, v.data() + static_cast<std::size_t>(vi) * es, es) == 0);
    }
  } else {
    RC_ASSERT(m.param("derived") == reserve);
    RC_ASSERT(std::memcmp(d.data(), v.data(), v.size()) == 0);
    RC_ASSERT(std::memcmp(s->data.data(), init.data(), init.size()) == 0);  // the source is never written
  }
}

}  // namespace
}  // namespace nvfp4

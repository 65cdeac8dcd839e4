// copy_or_rebind and alias_or_bind_derived_param, branch by branch (sglang #25190 semantics, made
// allocation-free): which Parameter a name ends up bound to, where the bytes went, and that the
// source is never written on the fallback path.
#include <gtest/gtest.h>

#include <cstring>

#include "core/allocator.h"
#include "optimized/param_binding.h"

namespace nvfp4::opt {
namespace {

Tensor filled(DType d, Shape s, std::uint8_t first) {
  Tensor t = Tensor::empty(d, std::move(s));
  for (std::size_t i = 0; i < t.nbytes(); ++i) t.data()[i] = static_cast<std::uint8_t>(first + i);
  return t;
}

ParamPtr param(Tensor t) { return std::make_shared<Parameter>(Parameter{std::move(t)}); }

TEST(Broadcastable, NumpyRules) {
  EXPECT_TRUE(broadcastable({3, 4}, {3, 4}));
  EXPECT_TRUE(broadcastable({1, 4}, {3, 4}));
  EXPECT_TRUE(broadcastable({4}, {3, 4}));
  EXPECT_TRUE(broadcastable({}, {3}));  // a scalar broadcasts to any per-shard source: why alpha is never aliased
  EXPECT_FALSE(broadcastable({128, 4}, {64, 2}));  // a padded swizzle never fits its source
  EXPECT_FALSE(broadcastable({2, 4}, {3, 4}));
  EXPECT_FALSE(broadcastable({3, 4}, {4}));
}

TEST(CopyOrRebind, WritesInPlaceRebindsWithinStorageOrRegistersTheReserve) {
  Module m;
  ParamPtr w = m.add("w", filled(DType::U8, {2, 4}, 0));
  const void* addr = w->data.address();
  auto write = [](std::uint8_t v) { return [v](Tensor& t) { std::memset(t.data(), v, t.nbytes()); }; };

  EXPECT_EQ(copy_or_rebind(m, "w", DType::U8, {2, 4}, nullptr, write(7)), Bound::CopiedInPlace);
  EXPECT_EQ(m.param("w"), w);
  EXPECT_EQ(w->data.address(), addr);
  EXPECT_EQ(w->data.data()[5], 7);

  EXPECT_EQ(copy_or_rebind(m, "w", DType::U8, {4, 2}, nullptr, write(9)), Bound::ReboundInStorage);
  EXPECT_EQ(m.param("w"), w) << "identity kept";
  EXPECT_EQ(w->data.address(), addr) << "storage kept";
  EXPECT_EQ(w->data.shape(), (Shape{4, 2}));
  EXPECT_THROW(copy_or_rebind(m, "w", DType::U8, {4, 4}, nullptr, write(1)), std::invalid_argument)
      << "never allocates: a shape past the reserved storage is an error";

  ParamPtr r = param(Tensor::empty(DType::F32, {}));
  EXPECT_THROW(copy_or_rebind(m, "alpha", DType::F32, {}, nullptr, write(0)), std::logic_error);
  EXPECT_EQ(copy_or_rebind(m, "alpha", DType::F32, {}, r, write(3)), Bound::RegisteredReserve);
  EXPECT_EQ(m.param("alpha"), r);
  EXPECT_EQ(copy_or_rebind(m, "alpha", DType::F32, {}, nullptr, write(4)), Bound::CopiedInPlace);
}

TEST(AliasOrBindDerived, AliasesExactlyWhenBroadcastableAndDtypeEqual) {
  auto fill = [](std::uint8_t v) { return [v](Tensor& t) { std::memset(t.data(), v, t.nbytes()); }; };
  {  // same shape and dtype: written into the source, the derived name is the source
    Module m;
    ParamPtr s = m.add("scale", filled(DType::F8_E4M3, {128, 4}, 0));
    EXPECT_EQ(alias_or_bind_derived_param(m, "scale", "swz", DType::F8_E4M3, {128, 4}, nullptr, fill(0x38), fill(0)),
              Bound::AliasedSource);
    EXPECT_EQ(m.param("swz"), s);
    EXPECT_EQ(m.alias_of("swz"), "scale");
    EXPECT_EQ(s->data.data()[511], 0x38);
  }
  {  // a smaller broadcastable value fills the whole source (the hazard #25190's callers avoid for scalars)
    Module m;
    ParamPtr s = m.add("src", filled(DType::U8, {3, 4}, 0));
    auto row = [](Tensor& t) {
      for (int k = 0; k < 4; ++k) t.data()[k] = static_cast<std::uint8_t>(10 + k);
    };
    EXPECT_EQ(alias_or_bind_derived_param(m, "src", "d", DType::U8, {1, 4}, nullptr, row, fill(0)), Bound::AliasedSource);
    for (int i = 0; i < 12; ++i) EXPECT_EQ(s->data.data()[i], 10 + i % 4) << i;
  }
  for (auto [shape, dtype] : {std::pair<Shape, DType>{{256, 4}, DType::F8_E4M3}, {{128, 4}, DType::U8}}) {
    // Not broadcastable (padded) or another dtype: the reserve gets the value, the source is untouched.
    Module m;
    ParamPtr s = m.add("scale", filled(DType::F8_E4M3, {128, 4}, 1));
    Tensor before = s->data.clone();
    ParamPtr r = param(Tensor::empty(dtype, shape));
    EXPECT_EQ(alias_or_bind_derived_param(m, "scale", "swz", dtype, shape, r, fill(0xEE), fill(0x38)), Bound::RegisteredReserve);
    EXPECT_EQ(m.param("swz"), r);
    EXPECT_TRUE(s->data.bitwise_equal(before));
    EXPECT_EQ(r->data.data()[0], 0x38);
    EXPECT_EQ(alias_or_bind_derived_param(m, "scale", "swz", dtype, shape, r, fill(0xEE), fill(0x39)), Bound::CopiedInPlace);
    EXPECT_EQ(r->data.data()[0], 0x39);
  }
}

TEST(BroadcastInPlace, ExpandsAValueStoredAtTheFront) {
  Tensor t = Tensor::zeros(DType::F32, {2, 4, 3});
  auto* f = t.data_as<float>();
  for (int i = 0; i < 6; ++i) f[i] = static_cast<float>(i + 1);  // value [2, 1, 3]
  broadcast_in_place(t, {2, 1, 3});
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 4; ++b)
      for (int c = 0; c < 3; ++c) EXPECT_EQ(f[(a * 4 + b) * 3 + c], static_cast<float>(a * 3 + c + 1)) << a << b << c;
}

}  // namespace
}  // namespace nvfp4::opt

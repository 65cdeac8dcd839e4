// The small f32 parameters of the optimized pipeline (per-shard global scales, alphas, quant
// scales): reading a slot, the max over slots, and writing a scalar through copy_or_rebind into
// the Parameter reserved for it at create_weights.
#pragma once
#include <cstring>
#include <memory>
#include <string>

#include "core/module.h"
#include "optimized/param_binding.h"

namespace nvfp4::opt {

inline ParamPtr reserve(DType d, Shape s) { return std::make_shared<Parameter>(Parameter{Tensor::empty(d, std::move(s))}); }

inline float f32_at(const Tensor& t, std::int64_t i) {
  float v;
  std::memcpy(&v, t.data() + 4 * i, 4);
  return v;
}

// Max over every slot (validated finite: no NaN can reach here).
inline float max_f32(const Tensor& t) {
  float m = f32_at(t, 0);
  for (std::int64_t i = 1; i < t.numel(); ++i) m = f32_at(t, i) > m ? f32_at(t, i) : m;
  return m;
}

inline void set_scalar(Module& m, const std::string& name, const ParamPtr& r, float v) {
  copy_or_rebind(m, name, DType::F32, {}, r, [&](Tensor& t) { std::memcpy(t.data(), &v, 4); });
}

}  // namespace nvfp4::opt

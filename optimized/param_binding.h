// sglang's parameter-identity helpers (python/sglang/srt/layers/utils/common.py after #25190;
// docs/architecture.md#aliases-and-parameter-binding), made allocation-free: every byte a binding can need was reserved at
// create_weights, so these only decide where a derived value goes and hand its writer that place.
//
// - copy_or_rebind: a name already bound to a Parameter of the value's shape and dtype is written in
//   place; bound to one of another shape, the Parameter is re-viewed within its own storage
//   (identity and address kept; sglang would swap in new storage, which a zero-allocation reload
//   cannot); a free name gets the Parameter reserved for it.
// - alias_or_bind_derived_param: when the source has the value's dtype and the value broadcasts to
//   the source's shape, the value is written into the source (broadcast over it if smaller) and the
//   derived name becomes the source Parameter; otherwise copy_or_rebind(derived), and the source is
//   never written. Scalars derived from per-shard sources (alpha, input_scale_inv, ...) must not go
//   through here: a [] value broadcasts to any [p] source and would fill every slot.
#pragma once
#include <stdexcept>
#include <string>

#include "core/module.h"

namespace nvfp4::opt {

enum class Bound {
  CopiedInPlace,     // the name's Parameter already had the value's shape and dtype
  ReboundInStorage,  // the name's Parameter was re-viewed to the value's shape, same storage
  RegisteredReserve, // the name was free: the Parameter reserved at create_weights now holds it
  AliasedSource,     // the value went into the source; the derived name is the source Parameter
};

// numpy broadcasting: trailing dimensions equal, or 1 in `from`.
bool broadcastable(const Shape& from, const Shape& to);
// Whether alias_or_bind_derived_param will alias: the decision create_weights reserves storage by.
bool aliases_source(const Tensor& source, DType value_dtype, const Shape& value_shape);
// t's leading bytes hold a contiguous value of shape `from`; expands it over all of t.
void broadcast_in_place(Tensor& t, const Shape& from);

template <class Write>
Bound copy_or_rebind(Module& m, const std::string& name, DType d, const Shape& shape, const ParamPtr& reserve, Write&& write) {
  if (m.has(name)) {
    ParamPtr p = m.param(name);
    if (p->data.dtype() == d && p->data.shape() == shape) {
      write(p->data);
      return Bound::CopiedInPlace;
    }
    p->data = p->data.view_within(d, shape);  // throws if create_weights reserved too little
    write(p->data);
    return Bound::ReboundInStorage;
  }
  if (!reserve || reserve->data.dtype() != d || reserve->data.shape() != shape)
    throw std::logic_error("copy_or_rebind: nothing of " + std::string(dtype_name(d)) + shape_str(shape) +
                           " was reserved for " + name);
  m.bind(name, reserve);
  write(reserve->data);
  return Bound::RegisteredReserve;
}

template <class WriteIntoSource, class WriteDerived>
Bound alias_or_bind_derived_param(Module& m, const std::string& source, const std::string& derived, DType d,
                                  const Shape& value_shape, const ParamPtr& reserve, WriteIntoSource&& into_source,
                                  WriteDerived&& into_derived) {
  if (m.has(source) && aliases_source(m.tensor(source), d, value_shape)) {
    ParamPtr s = m.param(source);
    Tensor value = s->data.view_within(d, value_shape);  // the source's leading bytes
    into_source(value);
    if (value_shape != s->data.shape()) broadcast_in_place(s->data, value_shape);
    m.bind(derived, s);
    return Bound::AliasedSource;
  }
  return copy_or_rebind(m, derived, d, value_shape, reserve, into_derived);
}

}  // namespace nvfp4::opt

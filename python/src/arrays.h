// Tensors across the Python boundary without copies: numpy/torch arrays in (nanobind ndarray over
// DLPack or the buffer protocol) as views of the caller's memory, and the library's tensors out as
// numpy arrays over their own storage (the array keeps the storage alive).
#pragma once
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <string>

#include "core/tensor.h"
#include "tools/diff/engine_dump.h"

namespace nvfp4::py {

namespace nb = nanobind;

// Any C-contiguous CPU array, read-only: a non-contiguous one is copied by nanobind, nothing else is.
using InArray = nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu>;

// The safetensors dtype of `a`: `name` when given ("F8_E4M3" for bytes viewed as uint8, say), else
// what its DLPack dtype says. BadInput naming `label` and `tensor` when neither tells.
DType dtype_of(const InArray& a, const std::string& name, const std::string& label, const std::string& tensor);

// A view of `a`'s bytes as `tensor` of the in-memory dump; the caller keeps `a` alive.
diff::DumpView view_of(const std::string& tensor, const InArray& a, DType d);

// A numpy array over t's bytes (F32, F16 and integers as themselves; BF16 as uint16 and every
// 8-bit float as uint8, which nvfp4/_arrays.py views as ml_dtypes types), owning a reference to
// t's storage.
nb::ndarray<nb::numpy> to_numpy(const Tensor& t);

}  // namespace nvfp4::py

// nvfp4.reference: the reference pipeline (reference/) as functions on arrays. process() runs
// the same pipeline `nvfp4 process --pipeline reference` runs and hands its parameters out without
// copying; quantize() is the checkpoint writer's ModelOpt arithmetic (generator/); dequantize()
// and gemm_exact() are the reference's decoding and exact oracle.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "arrays.h"
#include "bindings.h"
#include "core/error.h"
#include "generator/modelopt_quantize.h"
#include "reference/gemm.h"
#include "reference/numerics.h"
#include "registry/registry.h"
#include "tools/cli/cli.h"

namespace nvfp4::py {

namespace {

using Named = std::tuple<std::string, std::string, nb::ndarray<nb::numpy>>;  // (name, dtype, array)

// Every parameter after loading and post-processing for `backend`, aliases under each of their
// names (the same array memory), as (name, safetensors dtype, array).
std::vector<Named> process(const std::string& ckpt, const std::string& backend) {
  std::vector<std::pair<std::string, Tensor>> params;
  {
    nb::gil_scoped_release nogil;
    const Checkpoint c = cli::open_quantized(ckpt);
    const Backend b = parse_backend(backend);
    auto p = make_pipeline("reference", b);
    p->load_weights(c);
    p->process_weights_after_loading(b);
    for (const auto& [mname, m] : p->modules())
      for (const auto& [pname, param] : m.entries()) params.emplace_back(mname + "." + pname, param->data);
  }
  std::vector<Named> out;
  for (const auto& [name, t] : params) out.emplace_back(name, std::string(dtype_name(t.dtype())), to_numpy(t));
  return out;
}

Tensor f32_matrix(const InArray& a, const char* what) {
  if (a.ndim() != 2 || dtype_of(a, "", "", what) != DType::F32) bad_input("", what, "expected a 2-D float32 array");
  return Tensor::external(DType::F32, {static_cast<std::int64_t>(a.shape(0)), static_cast<std::int64_t>(a.shape(1))},
                          Storage::external(static_cast<const std::uint8_t*>(a.data()), a.nbytes(), nullptr));
}

// ModelOpt's export arithmetic: (packed codes U8 [N, K/2], block scales F8_E4M3 bytes [N, K/16],
// global decode scale). amax defaults to max |w|.
std::tuple<nb::ndarray<nb::numpy>, nb::ndarray<nb::numpy>, float> quantize(const InArray& w, std::optional<float> amax) {
  const Tensor t = f32_matrix(w, "w");
  const std::int64_t N = t.size(0), K = t.size(1);
  if (K % 16 != 0) bad_input("", "w", "K = " + std::to_string(K) + " is not a multiple of 16");
  const std::span<const float> v(t.data_as<float>(), static_cast<std::size_t>(N * K));
  float m = 0.0f;
  if (!amax)
    for (float x : v) m = std::max(m, std::fabs(x));
  const QuantizedWeight q = modelopt_quantize(v, N, K, amax.value_or(m));
  return {to_numpy(q.weight), to_numpy(q.scale), q.scale_2};
}

// The logical weight the oracle multiplies: one code per element, low nibble first.
ref::LogicalWeight logical(const InArray& weight, const InArray& scale, float global_scale) {
  if (weight.ndim() != 2 || dtype_of(weight, "", "", "weight") != DType::U8) bad_input("", "weight", "expected packed E2M1 codes, uint8 [N, K/2]");
  const auto N = static_cast<std::int64_t>(weight.shape(0)), K = static_cast<std::int64_t>(weight.shape(1)) * 2;
  if (scale.ndim() != 2 || scale.nbytes() != static_cast<std::size_t>(N * (K / 16)) || K % 16 != 0)
    bad_input("", "scale", "expected E4M3 block scales, one byte each, [N, K/16] = [" + std::to_string(N) + ", " + std::to_string(K / 16) + "]");
  ref::LogicalWeight w{N, K, {}, {}, global_scale};
  const auto* packed = static_cast<const std::uint8_t*>(weight.data());
  w.codes.resize(static_cast<std::size_t>(N * K));
  for (std::size_t i = 0; i < w.codes.size(); ++i) w.codes[i] = (packed[i / 2] >> (4 * (i % 2))) & 0xF;
  const auto* s = static_cast<const std::uint8_t*>(scale.data());
  w.scales.assign(s, s + scale.nbytes());
  return w;
}

// e2m1(code) * e4m3(scale) * global_scale per element, exact in double (2 + 4 + 24 significant bits).
nb::ndarray<nb::numpy> dequantize(const InArray& weight, const InArray& scale, float global_scale) {
  const ref::LogicalWeight w = logical(weight, scale, global_scale);
  Tensor out = Tensor::empty(DType::F64, {w.N, w.K});
  double* o = out.data_as<double>();
  for (std::size_t i = 0; i < w.codes.size(); ++i)
    o[i] = static_cast<double>(ref::e2m1_value(w.codes[i])) * ref::e4m3_value(w.scales[i / 16]) * static_cast<double>(global_scale);
  return to_numpy(out);
}

// y[M, N] = x[M, K] . W^T by the exact oracle: every product and the sum exact, one rounding into x's dtype.
nb::ndarray<nb::numpy> gemm_exact(const InArray& x, const std::string& x_dtype, const InArray& weight, const InArray& scale, float global_scale,
                                  const std::string& mode, float alpha, float input_scale_inv) {
  const ref::LogicalWeight w = logical(weight, scale, global_scale);
  const DType d = dtype_of(x, x_dtype, "", "x");
  if (x.ndim() != 2) bad_input("", "x", "expected a 2-D array [M, K]");
  const Tensor xt = Tensor::external(d, {static_cast<std::int64_t>(x.shape(0)), static_cast<std::int64_t>(x.shape(1))},
                                     Storage::external(static_cast<const std::uint8_t*>(x.data()), x.nbytes(), nullptr));
  if (mode != "w4a4" && mode != "w4a16") throw Error(ErrorKind::Usage, "", "", "mode \"" + printable_short(mode, 40) + "\" is neither w4a4 nor w4a16");
  Tensor y;
  {
    nb::gil_scoped_release nogil;
    y = ref::gemm_exact(xt, w, mode == "w4a4" ? GemmMode::W4A4 : GemmMode::W4A16, {alpha, input_scale_inv});
  }
  return to_numpy(y);
}

}  // namespace

void bind_reference(nb::module_& m) {
  m.def("process", &process, nb::arg("checkpoint"), nb::arg("backend"));
  m.def("quantize", &quantize, nb::arg("w"), nb::arg("amax").none() = nb::none());
  m.def("dequantize", &dequantize, nb::arg("weight"), nb::arg("scale"), nb::arg("global_scale"));
  m.def("gemm_exact", &gemm_exact, nb::arg("x"), nb::arg("x_dtype"), nb::arg("weight"), nb::arg("scale"), nb::arg("global_scale"), nb::arg("mode"),
        nb::arg("alpha"), nb::arg("input_scale_inv"));
}

}  // namespace nvfp4::py

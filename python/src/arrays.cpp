#include "arrays.h"

#include "core/error.h"

namespace nvfp4::py {

namespace {
using nb::dlpack::dtype_code;

// DLPack's (code, bits) of every dtype a state may hold, and its safetensors name.
struct DlpackType {
  dtype_code code;
  std::uint8_t bits;
  DType dtype;
};
constexpr DlpackType kDlpackTypes[] = {
    {dtype_code::Bool, 8, DType::BOOL},          {dtype_code::UInt, 8, DType::U8},
    {dtype_code::UInt, 16, DType::U16},          {dtype_code::UInt, 32, DType::U32},
    {dtype_code::UInt, 64, DType::U64},          {dtype_code::Int, 8, DType::I8},
    {dtype_code::Int, 16, DType::I16},           {dtype_code::Int, 32, DType::I32},
    {dtype_code::Int, 64, DType::I64},           {dtype_code::Float, 16, DType::F16},
    {dtype_code::Float, 32, DType::F32},         {dtype_code::Float, 64, DType::F64},
    {dtype_code::Bfloat, 16, DType::BF16},       {dtype_code::Float8_E4M3FN, 8, DType::F8_E4M3},
    {dtype_code::Float8_E5M2, 8, DType::F8_E5M2}, {dtype_code::Float8_E8M0FNU, 8, DType::F8_E8M0},
};

std::optional<DType> from_dlpack(nb::dlpack::dtype t) {
  for (const DlpackType& d : kDlpackTypes)
    if (t.lanes == 1 && t.code == static_cast<std::uint8_t>(d.code) && t.bits == d.bits) return d.dtype;
  return std::nullopt;
}

nb::dlpack::dtype to_dlpack(DType d) {
  switch (d) {
    case DType::BOOL: return nb::dtype<bool>();
    case DType::I8: return nb::dtype<std::int8_t>();
    case DType::I16: return nb::dtype<std::int16_t>();
    case DType::U16: case DType::BF16: return nb::dtype<std::uint16_t>();
    case DType::F16: return {static_cast<std::uint8_t>(dtype_code::Float), 16, 1};
    case DType::I32: return nb::dtype<std::int32_t>();
    case DType::U32: return nb::dtype<std::uint32_t>();
    case DType::F32: return nb::dtype<float>();
    case DType::F64: return nb::dtype<double>();
    case DType::I64: return nb::dtype<std::int64_t>();
    case DType::U64: return nb::dtype<std::uint64_t>();
    default: return nb::dtype<std::uint8_t>();  // U8, every 8-bit float, packed sub-byte codes
  }
}
}  // namespace

DType dtype_of(const InArray& a, const std::string& name, const std::string& label, const std::string& tensor) {
  if (!name.empty()) {
    if (auto d = dtype_from_name(name)) return *d;
    bad_input(label, tensor, "unknown dtype \"" + printable_short(name, 40) + "\" (a safetensors dtype name such as F8_E4M3)");
  }
  if (auto d = from_dlpack(a.dtype())) return *d;
  bad_input(label, tensor,
            "an array of DLPack dtype code " + std::to_string(a.dtype().code) + ", " + std::to_string(a.dtype().bits) +
                " bits, that no safetensors dtype matches");
}

diff::DumpView view_of(const std::string& tensor, const InArray& a, DType d) {
  Shape shape;
  for (std::size_t i = 0; i < a.ndim(); ++i) shape.push_back(static_cast<std::int64_t>(a.shape(i)));
  return {tensor, d, std::move(shape), {static_cast<const std::uint8_t*>(a.data()), a.nbytes()}};
}

nb::ndarray<nb::numpy> to_numpy(const Tensor& t) {
  auto* held = new Tensor(t);  // the array's owner: keeps the storage alive
  nb::capsule owner(held, [](void* p) noexcept { delete static_cast<Tensor*>(p); });
  std::vector<std::size_t> shape;
  for (std::int64_t n : t.shape()) shape.push_back(static_cast<std::size_t>(n));
  // A packed dtype (F4) has fewer bytes than elements: hand it over as its bytes.
  if (dtype_bits(t.dtype()) < 8) shape = {t.nbytes()};
  return nb::ndarray<nb::numpy>(held->data(), shape.size(), shape.data(), owner, nullptr, to_dlpack(t.dtype()));
}

}  // namespace nvfp4::py

// Element types as safetensors names them. Every dtype the format defines is known so that the
// reader can validate any file; the pipelines compute on a subset.
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

namespace nvfp4 {

enum class DType : std::uint8_t {
  BOOL, F4, F6_E2M3, F6_E3M2, U8, I8, F8_E5M2, F8_E4M3, F8_E8M0, F8_E4M3FNUZ, F8_E5M2FNUZ,
  I16, U16, F16, BF16, I32, U32, F32, C64, F64, I64, U64,
};

std::string_view dtype_name(DType d);
std::optional<DType> dtype_from_name(std::string_view name);
// Bits per logical element (4 for F4, 6 for F6_*).
int dtype_bits(DType d);
// Alignment the safetensors writer sorts by (bytes, at least 1).
int dtype_alignment(DType d);
inline constexpr DType kAllDTypes[] = {
    DType::BOOL, DType::F4, DType::F6_E2M3, DType::F6_E3M2, DType::U8, DType::I8, DType::F8_E5M2,
    DType::F8_E4M3, DType::F8_E8M0, DType::F8_E4M3FNUZ, DType::F8_E5M2FNUZ, DType::I16, DType::U16,
    DType::F16, DType::BF16, DType::I32, DType::U32, DType::F32, DType::C64, DType::F64, DType::I64,
    DType::U64};

}  // namespace nvfp4

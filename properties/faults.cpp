#include "properties/faults.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "core/module_map.h"
#include "core/safetensors.h"
#include "generator/encoders.h"

namespace nvfp4 {

std::string fault_name(Fault f) {
  switch (f) {
    case Fault::Truncate: return "file truncated inside it";
    case Fault::Drop: return "missing";
    case Fault::Reshape: return "wrong shape";
    case Fault::NanScale: return "NaN scale";
    case Fault::NegativeScale: return "negative scale";
    case Fault::InfScale: return "infinite scale";
    case Fault::ZeroScale: return "zero scale";
  }
  return "?";
}

std::vector<std::string> quantized_tensors(const GeneratedCheckpoint& g, CkptFormat f) {
  const FormatNames& fn = format_names(f);
  std::vector<std::string> r;
  for (const auto& [name, t] : g.tensors)
    for (const auto* suffix : {&fn.weight, &fn.weight_scale, &fn.weight_scale_2, &fn.input_scale})
      if (name.ends_with("." + *suffix) && (*suffix != fn.weight || t.dtype() == DType::U8)) r.push_back(name);
  return r;
}

std::vector<Fault> faults_for(const GeneratedCheckpoint& g, CkptFormat f, const std::string& tensor) {
  const FormatNames& fn = format_names(f);
  std::vector<Fault> r{Fault::Truncate, Fault::Drop, Fault::Reshape};
  if (tensor.ends_with("." + fn.weight_scale)) {
    r.insert(r.end(), {Fault::NanScale, Fault::NegativeScale});
  } else if (g.tensors.at(tensor).dtype() != DType::U8) {
    r.insert(r.end(), {Fault::NanScale, Fault::NegativeScale, Fault::InfScale, Fault::ZeroScale});
  }
  return r;
}

namespace {

Tensor scalar_like(const Tensor& t, float v) {
  Tensor r = Tensor::empty(t.dtype(), t.shape());
  if (t.dtype() == DType::BF16) {
    std::uint16_t h = f32_to_bf16(v);
    std::memcpy(r.data(), &h, 2);
  } else {
    std::memcpy(r.data(), &v, 4);
  }
  return r;
}

}  // namespace

void write_damaged(const std::filesystem::path& dir, GeneratedCheckpoint g, int files, const std::string& tensor, Fault fault,
                   std::uint64_t pick) {
  Tensor& t = g.tensors.at(tensor);
  const bool block_scales = t.dtype() == DType::F8_E4M3;
  switch (fault) {
    case Fault::Truncate: break;
    case Fault::Drop: g.tensors.erase(tensor); break;
    case Fault::Reshape:
      if (t.dim() == 2) t = Tensor::zeros(t.dtype(), {t.size(0) + 1 + static_cast<std::int64_t>(pick % 3), t.size(1)});
      else t = Tensor::zeros(t.dtype(), {2});  // a per-tensor scale that is not a scalar
      break;
    case Fault::NanScale:
    case Fault::NegativeScale:
      if (block_scales) {
        t = t.clone();
        std::uint8_t& b = t.data()[pick % static_cast<std::uint64_t>(t.numel())];
        b = fault == Fault::NanScale ? (pick & 1 ? 0x7F : 0xFF) : static_cast<std::uint8_t>(0x80 | (1 + pick % 0x7E));
      } else {
        t = scalar_like(t, fault == Fault::NanScale ? std::numeric_limits<float>::quiet_NaN() : -std::fabs(t.get_f32(0)));
      }
      break;
    case Fault::InfScale: t = scalar_like(t, pick & 1 ? INFINITY : -INFINITY); break;
    case Fault::ZeroScale: t = scalar_like(t, pick & 1 ? 0.0f : -0.0f); break;
  }
  write_checkpoint(dir, g, files);
  if (fault != Fault::Truncate) return;
  // Cut the file that holds the tensor in the middle of its bytes.
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".safetensors") continue;
    std::uintmax_t cut = 0;
    {
      SafetensorsFile f = SafetensorsFile::open(e.path());
      const TensorInfo* info = f.find(tensor);
      if (!info) continue;
      cut = 8 + f.header_size() + info->begin + (info->end - info->begin) / 2;
    }
    std::filesystem::resize_file(e.path(), cut);
    return;
  }
}

}  // namespace nvfp4

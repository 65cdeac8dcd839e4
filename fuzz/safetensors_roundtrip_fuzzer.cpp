// Structure-aware round trip: the input describes tensors (any name bytes, any dtype, a small
// shape, content) and metadata; serialize_safetensors writes them and the strict reader must read
// back exactly the same table, bytes and metadata. The writer may refuse only with a typed
// one-line error (a name that is not UTF-8, the reserved "__metadata__", a duplicate, a shape whose
// bits do not fill whole bytes). max_len 4096: a few tensors of up to 64 elements.
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/safetensors.h"
#include "fuzz/byte_reader.h"
#include "fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 4096) return 0;
  using namespace nvfp4;
  fuzz::ByteReader in(data, size);
  std::vector<TensorToWrite> ts;
  std::map<std::string, std::string> meta;
  const int n = static_cast<int>(in.in(0, 6));
  for (int i = 0; i < n; ++i) {
    const std::string name = in.str(24);
    const DType d = kAllDTypes[in.in(0, std::size(kAllDTypes) - 1)];
    Shape shape;
    const int rank = static_cast<int>(in.in(0, 3));
    for (int r = 0; r < rank; ++r) shape.push_back(in.in(0, 4));
    try {
      Tensor t = Tensor::empty(d, shape);
      for (std::size_t b = 0; b < t.nbytes(); ++b) t.data()[b] = in.byte();
      ts.push_back({name, t});
    } catch (const Error&) {  // a shape whose bits do not fill whole bytes (F4, F6)
    }
  }
  for (int i = static_cast<int>(in.in(0, 2)); i > 0; --i) meta[in.str(12)] = in.str(12);
  std::vector<std::uint8_t> bytes;
  try {
    bytes = serialize_safetensors(ts, meta);
  } catch (const Error& e) {
    const std::string w = e.what();
    fuzz::check_error_line(w);
    return 0;
  }
  SafetensorsFile f = SafetensorsFile::parse(std::move(bytes), "roundtrip");  // must not throw
  FUZZ_CHECK(f.tensors().size() == ts.size(), "wrote %zu tensors, read %zu", ts.size(), f.tensors().size());
  FUZZ_CHECK(f.metadata() == meta, "metadata changed");
  for (const auto& t : ts) {
    const TensorInfo* info = f.find(t.name);
    FUZZ_CHECK(info != nullptr, "tensor lost");
    FUZZ_CHECK(info->dtype == t.tensor.dtype() && info->shape == t.tensor.shape(), "dtype or shape changed");
    auto b = f.bytes(*info);
    FUZZ_CHECK(b.size() == t.tensor.nbytes() && (b.empty() || std::memcmp(b.data(), t.tensor.data(), b.size()) == 0), "bytes changed");
  }
  return 0;
}

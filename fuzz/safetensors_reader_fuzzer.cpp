// Any byte string: the strict reader either accepts it, and then every tensor's bytes lie inside
// the input and re-serializing gives a file that reads back to the same table, or it throws a
// typed one-line error. Anything else (a crash, a sanitizer report, another exception) is a bug.
// max_len 8 MiB (fuzz/max_len.txt): longer inputs return at once.
#include <cstdint>
#include <cstring>
#include <string>

#include "core/error.h"
#include "core/safetensors.h"
#include "fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > (8u << 20)) return 0;
  using namespace nvfp4;
  try {
    SafetensorsFile f = SafetensorsFile::parse({data, size}, "fuzz");
    std::vector<TensorToWrite> back;
    for (const auto& t : f.tensors()) {
      auto b = f.bytes(t);
      FUZZ_CHECK(b.data() >= data && b.data() + b.size() <= data + size, "tensor %s outside the input", t.name.c_str());
      back.push_back({t.name, f.tensor(t.name)});
    }
    if (f.find("__metadata__")) return 0;  // impossible: the key is reserved
    SafetensorsFile g = SafetensorsFile::parse(serialize_safetensors(back, f.metadata()), "again");
    FUZZ_CHECK(g.tensors().size() == f.tensors().size(), "round trip lost tensors");
    for (std::size_t i = 0; i < g.tensors().size(); ++i) {
      auto a = f.bytes(f.tensors()[i]), b = g.bytes(g.tensors()[i]);
      FUZZ_CHECK(g.tensors()[i].name == f.tensors()[i].name && a.size() == b.size() &&
                     (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0),
                 "round trip changed %s", f.tensors()[i].name.c_str());
    }
  } catch (const Error& e) {
    std::string w = e.what();
    fuzz::check_error_line(w);
  }
  return 0;
}

#include "properties/generators.h"

#include <cstring>

#include "core/checkpoint.h"

namespace nvfp4 {

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << describe(t); }

std::ostream& operator<<(std::ostream& os, const WriterOptions& o) {
  return os << "{format=" << format_name(o.format) << " layout=" << (o.fused ? "fused" : "unfused")
            << " layers=" << o.layers << " hidden=" << o.hidden << " intermediate=" << o.intermediate
            << " experts=" << o.experts << " files=" << o.files << " head_dim=" << o.head_dim
            << " kv_heads=" << o.kv_heads << " unequal=" << o.unequal_scales << " input_scales=" << o.input_scales
            << " scalars=" << static_cast<int>(o.scalars) << " seed=" << o.seed << "}";
}

std::ostream& operator<<(std::ostream& os, const PipelineCase& c) {
  return os << c.ckpt << " backend=" << backend_name(c.backend);
}

namespace gen {

rc::Gen<DType> dtype() { return rc::gen::elementOf(std::vector<DType>(std::begin(kAllDTypes), std::end(kAllDTypes))); }

rc::Gen<Shape> shape_for(DType d, std::int64_t max_numel) {
  return rc::gen::resize(100, rc::gen::mapcat(rc::gen::inRange(0, 5), [=](int rank) {
    return rc::gen::map(rc::gen::container<std::vector<std::int64_t>>(static_cast<std::size_t>(rank), rc::gen::inRange<std::int64_t>(0, 17)),
                        [=](Shape s) {
                          while (shape_numel(s) > max_numel) s[0] /= 2;
                          if (dtype_bits(d) % 8 != 0 && (shape_numel(s) * dtype_bits(d)) % 8 != 0) {
                            if (s.empty()) s.push_back(2);  // a scalar of 4 or 6 bits is not a whole byte
                            else s.back() = s.back() == 0 ? 0 : s.back() + 1;
                            while ((shape_numel(s) * dtype_bits(d)) % 8 != 0) s.back() += 1;
                          }
                          return s;
                        });
  }));
}

rc::Gen<Tensor> tensor() {
  return rc::gen::mapcat(dtype(), [](DType d) {
    return rc::gen::map(rc::gen::pair(shape_for(d), rc::gen::arbitrary<std::uint64_t>()), [d](auto p) {
      Tensor t = Tensor::empty(d, p.first);
      std::uint64_t s = p.second;
      for (std::size_t i = 0; i < t.nbytes(); ++i) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        t.data()[i] = static_cast<std::uint8_t>(s >> 56);
      }
      return t;
    });
  });
}

rc::Gen<std::string> tensor_name() {
  // Printable names with dots, digits and the occasional quote, backslash or non-ASCII letter
  // that the JSON header must escape.
  return rc::gen::map(rc::gen::container<std::vector<int>>(rc::gen::inRange(0, 12)), [](const std::vector<int>& v) {
    static const char* parts[] = {"model", "layers", "0", "17", "weight", "scale", "\"q\"", "a\\b", "é", "x y", "_", "."};
    std::string s = "t";
    for (int i : v) s += parts[static_cast<std::size_t>(i) % 12];
    return s;
  });
}

rc::Gen<WriterOptions> writer_options() {
  return rc::gen::resize(100, rc::gen::exec([] {
    WriterOptions o;
    o.format = *rc::gen::element(CkptFormat::ModelOpt, CkptFormat::CompressedTensors);
    o.fused = *rc::gen::arbitrary<bool>();
    o.layers = *rc::gen::inRange(1, 3);
    o.head_dim = 16 * *rc::gen::inRange(1, 3);
    int heads = *rc::gen::inRange(1, 5);
    o.hidden = o.head_dim * heads;
    o.kv_heads = *rc::gen::element(0, 1, heads);
    if (o.kv_heads && heads % o.kv_heads) o.kv_heads = 1;
    o.intermediate = 16 * *rc::gen::inRange(1, 9);
    o.experts = *rc::gen::element(0, 0, 1, 3);
    o.files = *rc::gen::inRange(1, 4);
    o.unequal_scales = !o.fused && *rc::gen::arbitrary<bool>();
    o.input_scales = *rc::gen::weightedElement<bool>({{4, true}, {1, false}});
    o.scalars = *rc::gen::element(ScalarStyle::Dim0F32, ScalarStyle::Dim1F32, ScalarStyle::Dim0BF16);
    o.zero_block_code = *rc::gen::element<std::uint8_t>(0x38, 0x00, 0x08, 0x20);
    o.seed = *rc::gen::inRange<std::uint64_t>(0, 1u << 20);
    return o;
  }));
}

namespace {

// Layout on disk: everything a reload may change.
void disk_layout(WriterOptions& o) {
  o.format = *rc::gen::element(CkptFormat::ModelOpt, CkptFormat::CompressedTensors);
  o.fused = *rc::gen::arbitrary<bool>();
  o.files = *rc::gen::inRange(1, 4);
  o.unequal_scales = !o.fused && *rc::gen::weightedElement<bool>({{2, true}, {1, false}});
  o.scalars = *rc::gen::element(ScalarStyle::Dim0F32, ScalarStyle::Dim1F32, ScalarStyle::Dim0BF16);
  o.zero_block_code = *rc::gen::element<std::uint8_t>(0x38, 0x00, 0x08, 0x20);
  o.seed = *rc::gen::inRange<std::uint64_t>(0, 1u << 20);
}

}  // namespace

rc::Gen<PipelineCase> pipeline_case() {
  return rc::gen::resize(100, rc::gen::exec([] {
    PipelineCase c;
    WriterOptions& o = c.ckpt;
    o.experts = *rc::gen::weightedElement<int>({{3, 0}, {1, 1}, {1, 2}, {2, *rc::gen::inRange(3, 17)}});
    c.backend = o.experts && *rc::gen::arbitrary<bool>() ? Backend::Trtllm : Backend::Cutlass;
    o.head_dim = 16;
    int heads = c.backend == Backend::Trtllm ? 4 * *rc::gen::inRange(1, 5) : *rc::gen::element(1, 2, 3, 5, 7, 11, 13);
    o.hidden = o.head_dim * heads;
    o.kv_heads = *rc::gen::element(0, 1, heads);
    o.intermediate = 16 * *rc::gen::inRange(1, 21);
    o.layers = o.experts > 8 ? 1 : *rc::gen::inRange(1, 3);
    o.input_scales = *rc::gen::weightedElement<bool>({{4, true}, {1, false}});
    disk_layout(o);
    return c;
  }));
}

rc::Gen<WriterOptions> reload_of(const WriterOptions& c) {
  return rc::gen::resize(100, rc::gen::exec([c] {
    WriterOptions o = c;
    disk_layout(o);
    o.seed = c.seed + 1 + *rc::gen::inRange<std::uint64_t>(0, 1000);
    return o;
  }));
}

}  // namespace gen
}  // namespace nvfp4

// RapidCheck generators shared by the properties: dtypes, shapes, tensors with random bytes,
// metadata, and checkpoint writer options. Shapes are sampled independently of RapidCheck's
// size ramp (gen::resize) so that large and odd shapes appear from the first cases.
#pragma once
#include <rapidcheck.h>

#include <ostream>
#include <string>

#include "core/dtype.h"
#include "core/pipeline.h"
#include "core/tensor.h"
#include "generator/checkpoint_writer.h"

namespace nvfp4 {

inline std::ostream& operator<<(std::ostream& os, DType d) { return os << dtype_name(d); }
std::ostream& operator<<(std::ostream& os, const Tensor& t);
std::ostream& operator<<(std::ostream& os, const WriterOptions& o);

// A checkpoint to write and the backend to process it for.
struct PipelineCase {
  WriterOptions ckpt;
  Backend backend = Backend::Cutlass;
};
std::ostream& operator<<(std::ostream& os, const PipelineCase& c);

namespace gen {

// Uniform over [lo, hi) whatever RapidCheck's current size (gen::inRange scales with it, so early
// cases would otherwise only see the bottom of the range).
template <class T>
rc::Gen<T> any_in(T lo, T hi) { return rc::gen::resize(100, rc::gen::inRange<T>(lo, hi)); }
// Any 64-bit value, likewise independent of the size.
inline rc::Gen<std::uint64_t> any_u64() { return rc::gen::resize(100, rc::gen::arbitrary<std::uint64_t>()); }

rc::Gen<DType> dtype();
// A shape of rank 0..4 whose element count fits max_numel; sub-byte dtypes get an even count.
rc::Gen<Shape> shape_for(DType d, std::int64_t max_numel = 4096);
rc::Gen<Tensor> tensor();
rc::Gen<std::string> tensor_name();
rc::Gen<WriterOptions> writer_options();
// Every layout the writer makes, on shapes chosen to break layout code: K = 16 * prime (1 .. 13)
// on cutlass, H a multiple of 64 on trtllm; I = 16 * (1 .. 20), so 2I and N are mostly off 128;
// 0 to 16 experts; unequal shard scales; backend trtllm for half the MoE cases.
rc::Gen<PipelineCase> pipeline_case();
// Another checkpoint a reload of `c` may bring: the same shapes, new weights and scales, and any
// layout on disk (fused or not, format, files, scalar style).
rc::Gen<WriterOptions> reload_of(const WriterOptions& c);

}  // namespace gen
}  // namespace nvfp4

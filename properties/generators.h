// RapidCheck generators shared by the properties: dtypes, shapes, tensors with random bytes,
// metadata, and checkpoint writer options. Shapes are sampled independently of RapidCheck's
// size ramp (gen::resize) so that large and odd shapes appear from the first cases.
#pragma once
#include <rapidcheck.h>

#include <ostream>
#include <string>

#include "core/checkpoint_writer.h"
#include "core/dtype.h"
#include "core/tensor.h"

namespace nvfp4 {

inline std::ostream& operator<<(std::ostream& os, DType d) { return os << dtype_name(d); }
std::ostream& operator<<(std::ostream& os, const Tensor& t);
std::ostream& operator<<(std::ostream& os, const WriterOptions& o);

namespace gen {

rc::Gen<DType> dtype();
// A shape of rank 0..4 whose element count fits max_numel; sub-byte dtypes get an even count.
rc::Gen<Shape> shape_for(DType d, std::int64_t max_numel = 4096);
rc::Gen<Tensor> tensor();
rc::Gen<std::string> tensor_name();
rc::Gen<WriterOptions> writer_options();

}  // namespace gen
}  // namespace nvfp4

// The model of the reload-order test (properties/reload_sequence_props.cpp): what a reader predicts
// of a sequence of Pipeline calls (core/pipeline.h) from the API's comments alone.
//   committed      the pool checkpoint whose weights are committed (-1 before a first load succeeds)
//   ref_backend    what the reference last processed for (none before its first processing): it
//                  derives everything afresh for any backend (registry/registry.h), except that
//                  trtllm needs experts with H a multiple of 64 (reference/experts.cpp)
//   opt_processed  whether the optimized pipeline has processed since its first load: it is built
//                  for one backend and refuses any other (optimized/optimized_pipeline.h)
// and which calls are refused with which error: processing before a load and a GEMM before
// processing (Usage), the optimized pipeline processing for another backend (Usage), the reference
// processing for trtllm with H % 64 != 0 (BadInput), a w4a4 GEMM without input scales (BadInput),
// a reload of other shapes and every damaged checkpoint (BadInput, with the phrase of the check).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/checkpoint.h"
#include "core/error.h"
#include "core/pipeline.h"

namespace nvfp4::reload_props {

// The pool of checkpoints written from the case: 0..2 with the same shapes (new weights, any
// layout on disk) and 3 with another intermediate size, which a loaded pipeline must refuse.
constexpr int kPool = 4, kOtherShapes = 3;
// Which shapes pool checkpoint k has: 0 (the case's) or 1 (the other intermediate size).
int shapes_of(int k);

// The two calls that load: on an empty pipeline either one is the first load, on a loaded one
// either one is a reload (each pipeline forwards the one call to the other).
enum class Via { Load, Update };
const char* via_name(Via v);
void call(Pipeline& p, Via v, const Checkpoint& c);

// Every check that refuses a load, as the damage that trips it, with the phrase its message holds.
// The checks: core/module_map.cpp (a module's tensors present, with the dtypes and shapes it reads;
// a reload keeping every shape: the pool's checkpoint 3), optimized/source_loader.cpp and
// reference/loading.cpp (block and global scale values, an encode scale's reciprocal),
// core/safetensors_reader.cpp (a file shorter than its header says, refused by Checkpoint::open
// before a pipeline sees it) and core/guarded_mapping.h (a file changed while a load reads it).
enum class Refusal {
  Missing, WrongShape, WrongDtype, NanBlockScale, NegativeBlockScale, NanGlobalScale, InfGlobalScale,
  ZeroGlobalScale, NegativeGlobalScale, NoReciprocal, Truncated, ChangedWhileRead,
};
constexpr Refusal kRefusals[] = {
    Refusal::Missing, Refusal::WrongShape, Refusal::WrongDtype, Refusal::NanBlockScale, Refusal::NegativeBlockScale,
    Refusal::NanGlobalScale, Refusal::InfGlobalScale, Refusal::ZeroGlobalScale, Refusal::NegativeGlobalScale,
    Refusal::NoReciprocal, Refusal::Truncated, Refusal::ChangedWhileRead};

struct RefusalInfo {
  const char* name;
  std::vector<std::string> phrases;  // the message holds one of them
};
RefusalInfo info(Refusal r);

// What the model predicts of one pipeline's call: accepted, or refused with this kind of error and
// one of these phrases in its one-line message.
struct Outcome {
  bool accepted = true;
  ErrorKind kind = ErrorKind::BadInput;
  std::vector<std::string> phrases;
};
Outcome accepted();
Outcome refused(ErrorKind k, std::vector<std::string> phrases);

struct Model {
  Backend opt_backend = Backend::Cutlass;  // the case's: what the optimized pipeline is built for
  bool experts = false;
  bool trtllm_refused = false;             // experts with H % 64 != 0: the reference refuses trtllm
  bool input_scales = true;                // w4a4 possible
  int committed = -1;
  std::optional<Backend> ref_backend;
  bool opt_processed = false;
};

// A first load or a reload of pool checkpoint k, in the model: a loaded pipeline refuses other shapes.
bool refuses_shapes(const Model& m, int k);
void commit(Model& m, int k);

}  // namespace nvfp4::reload_props

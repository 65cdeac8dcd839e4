// The optimized pipeline's weight loaders, split so that a load or reload is transactional without
// building anything aside: `validate_sources` reads every source tensor of the checkpoint (shapes,
// every block-scale byte, every global scale) and writes nothing; only when all of it holds does
// `copy_sources` write, straight from the memory-mapped files into the parameters' storage (no
// temporaries). A fused-on-disk scalar fills every slot (vLLM #39765, sglang #29151); the spec
// mapping guarantees every row and slot has exactly one source.
//
// What stays unguarded: a file rewritten between the two passes. The copy then takes whatever the
// file holds at that moment (bytes past the checks), and a file truncated under its mapping raises
// SIGBUS. The README says so.
#pragma once
#include <functional>
#include <map>
#include <string>

#include "core/checkpoint.h"
#include "core/module.h"
#include "core/module_map.h"

namespace nvfp4::opt {

// One checkpoint tensor and where it goes.
struct Source {
  enum class Kind { Weight, BlockScale, GlobalScale };
  Kind kind = Kind::Weight;
  std::string tensor;             // checkpoint name
  std::string param;              // destination parameter of the module
  std::int64_t expert = -1;       // batch of an [E, rows, cols] parameter; -1 for a 2-D one
  std::int64_t row = 0;           // first row written (Weight, BlockScale)
  std::int64_t rows = 0, cols = 0;// the destination's rows per batch and bytes per row
  std::int64_t slot = 0, slots = 1;  // GlobalScale: slots [slot, slot + slots) of the flattened parameter
  bool encode = false;            // a compressed-tensors encode scale: the decode scale is its f32 reciprocal
};

// Calls f(module name, Source) for every source of the model, in the reference loaders' order (so
// that both pipelines name the same first problem).
void for_each_source(const ModelSpec& spec, const std::function<void(const std::string&, const Source&)>& f);

// Throws BadInput naming the file and tensor of the first source that cannot be loaded.
void validate_sources(const Checkpoint& c, const ModelSpec& spec);
// Where a reload writes the rows of a parameter already in a processed layout that permutes rows
// (trtllm's weights): an expert's source row s goes to row destinations[s] of rows_out, each
// row_bytes wide (a source row may be narrower: the rest of the row keeps its zero padding).
struct RowPlacement {
  const std::int64_t* destinations = nullptr;
  std::int64_t rows_out = 0, row_bytes = 0;
};
using Placements = std::map<std::pair<std::string, std::string>, RowPlacement>;  // (module, parameter)

// Writes every source into `modules`, whose source parameters must be viewed in their loaded
// shapes, except those named in `direct`, written row by row to their processed places. Only after
// validate_sources succeeded on the same checkpoint.
void copy_sources(const Checkpoint& c, const ModelSpec& spec, std::map<std::string, Module>& modules, const Placements& direct = {});

}  // namespace nvfp4::opt

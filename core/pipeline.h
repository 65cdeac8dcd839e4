// The one interface both pipelines satisfy, so properties, fuzz targets, benches and the CLI
// iterate one registry. Plain types only: no transform lives here.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/checkpoint.h"
#include "core/module.h"
#include "core/module_map.h"
#include "core/tensor.h"

namespace nvfp4 {

enum class Backend { Cutlass, Trtllm };
enum class GemmMode { W4A4, W4A16 };
std::string backend_name(Backend b);
Backend parse_backend(const std::string& s);  // throws Usage
std::string gemm_mode_name(GemmMode m);
GemmMode parse_gemm_mode(const std::string& s);

// What to multiply: a linear module, or one projection of one expert.
struct GemmTarget {
  std::string module;
  int expert = -1;       // experts only
  std::string proj;      // experts only: "w13" (output [gate; up]) or "w2"
};

// A shard whose global scale was reconciled onto the module's common (max) scale, and the worst
// relative dequantization error that cost (docs/formats.md#reconciling-shard-scales).
struct Reconciliation {
  std::string module, shard;
  float own_scale, common_scale;
  double max_rel_error;  // max over blocks of |S'*common - S*own| / (S*own)
};

// What a preallocating pipeline says it holds after processing: the resident bytes (parameters
// and derived copies) and the scratch it may use on top while processing.
struct MemoryBudget {
  std::int64_t resident_bytes = 0, scratch_bytes = 0;
};

class Pipeline {
 public:
  virtual ~Pipeline() = default;
  virtual std::string name() const = 0;
  // First load: create_weights for every module of the checkpoint, then the weight loaders.
  virtual void load_weights(const Checkpoint& c) = 0;
  virtual void process_weights_after_loading(Backend b) = 0;
  // update_weights_from_disk: loaders into the same modules, then post-processing again.
  // Transactional: on any error every module is exactly as before (bytes and identities).
  virtual void update_weights_from_disk(const Checkpoint& c) = 0;

  virtual const std::map<std::string, Module>& modules() const = 0;
  virtual const ModelSpec& spec() const = 0;
  virtual const std::vector<Reconciliation>& reconciliations() const = 0;
  // y[M, N] = x[M, K] . W^T in x's dtype (F32, BF16 or F16).
  virtual Tensor gemm(const GemmTarget& t, const Tensor& x, GemmMode mode) const = 0;
  // The memory contract this pipeline keeps (checks/memory.h), if it keeps one.
  virtual std::optional<MemoryBudget> memory_budget() const { return std::nullopt; }
};

}  // namespace nvfp4

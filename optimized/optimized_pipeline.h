// The optimized pipeline: what a production engine does with NVFP4 weights, run beside the
// reference on the same checkpoints.
//
// Memory contract: create_weights (inside the first load) allocates every parameter, every
// reserved derived parameter, the index maps and one scratch buffer, each once; nothing allocates
// tensor memory after that. Processing writes derived values in place (aliases) or into their
// reserves, and the trtllm reorder/shuffle runs in place through the scratch buffer. A reload
// (update_weights_from_disk) therefore allocates 0 bytes and keeps every Parameter's identity and
// storage address, as CUDA-graph-captured kernels require.
//
// Transactions without a copy aside: a load or reload first validates every source tensor of the
// checkpoint (optimized/source_loader.h) and only then writes; processing cannot fail after that.
// A shard truncated during the checks is refused with the weights untouched; one truncated during
// the copy (after the checks passed) cannot be undone without the copy aside this design avoids:
// the reload fails naming the file and the pipeline refuses every use until a reload succeeds
// (core/guarded_mapping.h turns the truncation into zeros and a flag instead of SIGBUS).
// Processing runs once per load: calling it again is a no-op, because in-place results (a
// swizzled scale over its source) cannot be processed twice.
//
// It is built for one backend (an engine picks its kernels before it creates weights);
// process_weights_after_loading with another is a usage error.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "core/pipeline.h"
#include "optimized/experts.h"
#include "optimized/gemm.h"
#include "optimized/layout_maps.h"
#include "optimized/linear.h"

namespace nvfp4::opt {

class OptimizedPipeline final : public Pipeline {
 public:
  explicit OptimizedPipeline(Backend backend) : backend_(backend) {}
  std::string name() const override { return "optimized"; }
  void load_weights(const Checkpoint& c) override;
  void process_weights_after_loading(Backend b) override;
  void update_weights_from_disk(const Checkpoint& c) override;
  const std::map<std::string, Module>& modules() const override { return modules_; }
  const ModelSpec& spec() const override { return spec_; }
  const std::vector<Reconciliation>& reconciliations() const override { return reconciliations_; }
  Tensor gemm(const GemmTarget& t, const Tensor& x, GemmMode mode) const override;

  Backend backend() const { return backend_; }
  bool processed() const { return processed_; }
  // The scratch buffer's size (the largest in-place step's need) and every tracked byte this
  // pipeline holds: parameters, reserves not yet bound, index maps, reconcile tables, scratch.
  std::int64_t scratch_bytes() const { return static_cast<std::int64_t>(scratch_.nbytes()); }
  std::int64_t resident_bytes() const;
  std::optional<MemoryBudget> memory_budget() const override { return MemoryBudget{resident_bytes(), scratch_bytes()}; }
  // The kernel operands of a GEMM target, as gemm() reads them.
  GemmWeights weights(const GemmTarget& t) const;

 private:
  void create_weights(const ModelSpec& spec);
  void process(bool weights_placed);
  void require_intact() const;

  Backend backend_;
  bool loaded_ = false, processed_ = false;
  std::string torn_;  // the file truncated during the last reload's copy, until a reload succeeds
  ModelSpec spec_;
  std::map<std::string, Module> modules_;
  std::map<std::string, LinearPlan> linear_;
  std::map<std::string, ExpertsPlan> experts_;
  LayoutCache layouts_;
  Tensor scratch_;
  std::vector<Reconciliation> reconciliations_;
};

}  // namespace nvfp4::opt

// The reference pipeline: the oracle every other part is judged against. It keeps the loaded
// sources untouched, derives every post-processed value into fresh tensors, and on reload builds
// the whole new state aside before committing it, so a failed reload changes nothing.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/pipeline.h"
#include "reference/gemm.h"

namespace nvfp4::ref {

class ReferencePipeline final : public Pipeline {
 public:
  std::string name() const override { return "reference"; }
  void load_weights(const Checkpoint& c) override;
  void process_weights_after_loading(Backend b) override;
  void update_weights_from_disk(const Checkpoint& c) override;
  const std::map<std::string, Module>& modules() const override { return modules_; }
  const ModelSpec& spec() const override { return spec_; }
  const std::vector<Reconciliation>& reconciliations() const override { return reconciliations_; }
  Tensor gemm(const GemmTarget& t, const Tensor& x, GemmMode mode) const override;
  // The dequantize-then-Eigen path on the same operands (for bounds and cross-checks).
  Tensor gemm_eigen(const GemmTarget& t, const Tensor& x, GemmMode mode) const;
  std::optional<Backend> backend() const { return backend_; }
  // The logical (unshuffled, unswizzled) operands the GEMM of target t multiplies.
  struct Operands {
    LogicalWeight w;
    GemmScalars s;
  };
  Operands operands(const GemmTarget& t, GemmMode mode) const;
  // Its two halves: the weight (the same in both modes) and the mode's scalars.
  LogicalWeight logical_weight(const GemmTarget& t) const;
  GemmScalars scalars(const GemmTarget& t, GemmMode mode) const;

 private:
  using Modules = std::map<std::string, Module>;
  struct Processed { Modules modules; std::vector<Reconciliation> rec; };
  static Modules load_all(const Checkpoint& c, const ModelSpec& spec);
  static Modules load_intact(const Checkpoint& c, const ModelSpec& spec);
  static Processed process_all(const ModelSpec& spec, const Modules& sources, Backend b);
  static Modules fresh_copy(const Modules& sources);  // engine-visible parameters before processing
  // Makes each module of `into` hold exactly the names and aliases of `from` (a name `from` lacks
  // goes), with the fresh tensors; a name keeps its Parameter object unless another name took it.
  static void commit(Modules& into, Modules&& from);

  ModelSpec spec_;
  Modules sources_;   // as loaded; never written after the load
  Modules modules_;   // what an engine's modules hold: sources before processing, all names after
  std::vector<Reconciliation> reconciliations_;
  std::optional<Backend> backend_;
};

}  // namespace nvfp4::ref

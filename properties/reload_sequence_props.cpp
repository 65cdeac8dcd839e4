// Reload orders as a stateful test (rc::state). Both pipelines, made through registry/ for the
// case's backend and starting empty, run a random sequence of the calls the Pipeline API
// (core/pipeline.h) offers, in any order: load a pool checkpoint, load a damaged checkpoint,
// process for either backend, GEMM (the commands: properties/reload_commands.h). The pool holds
// four checkpoints written from the case: 0..2 with the same shapes (new weights, any layout on
// disk) and 3 with another intermediate size, which a loaded pipeline must refuse.
//
// The model (properties/reload_model.h) is what a reader predicts from the API's comments: which
// checkpoint is committed, what each pipeline last processed for, which calls are refused with
// which error. After every command each pipeline must hold what a cold pipeline of the model's
// state holds, keep the optimized pipeline's identities and addresses, and a refused call changes
// nothing (properties/reload_system.h). A GEMM both accept is within the optimized kernel's bound
// of the reference's exact oracle. A failure names the step and its command, the pipeline, the
// parameter and its first differing byte; RapidCheck prints the whole (shrunk) sequence.
// ReloadOrders.EveryOrderAndRefusalOnce walks each order and each refusal once, deterministically,
// on three fixed models, so none of them depends on the random draws.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <rapidcheck/state.h>

#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "generator/test/small_model.h"
#include "properties/generators.h"
#include "properties/reload_commands.h"
#include "properties/reload_model.h"
#include "properties/reload_system.h"

namespace nvfp4::reload_props {
namespace {

RC_GTEST_PROP(ReloadSequenceProps, EveryStepMatchesTheModel, ()) {
  auto pool = std::make_shared<Pool>();
  const PipelineCase c = *gen::pipeline_case();
  WriterOptions other = c.ckpt;
  other.intermediate += 16;
  pool->write(c, *gen::reload_of(c.ckpt), *gen::reload_of(c.ckpt), *gen::reload_of(other));
  RC_TAG(backend_name(c.backend), c.ckpt.experts ? "moe" : "dense");
  Sut s = make_sut(pool);
  rc::state::check(pool->model(), s, rc::state::gen::execOneOfWithArgs<LoadPool, LoadDamaged, Process, Gemm>());
}

// Each order once, and each refusal before the first load, before the first processing and after
// it, on a dense cutlass model, a MoE cutlass one whose H the reference refuses for trtllm, and a
// MoE trtllm one that the reference may also process for cutlass.
struct WalkCase {
  const char* name;
  Backend backend;
  int experts;
  std::int64_t hidden;
};
void PrintTo(const WalkCase& c, std::ostream* os) { *os << c.name; }

class ReloadOrders : public ::testing::TestWithParam<WalkCase> {};

TEST_P(ReloadOrders, EveryOrderAndRefusalOnce) {
  const WalkCase wc = GetParam();
  PipelineCase c;
  c.backend = wc.backend;
  c.ckpt = small_model();
  c.ckpt.experts = wc.experts;
  c.ckpt.hidden = wc.hidden;
  c.ckpt.files = 2;
  c.ckpt.unequal_scales = true;
  WriterOptions r1 = c.ckpt, r2 = c.ckpt, other = c.ckpt;
  r1.seed = 1;
  r1.fused = true;
  r1.unequal_scales = false;
  r2.seed = 2;
  r2.format = CkptFormat::CompressedTensors;
  r2.files = 1;
  other.seed = 3;
  other.intermediate += 16;
  auto pool = std::make_shared<Pool>();
  pool->write(c, r1, r2, other);
  const Backend other_backend = wc.backend == Backend::Cutlass ? Backend::Trtllm : Backend::Cutlass;

  using Cmd = std::shared_ptr<const Command>;
  std::vector<Cmd> cmds;
  std::uint64_t pick = 13;  // another victim each time
  auto refusals = [&](int k) {
    for (std::size_t i = 0; i < std::size(kRefusals); ++i, pick += 7919)
      cmds.push_back(std::make_shared<LoadDamaged>(kRefusals[i], k, i % 2 ? Via::Load : Via::Update, pick));
  };
  auto gemms = [&] {
    for (std::uint64_t pick : {0, 5, 11}) cmds.push_back(std::make_shared<Gemm>(3, pick % 2 ? GemmMode::W4A4 : GemmMode::W4A16, pick));
  };
  gemms();                                                    // GEMM before a load
  cmds.push_back(std::make_shared<Process>(wc.backend));      // processing before a load
  refusals(0);                                                // every refusal of a first load
  cmds.push_back(std::make_shared<LoadPool>(1, Via::Update)); // a first load by update_weights_from_disk
  cmds.push_back(std::make_shared<LoadPool>(2, Via::Load));   // two loads in a row
  cmds.push_back(std::make_shared<LoadPool>(kOtherShapes, Via::Load));  // other shapes: refused
  gemms();                                                    // GEMM before processing
  refusals(0);                                                // every refusal before processing
  cmds.push_back(std::make_shared<LoadPool>(0, Via::Update)); // a reload before processing
  cmds.push_back(std::make_shared<Process>(other_backend));   // processing for the other backend first
  cmds.push_back(std::make_shared<Process>(wc.backend));
  cmds.push_back(std::make_shared<Process>(wc.backend));      // processing twice
  gemms();
  refusals(1);                                                // every refusal after processing
  cmds.push_back(std::make_shared<LoadPool>(kOtherShapes, Via::Update));
  cmds.push_back(std::make_shared<LoadPool>(1, Via::Load));   // load_weights as a reload
  cmds.push_back(std::make_shared<LoadPool>(2, Via::Update));
  cmds.push_back(std::make_shared<Process>(other_backend)); // a backend change after processing
  gemms();
  cmds.push_back(std::make_shared<LoadPool>(0, Via::Update)); // a reload after the change
  cmds.push_back(std::make_shared<Process>(wc.backend));      // and back
  gemms();
  Sut s = make_sut(pool);
  try {
    rc::state::runAll(cmds, pool->model(), s);
  } catch (const rc::detail::CaseResult& r) {  // what RC_FAIL throws outside a property
    FAIL() << r.description;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, ReloadOrders,
                         ::testing::Values(WalkCase{"dense_cutlass", Backend::Cutlass, 0, 64},
                                           WalkCase{"moe_cutlass_h48", Backend::Cutlass, 2, 48},
                                           WalkCase{"moe_trtllm", Backend::Trtllm, 2, 64}),
                         [](const auto& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace nvfp4::reload_props

// Fault injection at every quantized tensor of a reload checkpoint, with every fault that applies,
// for both pipelines: each reload is refused with a one-line error naming the tensor's file or the
// checkpoint, and leaves every parameter byte-identical with the same identities (and, for the
// optimized pipeline, the same storage addresses). Deterministic and exhaustive, where the
// RapidCheck property samples.
#include <gtest/gtest.h>

#include "core/error.h"
#include "checks/reload.h"
#include "core/test/temp_dir.h"
#include "generator/checkpoint_writer.h"
#include "generator/test/small_model.h"
#include "properties/faults.h"
#include "registry/registry.h"

namespace nvfp4 {
namespace {

struct FaultCase { const char* name; WriterOptions ckpt; Backend backend; };
void PrintTo(const FaultCase& c, std::ostream* os) { *os << c.name; }

std::vector<FaultCase> fault_cases() {
  WriterOptions moe = small_model();
  moe.experts = 2;
  moe.intermediate = 48;
  moe.files = 3;
  moe.unequal_scales = true;
  WriterOptions dense = small_model();
  dense.fused = true;
  dense.format = CkptFormat::CompressedTensors;
  dense.files = 2;
  return {{"moe_unfused_modelopt_trtllm", moe, Backend::Trtllm},
          {"moe_unfused_modelopt_cutlass", moe, Backend::Cutlass},
          {"dense_fused_ct_cutlass", dense, Backend::Cutlass}};
}

class EveryTensorFaults : public ::testing::TestWithParam<FaultCase> {};

TEST_P(EveryTensorFaults, LeaveBothPipelinesUntouched) {
  const FaultCase s = GetParam();
  TempDir good, bad;
  write_checkpoint(good.path(), generate_checkpoint(s.ckpt), s.ckpt.files);
  WriterOptions next = s.ckpt;
  next.seed = 11;
  const GeneratedCheckpoint g = generate_checkpoint(next);
  std::vector<std::unique_ptr<Pipeline>> ps;
  std::vector<State> before;
  for (const auto& name : pipeline_names()) {
    ps.push_back(make_pipeline(name, s.backend));
    ps.back()->load_weights(Checkpoint::open(good.path()));
    ps.back()->process_weights_after_loading(s.backend);
    before.push_back(capture(*ps.back()));
  }
  int injected = 0;
  for (const std::string& victim : quantized_tensors(g, next.format))
    for (Fault f : faults_for(g, next.format, victim)) {
      write_damaged(bad.path(), g, next.files, victim, f, static_cast<std::uint64_t>(injected) * 7919);
      ++injected;
      for (std::size_t i = 0; i < ps.size(); ++i) {
        SCOPED_TRACE(ps[i]->name() + ": " + victim + " " + fault_name(f));
        try {
          ps[i]->update_weights_from_disk(Checkpoint::open(bad.path()));
          ADD_FAILURE() << "reload accepted";
        } catch (const Error& e) {
          const std::string w = e.what();
          EXPECT_EQ(w.find('\n'), std::string::npos) << w;
          EXPECT_NE(w.find(bad.path().string()), std::string::npos) << "names neither the file nor the checkpoint: " << w;
        }
        const checks::Result r = checks::kept(before[i], capture(*ps[i]), pipeline_kind(ps[i]->name()).reload, "before", "after the failed reload");
        EXPECT_TRUE(r.ok) << r.detail;
      }
      std::filesystem::remove_all(bad.path());
    }
  EXPECT_GT(injected, 80);  // every tensor of every module, 3 to 7 faults each
}

INSTANTIATE_TEST_SUITE_P(Checkpoints, EveryTensorFaults, ::testing::ValuesIn(fault_cases()),
                         [](const auto& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace nvfp4

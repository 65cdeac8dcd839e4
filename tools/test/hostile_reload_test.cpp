// Shards changed under their memory map during a reload, on both pipelines, and writes interrupted
// by a signal: no SIGBUS, no torn state, no temporary left behind. Each expectation is the
// specific refusal and the exact state a user is left with.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "checks/agreement.h"
#include "checks/state.h"
#include "core/checkpoint.h"
#include "core/error.h"
#include "core/interrupt_cleanup.h"
#include "core/safetensors.h"
#include "core/test/rewrite_in_place.h"
#include "registry/registry.h"
#include "tools/test/hostile_util.h"

namespace nvfp4::hostile_test {
namespace {

// --- A shard truncated while mapped -------------------------------------------------------------

// Changes `file` when the view hook has been called `at` times: truncates it to 64 bytes (reads
// past the new end fault), or rewrites its whole data section in place with bytes no check of the
// values can notice (core/test/rewrite_in_place.h), so that only the file's own state tells.
struct ChangeAt {
  fs::path file;
  int at;
  bool rewrite = false;
  int seen = 0;
  void arm() {
    SafetensorsFile::set_view_hook_for_testing([this](const std::string& label, const std::string&) {
      if (++seen != at || label != file.string()) return;
      if (!rewrite) return fs::resize_file(file, 64);
      testdata::fill_data_section_in_place(file);
    });
  }
  ~ChangeAt() { SafetensorsFile::set_view_hook_for_testing({}); }
};

// The tensor views a reload of ckpt takes, in order.
std::vector<std::string> views_of_a_reload(Pipeline& p, const fs::path& ckpt) {
  std::vector<std::string> names;
  SafetensorsFile::set_view_hook_for_testing([&](const std::string&, const std::string& n) { names.push_back(n); });
  p.update_weights_from_disk(Checkpoint::open(ckpt));
  SafetensorsFile::set_view_hook_for_testing({});
  return names;
}

// How many views the checks take before anything is written. The reference builds everything
// aside, so all of its views are checks. The optimized pipeline validates first, viewing only the
// scales (optimized/source_loader.cpp reads weight shapes from the header), then copies, viewing
// every tensor: its checks end at the first view of a packed weight.
int check_views(const std::string& pipeline, const std::vector<std::string>& names) {
  if (pipeline == "reference") return static_cast<int>(names.size());
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i].ends_with(".weight") || names[i].ends_with(".weight_packed")) return static_cast<int>(i);
  return static_cast<int>(names.size());
}

TEST_F(Hostile, ShardChangedDuringTheChecksLeavesEveryPipelineAsItWas) {
  // Reload B over A while B's only shard is truncated under its mapping after the first tensor
  // view: no SIGBUS, an error naming the file, and every byte, identity and address as after A.
  WriterOptions o = small_model();
  o.experts = 2;
  write_checkpoint(dir("A"), generate_checkpoint(o), 1);
  o.seed = 7;
  write_checkpoint(dir("B"), generate_checkpoint(o), 1);
  // Truncated after the first view and after the last view of the checks (so that the last tensor
  // checked reads as zeros, which may pass its own checks: only the file's state can tell).
  for (const auto& name : pipeline_names()) {
    for (Backend b : {Backend::Cutlass, Backend::Trtllm}) {
      auto p = make_pipeline(name, b);
      p->load_weights(Checkpoint::open(dir("A")));
      p->process_weights_after_loading(b);
      const int last = check_views(name, views_of_a_reload(*p, dir("A")));
      ASSERT_GT(last, 1) << name;
      const State before = capture(*p);
      const auto recs = p->reconciliations();
      fs::copy_file(dir("B") / "model.safetensors", dir("B.safetensors"), fs::copy_options::overwrite_existing);
      for (int at : {1, last})
        for (bool rewrite : {false, true}) {
        {
          ChangeAt t{dir("B") / "model.safetensors", at, rewrite};
          t.arm();
          try {
            p->update_weights_from_disk(Checkpoint::open(dir("B")));
            ADD_FAILURE() << name << ": a shard " << (rewrite ? "rewritten" : "truncated") << " at view " << at << " was accepted";
          } catch (const Error& e) {
            EXPECT_EQ(e.file(), (dir("B") / "model.safetensors").string());
            EXPECT_NE(std::string(e.what()).find("changed while being read (truncated or rewritten under its memory map)"),
                      std::string::npos)
                << e.what();
          }
        }
        EXPECT_EQ(first_difference(before, capture(*p), Same::Addresses, "before", "after the failed reload"), "")
            << name << (rewrite ? " rewritten" : " truncated") << " at view " << at;
        EXPECT_EQ(checks::reconciliation_difference(recs, p->reconciliations(), "before", "after the failed reload"), "");
        fs::copy_file(dir("B.safetensors"), dir("B") / "model.safetensors", fs::copy_options::overwrite_existing);
      }
      p->update_weights_from_disk(Checkpoint::open(dir("B")));  // and a good reload still works
    }
  }
}

TEST_F(Hostile, ShardTruncatedDuringTheOptimizedCopyIsRefusedUntilAGoodReload) {
  // The one window the optimized pipeline (no copy aside) cannot close: truncation after the
  // checks passed, during the copy. The reload fails naming the file, every later use is refused,
  // and a good reload restores exactly the state a cold load gives.
  WriterOptions o = small_model();
  write_checkpoint(dir("A"), generate_checkpoint(o), 1);
  o.seed = 9;
  write_checkpoint(dir("B"), generate_checkpoint(o), 1);
  fs::copy_file(dir("B") / "model.safetensors", dir("B.safetensors"));
  auto p = make_pipeline("optimized", Backend::Cutlass);
  p->load_weights(Checkpoint::open(dir("A")));
  p->process_weights_after_loading(Backend::Cutlass);
  const int views = static_cast<int>(views_of_a_reload(*p, dir("A")).size());
  {
    ChangeAt t{dir("B") / "model.safetensors", views};  // truncated at the last view, in the copy pass
    t.arm();
    EXPECT_THROW(p->update_weights_from_disk(Checkpoint::open(dir("B"))), Error);
  }
  Tensor x = Tensor::empty(DType::F32, {1, 64});
  for (int i = 0; i < 64; ++i) x.data_as<float>()[i] = 0.5f;
  try {
    p->gemm({"model.layers.0.self_attn.o_proj", -1, ""}, x, GemmMode::W4A16);
    ADD_FAILURE() << "GEMM on torn weights";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("truncated during the last reload's copy; reload before using the weights"), std::string::npos)
        << e.what();
  }
  fs::copy_file(dir("B.safetensors"), dir("B") / "model.safetensors", fs::copy_options::overwrite_existing);
  p->update_weights_from_disk(Checkpoint::open(dir("B")));
  auto cold = make_pipeline("optimized", Backend::Cutlass);
  cold->load_weights(Checkpoint::open(dir("B")));
  cold->process_weights_after_loading(Backend::Cutlass);
  EXPECT_EQ(first_difference(capture(*cold), capture(*p), Same::Bytes, "cold B", "B after a torn reload"), "");
  EXPECT_NO_THROW(p->gemm({"model.layers.0.self_attn.o_proj", -1, ""}, x, GemmMode::W4A16));
}

// --- Interrupted writes ------------------------------------------------------------------------

TEST_F(Hostile, InterruptRemovesTheTemporaryAndReRaises) {
  const fs::path tmp = dir("out.safetensors.tmp.1");
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // the child: an output being written when SIGTERM arrives
    install_interrupt_cleanup();
    TempFileGuard guard(tmp);
    write_text(tmp, "partial");
    raise(SIGTERM);
    _exit(0);  // not reached: the handler re-raises with the default action
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << "the exit status still says SIGTERM";
  EXPECT_FALSE(fs::exists(tmp)) << "temporary left behind";
}

}  // namespace
}  // namespace nvfp4::hostile_test

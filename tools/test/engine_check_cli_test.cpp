// nvfp4 engine-check's own refusals, before any environment is made (the properties themselves
// run under the `engines` label, engine_check_test.py): exit 2 and one line naming the problem.
#include <gtest/gtest.h>

#include "tools/test/cli_run.h"

namespace nvfp4 {
namespace {

TEST(EngineCheckCli, RefusesWhatItCannotRun) {
  const struct {
    std::vector<std::string> args;
    std::string says;
  } cases[] = {
      {{"engine-check"}, "--engine is required"},
      {{"engine-check", "--engine", "sglang"}, "--engine sglang: expected ENGINE==VERSION"},
      {{"engine-check", "--engine", "sglang==0.5.23;true"}, "letters, digits and ._=+- only"},
      {{"engine-check", "--engine", "vllm==0.33.0", "--backend", "a b"}, "--backend \"a b\": letters, digits"},
      {{"engine-check", "--engine", "vllm==0.33.0", "--format", "gguf"}, "--format: must be one of modelopt|compressed-tensors"},
      {{"engine-check", "--engine", "vllm==0.33.0", "--property", "fast"}, "--property: must be one of"},
      {{"engine-check", "--engine", "vllm==0.33.0", "--examples", "0"}, "--examples"},
      // engines/envs.tsv has no such row: engine_env.sh says so (on stderr), nothing is built
      {{"engine-check", "--engine", "trtllm==1.0"}, "no environment for trtllm==1.0"},
  };
  for (const auto& c : cases) {
    const CliRun r = nvfp4(c.args);
    EXPECT_EQ(r.code, 2) << c.args.back();
    EXPECT_NE(r.err.find(c.says), std::string::npos) << c.args.back() << ": " << r.err;
    EXPECT_EQ(r.out, "") << c.args.back();
  }
}

}  // namespace
}  // namespace nvfp4

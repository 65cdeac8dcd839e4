// verify, process and gemm stream: under a data-memory limit (RLIMIT_DATA: heap and private writable mappings; the
// checkpoint's read-only file mapping is not counted, as the kernel pages it from the page cache)
// well below the checkpoint's size, it still checks everything and passes. Under a limit too small
// for one module it stops with exit 3 and a message that says how much it asked for, not a crash
// or a bad-input exit. Each run is a forked child, so the limit binds only it.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "core/safetensors.h"

#include "core/test/temp_dir.h"
#include "generator/checkpoint_writer.h"

namespace nvfp4 {
namespace {

// Exit code of `nvfp4 ARGS` (the real binary, exec'd in a fresh address space) in a child limited
// to `limit` bytes of data memory; its stderr goes to err_file.
int nvfp4_limited(const std::vector<std::string>& args, std::uint64_t limit, const std::filesystem::path& err_file) {
  std::vector<char*> argv{const_cast<char*>(NVFP4_BIN)};
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("NVFP4_THREADS", "1", 1);  // no kernel worker threads: their stacks would count too
    rlimit r{limit, limit};
    ::setrlimit(RLIMIT_DATA, &r);
    const int fd = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), null = ::open("/dev/null", O_WRONLY);
    ::dup2(fd, 2);
    ::dup2(null, 1);
    ::execv(NVFP4_BIN, argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// `nvfp4 verify dir --jobs 1` under the limit.
int verify_limited(const std::filesystem::path& dir, std::uint64_t limit, const std::filesystem::path& err_file) {
  return nvfp4_limited({"verify", dir.string(), "--jobs", "1", "--activation-rows", "1", "--reloads", "1"}, limit, err_file);
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream e(p);
  return {std::istreambuf_iterator<char>(e), {}};
}

std::uint64_t dir_bytes(const std::filesystem::path& d) {
  std::uint64_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(d)) n += e.file_size();
  return n;
}

TEST(MemoryLimit, VerifyStreamsUnderALimitWellBelowTheCheckpoint) {
  TempDir d;
  WriterOptions o;
  o.layers = 16;
  o.hidden = 1024;
  o.intermediate = 2048;
  o.head_dim = 64;
  o.files = 2;
  write_checkpoint_streaming(d.path() / "ckpt", o, 2);
  const std::uint64_t size = dir_bytes(d.path() / "ckpt");
  const std::uint64_t limit = size / 2;
  ASSERT_GT(size, 60u << 20) << "a checkpoint big enough for the limit to mean something";
  const int code = verify_limited(d.path() / "ckpt", limit, d.path() / "err.txt");
  const std::string err = slurp(d.path() / "err.txt");
  EXPECT_EQ(code, 0) << "checkpoint " << size << " bytes, limit " << limit << ": " << err;
}

TEST(MemoryLimit, ProcessAndGemmHoldOneChunkOfExperts) {
  // One layer of 16 experts (~27 MiB packed): under 48 MiB, process with whole layers runs out of
  // memory (the reference pipeline holds the loaded and the processed layer), in chunks of 2 MiB
  // (one expert each) it passes; gemm loads one expert and passes.
  TempDir d;
  WriterOptions o;
  o.layers = 1;
  o.hidden = 1024;
  o.intermediate = 1024;
  o.head_dim = 64;
  o.experts = 16;
  write_checkpoint_streaming(d.path() / "ckpt", o, 1);
  const std::string ckpt = (d.path() / "ckpt").string(), out = (d.path() / "p.safetensors").string();
  const std::uint64_t limit = 48u << 20;
  // One unit at a time: the limit is sized for one chunk in memory, not one per core.
  const std::vector<std::string> process{"process", ckpt, "--out", out, "--jobs", "1"};
  auto with = [](std::vector<std::string> a, std::vector<std::string> more) {
    a.insert(a.end(), more.begin(), more.end());
    return a;
  };
  EXPECT_EQ(nvfp4_limited(with(process, {"--experts-chunk-mib", "0"}), limit, d.path() / "err.txt"), 3) << slurp(d.path() / "err.txt");
  // The advice names the options the command has: process has both.
  const std::string process_err = slurp(d.path() / "err.txt");
  EXPECT_NE(process_err.find("(try --jobs 1, a smaller --experts-chunk-mib, or more memory)"), std::string::npos) << process_err;
  EXPECT_EQ(nvfp4_limited(with(process, {"--experts-chunk-mib", "2"}), limit, d.path() / "err.txt"), 0) << slurp(d.path() / "err.txt");
  Tensor x = Tensor::zeros(DType::F32, {4, 1024});
  write_safetensors(d.path() / "x.safetensors", {{"x", x}});
  EXPECT_EQ(nvfp4_limited({"gemm", ckpt, "--module", "model.layers.0.mlp.experts", "--expert", "9", "--proj", "w13", "--input",
                           (d.path() / "x.safetensors").string(), "--out", (d.path() / "y.safetensors").string(), "--mode", "w4a4"},
                          limit, d.path() / "err.txt"),
            0)
      << slurp(d.path() / "err.txt");
  // gemm has neither option: no advice to use one.
  EXPECT_EQ(nvfp4_limited({"gemm", ckpt, "--module", "model.layers.0.mlp.experts", "--expert", "9", "--proj", "w13", "--input",
                           (d.path() / "x.safetensors").string(), "--out", (d.path() / "y.safetensors").string(), "--mode", "w4a4"},
                          4u << 20, d.path() / "err.txt"),
            3)
      << slurp(d.path() / "err.txt");
  const std::string gemm_err = slurp(d.path() / "err.txt");
  EXPECT_EQ(gemm_err.find("--"), std::string::npos) << gemm_err;
  EXPECT_NE(gemm_err.find("more memory is needed"), std::string::npos) << gemm_err;
}

TEST(MemoryLimit, TooLittleMemoryIsItsOwnExitCode) {
  TempDir d;
  WriterOptions o;
  o.layers = 1;
  o.hidden = 1024;
  o.intermediate = 4096;
  write_checkpoint_streaming(d.path() / "ckpt", o, 1);
  const int code = verify_limited(d.path() / "ckpt", 24u << 20, d.path() / "err.txt");
  const std::string err = slurp(d.path() / "err.txt");
  EXPECT_EQ(code, 3) << err;
  EXPECT_NE(err.find("out of memory"), std::string::npos) << err;
  EXPECT_NE(err.find("(try --jobs 1, a smaller --experts-chunk-mib, or more memory)"), std::string::npos) << "verify has both: " << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << "one line: " << err;
}

}  // namespace
}  // namespace nvfp4

// verify streams: under a data-memory limit (RLIMIT_DATA: heap and private writable mappings; the
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

#include "core/test/temp_dir.h"
#include "generator/checkpoint_writer.h"

namespace nvfp4 {
namespace {

// Exit code of `nvfp4 verify dir --jobs 1` (the real binary, exec'd in a fresh address space) in a
// child limited to `limit` bytes of data memory; its stderr goes to err_file.
int verify_limited(const std::filesystem::path& dir, std::uint64_t limit, const std::filesystem::path& err_file) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("NVFP4_THREADS", "1", 1);  // no kernel worker threads: their stacks would count too
    rlimit r{limit, limit};
    ::setrlimit(RLIMIT_DATA, &r);
    const int fd = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), null = ::open("/dev/null", O_WRONLY);
    ::dup2(fd, 2);
    ::dup2(null, 1);
    const std::string d = dir.string();
    ::execl(NVFP4_BIN, NVFP4_BIN, "verify", d.c_str(), "--jobs", "1", "--activation-rows", "1", "--reloads", "1", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
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
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << "one line: " << err;
}

}  // namespace
}  // namespace nvfp4

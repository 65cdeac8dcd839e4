// Temporary files removed when the process is interrupted. Every output is written to a temporary
// beside its destination and renamed into place; SIGINT/SIGTERM/SIGHUP during process, gemm or
// make-checkpoint would otherwise leave the temporary behind. The handler unlinks every
// registered path, then re-raises the signal with its default action, so the exit status still
// says which signal ended the process.
#pragma once
#include <filesystem>

namespace nvfp4 {

// Installs the handlers (idempotent). The nvfp4 command calls it first thing; a library user
// that has its own handlers simply does not.
void install_interrupt_cleanup();

// Registers path for removal on interrupt for its lifetime.
class TempFileGuard {
 public:
  explicit TempFileGuard(const std::filesystem::path& path);
  ~TempFileGuard();
  TempFileGuard(const TempFileGuard&) = delete;
  TempFileGuard& operator=(const TempFileGuard&) = delete;

 private:
  int slot_ = -1;
};

}  // namespace nvfp4

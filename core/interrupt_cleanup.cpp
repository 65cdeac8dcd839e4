#include "core/interrupt_cleanup.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>

namespace nvfp4 {
namespace {

// Paths as C strings owned by the guards; the handler only reads them (no locks, no allocation).
constexpr int kSlots = 64;
std::atomic<char*> g_paths[kSlots];

void on_interrupt(int sig) {
  for (auto& p : g_paths)
    if (char* s = p.load(std::memory_order_acquire)) ::unlink(s);
  signal(sig, SIG_DFL);
  raise(sig);
}

}  // namespace

void install_interrupt_cleanup() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
      struct sigaction sa {};
      sa.sa_handler = on_interrupt;
      sigemptyset(&sa.sa_mask);
      sigaction(sig, &sa, nullptr);
    }
  });
}

TempFileGuard::TempFileGuard(const std::filesystem::path& path) {
  char* copy = strdup(path.c_str());
  if (!copy) return;
  for (int i = 0; i < kSlots; ++i) {
    char* expected = nullptr;
    if (g_paths[i].compare_exchange_strong(expected, copy, std::memory_order_acq_rel)) {
      slot_ = i;
      return;
    }
  }
  free(copy);  // more than kSlots outputs at once: this one is not cleaned up on interrupt
}

TempFileGuard::~TempFileGuard() {
  if (slot_ >= 0) free(g_paths[slot_].exchange(nullptr, std::memory_order_acq_rel));
}

}  // namespace nvfp4

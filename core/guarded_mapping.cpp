#include "core/guarded_mapping.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <stdexcept>

namespace nvfp4 {
namespace {

// Lock-free slots, read by the signal handler (which may not take locks or allocate).
struct Slot {
  std::atomic<std::uintptr_t> begin{0}, end{0};
  std::atomic<bool> torn{false};
};
constexpr int kSlots = 1 << 14;  // mappings alive at once (one per open shard)
Slot g_slots[kSlots];
struct sigaction g_previous;
std::once_flag g_installed;

void on_sigbus(int sig, siginfo_t* info, void* ctx) {
  const auto a = reinterpret_cast<std::uintptr_t>(info->si_addr);
  for (auto& s : g_slots) {
    const std::uintptr_t b = s.begin.load(std::memory_order_acquire);
    if (b == 0 || a < b) continue;
    const std::uintptr_t e = s.end.load(std::memory_order_acquire);
    if (a >= e) continue;
    // The file shrank under this mapping: zero pages from the faulting page to the end of the
    // range, so the interrupted read completes (with zeros) and the reader can see torn().
    const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
    const std::uintptr_t from = a / page * page;
    void* r = mmap(reinterpret_cast<void*>(from), e - from, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (r == MAP_FAILED) break;  // cannot repair: fall through to the previous action
    s.torn.store(true, std::memory_order_release);
    return;
  }
  // Not ours: behave as if we were never installed.
  if (g_previous.sa_flags & SA_SIGINFO) {
    if (g_previous.sa_sigaction) return g_previous.sa_sigaction(sig, info, ctx);
  } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    return g_previous.sa_handler(sig);
  }
  signal(sig, SIG_DFL);  // the faulting instruction runs again and takes the default action
}

void install() {
  struct sigaction sa {};
  sa.sa_sigaction = on_sigbus;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGBUS, &sa, &g_previous);
}

}  // namespace

GuardedMapping::GuardedMapping(int fd, std::size_t len) : len_(len) {
  std::call_once(g_installed, install);
  fd_ = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (fd_ < 0 || fstat(fd_, &at_map_) != 0) {
    if (fd_ >= 0) ::close(fd_);
    throw std::runtime_error(std::string("cannot stat: ") + std::strerror(errno));
  }
  addr_ = mmap(nullptr, len, PROT_READ, MAP_PRIVATE, fd, 0);
  if (addr_ == MAP_FAILED) {
    addr_ = nullptr;
    const int e = errno;
    ::close(fd_);
    throw std::runtime_error(std::string("cannot map: ") + std::strerror(e));
  }
  const auto b = reinterpret_cast<std::uintptr_t>(addr_);
  for (int i = 0; i < kSlots; ++i) {
    std::uintptr_t expected = 0;
    if (g_slots[i].begin.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {  // claim
      g_slots[i].torn.store(false);
      g_slots[i].end.store(b + len, std::memory_order_release);
      g_slots[i].begin.store(b, std::memory_order_release);
      slot_ = i;
      return;
    }
  }
  munmap(addr_, len_);
  ::close(fd_);
  addr_ = nullptr;
  throw std::runtime_error("too many files mapped at once");
}

GuardedMapping::~GuardedMapping() {
  if (slot_ >= 0) {
    g_slots[slot_].end.store(0, std::memory_order_release);
    g_slots[slot_].begin.store(0, std::memory_order_release);
  }
  if (addr_) munmap(addr_, len_);
  if (fd_ >= 0) ::close(fd_);
}

bool GuardedMapping::changed() const {
  if (slot_ >= 0 && g_slots[slot_].torn.load(std::memory_order_acquire)) return true;
  struct stat now {};
  if (fstat(fd_, &now) != 0) return true;
  const auto same = [](const timespec& a, const timespec& b) { return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec; };
  return now.st_size != at_map_.st_size || !same(now.st_mtim, at_map_.st_mtim) || !same(now.st_ctim, at_map_.st_ctim);
}

}  // namespace nvfp4

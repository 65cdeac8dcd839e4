#include "core/allocator.h"

#include <malloc.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

namespace nvfp4 {

namespace {
thread_local AllocScope* current_scope = nullptr;

constexpr std::size_t kHugePage = std::size_t{2} << 20;

// A fresh block; with huge pages on, the whole 2 MiB units inside it (a block of 4 MiB or more
// holds at least one) are advised for transparent huge pages (set_huge_pages). The block itself
// keeps glibc's placement: aligning it to 2 MiB would cost up to 2 MiB of address space per block,
// which counts against RLIMIT_DATA (tools/test/memory_limit_test.cpp ran out that way).
void* fresh_block(std::size_t rounded, bool huge) {
  void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
  if (!p || !huge || rounded < 2 * kHugePage) return p;
  const std::uintptr_t a = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t lo = (a + kHugePage - 1) / kHugePage * kHugePage, hi = (a + rounded) / kHugePage * kHugePage;
  if (lo < hi) ::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);
  return p;
}
}  // namespace

AllocScope::AllocScope() : outer_(current_scope) { current_scope = this; }
AllocScope::~AllocScope() { current_scope = outer_; }

TrackingAllocator& TrackingAllocator::global() {
  static TrackingAllocator* a = [] {
    auto* t = new TrackingAllocator();
    // Blocks of kReuseMin and up get their own mappings, so giving a kept block back really
    // returns it to the system (a freed block inside the heap may stay mapped, and under a memory
    // limit that is memory we cannot have); without this glibc's threshold drifts up to 32 MiB.
    ::mallopt(M_MMAP_THRESHOLD, static_cast<int>(kReuseMin));
    // Kept blocks must never be why anything runs out of memory: when operator new fails anywhere
    // (a std::vector under a memory limit, say), they go back to the system and new retries.
    std::set_new_handler([] {
      if (!TrackingAllocator::global().release_kept()) throw std::bad_alloc();
    });
#ifdef NVFP4_POISON
    t->set_poison(true);
#endif
    return t;
  }();
  return *a;
}

void* TrackingAllocator::allocate(std::size_t nbytes, bool overwritten) {
  // 64-byte alignment suits any vector width the optimized GEMM uses.
  std::size_t rounded = (nbytes + 63) / 64 * 64;
  void* p = nullptr;
  if (rounded >= kReuseMin) {
    std::lock_guard<std::mutex> l(reuse_mu_);
    for (std::size_t i = reuse_count_; i-- > 0;)  // the newest of that size: likeliest still in cache
      if (reuse_[i].size == rounded) {
        p = reuse_[i].block;
        reuse_bytes_ -= rounded;
        std::copy(reuse_.begin() + static_cast<std::ptrdiff_t>(i) + 1, reuse_.begin() + static_cast<std::ptrdiff_t>(reuse_count_),
                  reuse_.begin() + static_cast<std::ptrdiff_t>(i));
        --reuse_count_;
        break;
      }
  }
  const bool huge = huge_pages_.load(std::memory_order_relaxed);
  if (!p) p = fresh_block(rounded, huge);
  if (!p && release_kept()) p = fresh_block(rounded, huge);  // kept blocks go back first
  if (!p) throw OutOfMemory(nbytes, live_.load());
  if (poison_ && !overwritten) std::memset(p, kPoison, nbytes);
  std::int64_t live = live_ += static_cast<std::int64_t>(nbytes);
  std::int64_t peak = peak_.load();
  while (live > peak && !peak_.compare_exchange_weak(peak, live)) {}
  ++count_;
  bytes_ += static_cast<std::int64_t>(nbytes);
  if (AllocScope* sc = current_scope) {
    sc->live_ += static_cast<std::int64_t>(nbytes);
    sc->peak_ = std::max(sc->peak_, sc->live_);
    ++sc->count_;
    sc->bytes_ += static_cast<std::int64_t>(nbytes);
  }
  return p;
}

void TrackingAllocator::deallocate(void* p, std::size_t nbytes) noexcept {
  if (!p) return;
  live_ -= static_cast<std::int64_t>(nbytes);
  const std::size_t rounded = (nbytes + 63) / 64 * 64;
  if (rounded >= kReuseMin && rounded <= kReuseMax) {
    std::lock_guard<std::mutex> l(reuse_mu_);
    std::size_t evict = 0;  // the oldest blocks that must go to make room
    for (; kReuseMax - reuse_bytes_ < rounded; ++evict) {
      reuse_bytes_ -= reuse_[evict].size;
      std::free(reuse_[evict].block);
    }
    std::copy(reuse_.begin() + static_cast<std::ptrdiff_t>(evict), reuse_.begin() + static_cast<std::ptrdiff_t>(reuse_count_), reuse_.begin());
    reuse_count_ -= evict;
    reuse_bytes_ += rounded;
    reuse_[reuse_count_++] = {rounded, p};
    p = nullptr;
  }
  std::free(p);
  if (AllocScope* sc = current_scope) sc->live_ -= static_cast<std::int64_t>(nbytes);
}

bool TrackingAllocator::release_kept() noexcept {
  // try_lock: the new-handler can run while this thread holds the lock; then nothing is released
  // and that allocation fails as it would have.
  std::unique_lock<std::mutex> l(reuse_mu_, std::try_to_lock);
  if (!l.owns_lock() || reuse_count_ == 0) return false;
  for (std::size_t i = 0; i < reuse_count_; ++i) std::free(reuse_[i].block);
  reuse_count_ = 0;
  reuse_bytes_ = 0;
  return true;
}

std::size_t TrackingAllocator::kept_bytes() {
  std::lock_guard<std::mutex> l(reuse_mu_);
  return reuse_bytes_;
}

AllocStats TrackingAllocator::stats() const {
  return {live_.load(), peak_.load(), count_.load(), bytes_.load()};
}

void TrackingAllocator::reset() {
  peak_ = live_.load();
  count_ = 0;
  bytes_ = 0;
}

}  // namespace nvfp4

#include "core/allocator.h"

#include <malloc.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

namespace nvfp4 {

namespace {
thread_local AllocScope* current_scope = nullptr;
}

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
    auto it = reuse_.find(rounded);
    if (it != reuse_.end()) {
      p = it->second;
      reuse_bytes_ -= rounded;
      reuse_.erase(it);
    }
  }
  if (!p) p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
  if (!p && release_kept()) p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);  // kept blocks go back first
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
  if (rounded >= kReuseMin) {
    std::lock_guard<std::mutex> l(reuse_mu_);
    if (reuse_bytes_ + rounded <= kReuseMax) {
      try {
        reuse_.emplace(rounded, p);
        reuse_bytes_ += rounded;
        p = nullptr;
      } catch (const std::bad_alloc&) {  // no room to remember it: free it
      }
    }
  }
  std::free(p);
  if (AllocScope* sc = current_scope) sc->live_ -= static_cast<std::int64_t>(nbytes);
}

bool TrackingAllocator::release_kept() noexcept {
  // try_lock: the new-handler can run while this thread holds the lock (a map node allocation in
  // deallocate); then nothing is released and that allocation fails as it would have.
  std::unique_lock<std::mutex> l(reuse_mu_, std::try_to_lock);
  if (!l.owns_lock() || reuse_.empty()) return false;
  for (auto& [size, block] : reuse_) std::free(block);
  reuse_.clear();
  reuse_bytes_ = 0;
  return true;
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

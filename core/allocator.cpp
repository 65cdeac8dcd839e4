#include "core/allocator.h"

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
#ifdef NVFP4_POISON
    t->set_poison(true);
#endif
    return t;
  }();
  return *a;
}

void* TrackingAllocator::allocate(std::size_t nbytes) {
  // 64-byte alignment suits any vector width the optimized GEMM uses.
  std::size_t rounded = (nbytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
  if (!p) throw OutOfMemory(nbytes, live_.load());
  if (poison_) std::memset(p, kPoison, nbytes);
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
  std::free(p);
  live_ -= static_cast<std::int64_t>(nbytes);
  if (AllocScope* sc = current_scope) sc->live_ -= static_cast<std::int64_t>(nbytes);
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

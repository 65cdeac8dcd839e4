// Tracking allocator: every Storage comes from here, so bytes, peaks and allocation counts are exact
// and can be asserted in properties (zero-allocation reload, peak <= resident + scratch).
#pragma once
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>

namespace nvfp4 {

// An allocation the system refused (out of memory is its own outcome, exit 3): how much
// was asked for and how much the process already held through the tracking allocator.
class OutOfMemory : public std::bad_alloc {
 public:
  OutOfMemory(std::size_t requested, std::int64_t live) : requested_(requested), live_(live) {}
  const char* what() const noexcept override { return "out of memory"; }
  std::size_t requested() const { return requested_; }
  std::int64_t live() const { return live_; }

 private:
  std::size_t requested_;
  std::int64_t live_;
};

struct AllocStats {
  std::int64_t live_bytes = 0;
  std::int64_t peak_bytes = 0;
  std::int64_t alloc_count = 0;   // allocations since the last reset
  std::int64_t alloc_bytes = 0;   // bytes allocated since the last reset
};

class TrackingAllocator {
 public:
  static TrackingAllocator& global();
  // Fresh memory is filled with kPoison when poisoning is on (test builds), like torch.empty
  // handing back stale bytes: 0xFF reads as NaN in F32, BF16, F16 and E4M3, so a slot that no
  // loader wrote is visible in any max() or comparison.
  static constexpr std::uint8_t kPoison = 0xFF;

  // overwritten: the caller fills every byte before anything reads them (a copy), so poisoning
  // would only cost a pass over memory.
  void* allocate(std::size_t nbytes, bool overwritten = false);
  void deallocate(void* p, std::size_t nbytes) noexcept;
  AllocStats stats() const;
  // Starts a new measurement: peak := live, counts := 0.
  void reset();
  void set_poison(bool on) { poison_ = on; }
  bool poison() const { return poison_; }
  // Freed blocks of at least kReuseMin bytes are kept (up to kReuseMax in all) and handed out again
  // for the same rounded size: streaming through a checkpoint frees and allocates blocks of the
  // same few shapes module after module, and fresh ones cost a page fault per 4 KiB (most of
  // `process`'s time was the kernel's) and the kernel's zeroing of every page. When a freed block
  // does not fit, the oldest kept blocks go back to the system to make room: sizes that stopped
  // coming (the previous module's shapes) must not hold the room the current ones need (with a
  // keep-first rule, `verify` on a 2.84 GB MoE checkpoint reused 1 GB of 43 GB allocated).
  // Counted stats are unaffected; a reused block is poisoned again in test builds.
  ~TrackingAllocator() { release_kept(); }
  // The whole 2 MiB units inside fresh blocks of 4 MiB and up advised for transparent huge pages
  // (MADV_HUGEPAGE), so that their first touch faults once per 2 MiB instead of once per 4 KiB.
  // Long streaming runs turn it on while they run (`nvfp4 verify` and `process`, HugePagesScope):
  // on this VM the 4 KiB fault path was ~26% of verify's samples on a MoE checkpoint, and verify
  // went 13-15% faster. Off by default:
  // a short run pays more than it saves, because a huge page the guest has not used before is slow
  // to get (the first pass of bench's reference load_and_process took 2-3x as long with it, the
  // later ones ~20% less; bench/measurements.md, "huge pages"). Where the kernel has no THP, the
  // advice fails or is ignored and nothing else changes.
  void set_huge_pages(bool on) { huge_pages_ = on; }
  bool huge_pages() const { return huge_pages_; }
  // Gives every kept block back to the system; false when none was kept.
  bool release_kept() noexcept;
  std::size_t kept_bytes();
  static constexpr std::size_t kReuseMin = std::size_t{1} << 20, kReuseMax = std::size_t{256} << 20;

 private:
  struct Kept {
    std::size_t size;  // rounded
    void* block;
  };
  std::atomic<std::int64_t> live_{0}, peak_{0}, count_{0}, bytes_{0};
  bool poison_ = false;
  std::atomic<bool> huge_pages_{false};
  std::mutex reuse_mu_;
  // Oldest first; fixed room (every kept block has at least kReuseMin bytes), so keeping a block
  // never allocates.
  std::array<Kept, kReuseMax / kReuseMin> reuse_{};
  std::size_t reuse_count_ = 0, reuse_bytes_ = 0;
};

// Huge pages on for the global allocator while alive, then as they were: a command run inside a
// longer-lived process (the Python package runs them in-process) leaves no setting behind.
class HugePagesScope {
 public:
  HugePagesScope() : before_(TrackingAllocator::global().huge_pages()) { TrackingAllocator::global().set_huge_pages(true); }
  ~HugePagesScope() { TrackingAllocator::global().set_huge_pages(before_); }
  HugePagesScope(const HugePagesScope&) = delete;
  HugePagesScope& operator=(const HugePagesScope&) = delete;

 private:
  bool before_;
};

// A measurement of one thread's allocations: while alive, the allocations and frees made on the
// thread that created it are counted here as well as globally (modules verified in
// parallel each get exact counts). Scopes nest; the innermost one counts. Memory freed here that
// was allocated before the scope makes live_bytes negative: it is relative to the scope's start.
class AllocScope {
 public:
  AllocScope();
  ~AllocScope();
  AllocScope(const AllocScope&) = delete;
  AllocScope& operator=(const AllocScope&) = delete;
  AllocStats stats() const { return {live_, peak_, count_, bytes_}; }
  void reset() {  // peak := live, counts := 0
    peak_ = live_;
    count_ = bytes_ = 0;
  }

 private:
  friend class TrackingAllocator;
  AllocScope* outer_;
  std::int64_t live_ = 0, peak_ = 0, count_ = 0, bytes_ = 0;
};

// Restores the allocator's poison setting at scope exit.
class ScopedPoison {
 public:
  explicit ScopedPoison(bool on) : old_(TrackingAllocator::global().poison()) {
    TrackingAllocator::global().set_poison(on);
  }
  ~ScopedPoison() { TrackingAllocator::global().set_poison(old_); }
  ScopedPoison(const ScopedPoison&) = delete;
  ScopedPoison& operator=(const ScopedPoison&) = delete;

 private:
  bool old_;
};

}  // namespace nvfp4

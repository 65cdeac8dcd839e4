// The tracking allocator's kept blocks and huge-page advice (core/allocator.h): addresses and byte
// counts are exact, so these are asserted, never timed.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/allocator.h"

namespace nvfp4 {
namespace {

constexpr std::size_t MiB = std::size_t{1} << 20;

TEST(AllocatorReuse, AFreedBlockComesBackForTheSameSizeOnly) {
  TrackingAllocator a;
  void* p = a.allocate(3 * MiB);
  a.deallocate(p, 3 * MiB);
  EXPECT_EQ(a.kept_bytes(), 3 * MiB);
  void* other = a.allocate(3 * MiB + 64);  // another rounded size: a fresh block, p stays kept
  EXPECT_NE(other, p);
  EXPECT_EQ(a.kept_bytes(), 3 * MiB);
  void* q = a.allocate(3 * MiB - 10);  // rounds up to 3 MiB
  EXPECT_EQ(q, p);
  EXPECT_EQ(a.kept_bytes(), 0u);
  a.deallocate(q, 3 * MiB - 10);
  a.deallocate(other, 3 * MiB + 64);
  EXPECT_EQ(a.kept_bytes(), 6 * MiB + 64);
  EXPECT_TRUE(a.release_kept());
  EXPECT_EQ(a.kept_bytes(), 0u);
  EXPECT_FALSE(a.release_kept());
}

TEST(AllocatorReuse, SmallBlocksAreNeverKept) {
  TrackingAllocator a;
  void* p = a.allocate(TrackingAllocator::kReuseMin - 64);
  a.deallocate(p, TrackingAllocator::kReuseMin - 64);
  EXPECT_EQ(a.kept_bytes(), 0u);
}

// When the room is full the oldest kept blocks give way: a streaming run's earlier shapes must
// not hold the room its current ones need. A keep-first rule keeps the 1 MiB block and the first
// three 64 MiB ones here (193 MiB) and frees the newest.
TEST(AllocatorReuse, TheOldestKeptBlocksGiveWayToTheNewest) {
  TrackingAllocator a;
  constexpr std::size_t big = 64 * MiB;
  static_assert(TrackingAllocator::kReuseMax == 4 * big);
  void* small = a.allocate(MiB);
  std::vector<void*> b;
  for (int i = 0; i < 5; ++i) b.push_back(a.allocate(big));  // never touched: address space only
  a.deallocate(small, MiB);
  for (void* p : b) a.deallocate(p, big);
  EXPECT_EQ(a.kept_bytes(), TrackingAllocator::kReuseMax);
  std::set<void*> back;
  for (int i = 0; i < 4; ++i) back.insert(a.allocate(big));
  EXPECT_EQ(back, std::set<void*>(b.begin() + 1, b.end()));  // the newest four
  EXPECT_EQ(a.kept_bytes(), 0u);
  for (void* p : back) a.deallocate(p, big);
  // A block of the whole room evicts everything; one larger than the room is never kept.
  void* all = a.allocate(TrackingAllocator::kReuseMax);
  a.deallocate(all, TrackingAllocator::kReuseMax);
  EXPECT_EQ(a.kept_bytes(), TrackingAllocator::kReuseMax);
  EXPECT_EQ(a.allocate(TrackingAllocator::kReuseMax), all);
  a.deallocate(all, TrackingAllocator::kReuseMax);
  void* over = a.allocate(TrackingAllocator::kReuseMax + 64);
  a.deallocate(over, TrackingAllocator::kReuseMax + 64);
  EXPECT_EQ(a.kept_bytes(), TrackingAllocator::kReuseMax);
}

// The VmFlags of the mapping that holds addr (/proc/self/smaps), "" when none does.
std::string vm_flags(const void* addr) {
  std::ifstream smaps("/proc/self/smaps");
  const auto a = reinterpret_cast<std::uintptr_t>(addr);
  bool in = false;
  for (std::string line; std::getline(smaps, line);) {
    std::uintptr_t lo = 0, hi = 0;
    char dash = 0;
    std::istringstream head(line);
    if (head >> std::hex >> lo >> dash >> hi && dash == '-' && line.find(':') > line.find(' ')) {
      in = lo <= a && a < hi;
    } else if (in && line.rfind("VmFlags:", 0) == 0) {
      return line;
    }
  }
  return "";
}

// With huge pages on, the whole 2 MiB units inside a block of 4 MiB and up carry MADV_HUGEPAGE
// ("hg"), so their first touch faults once per 2 MiB: under a VM the 4 KiB faults were a quarter of
// verify's time. The block's own first page (unless it starts a unit) and smaller blocks do not;
// off (the default), nothing does.
TEST(AllocatorHugePages, TheWhole2MiBUnitsOfLargeBlocksAreAdvised) {
  if (!std::filesystem::exists("/sys/kernel/mm/transparent_hugepage/enabled")) GTEST_SKIP() << "this kernel has no transparent huge pages";
  TrackingAllocator a;
  a.set_huge_pages(true);
  for (std::size_t bytes : {4 * MiB, 5 * MiB + 4096, 64 * MiB}) {
    auto* p = static_cast<std::uint8_t*>(a.allocate(bytes));
    const std::uintptr_t at = reinterpret_cast<std::uintptr_t>(p);
    const std::uintptr_t unit = (at + 2 * MiB - 1) / (2 * MiB) * (2 * MiB);
    ASSERT_LE(unit + 2 * MiB, at + bytes) << "a block of " << bytes << " bytes holds a whole unit";
    EXPECT_NE(vm_flags(reinterpret_cast<void*>(unit)).find(" hg"), std::string::npos) << bytes << ": " << vm_flags(reinterpret_cast<void*>(unit));
    if (unit != at) {
      EXPECT_EQ(vm_flags(p).find(" hg"), std::string::npos) << bytes << ": " << vm_flags(p);
    }
    a.deallocate(p, bytes);
  }
  void* s = a.allocate(4 * MiB - 64);
  EXPECT_EQ(vm_flags(s).find(" hg"), std::string::npos) << vm_flags(s);
  a.deallocate(s, 4 * MiB - 64);
}

TEST(AllocatorHugePages, AScopeTurnsThemOnAndBackAsTheyWere) {
  auto& g = TrackingAllocator::global();
  const bool before = g.huge_pages();
  {
    const HugePagesScope on;
    EXPECT_TRUE(g.huge_pages());
    {
      const HugePagesScope nested;
      EXPECT_TRUE(g.huge_pages());
    }
    EXPECT_TRUE(g.huge_pages());
  }
  EXPECT_EQ(g.huge_pages(), before);
}

TEST(AllocatorHugePages, OffByDefault) {
  TrackingAllocator a;
  auto* p = static_cast<std::uint8_t*>(a.allocate(64 * MiB));
  const std::uintptr_t unit = (reinterpret_cast<std::uintptr_t>(p) + 2 * MiB - 1) / (2 * MiB) * (2 * MiB);
  EXPECT_EQ(vm_flags(reinterpret_cast<void*>(unit)).find(" hg"), std::string::npos) << vm_flags(reinterpret_cast<void*>(unit));
  a.deallocate(p, 64 * MiB);
}

}  // namespace
}  // namespace nvfp4

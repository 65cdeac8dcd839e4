// Read-only file mappings that survive the file being truncated under them.
//
// A trainer rewriting a shard in place during a hot reload truncates it while we read it; a plain
// mapping then kills the process with SIGBUS on the first page past the new end. A GuardedMapping
// registers its range with a process-wide SIGBUS handler that, for a fault inside a registered
// range, maps anonymous zero pages over the rest of that range, marks the mapping torn and lets
// the read go on. A truncation inside the last page raises no fault (the rest of that page reads as
// zeros) and a same-size rewrite none either, so changed() also compares the file's size,
// modification and change times with those seen when it was mapped. Readers check changed()
// (SafetensorsFile::check_intact) before they commit anything read from it, so a changed file
// becomes a clean error naming the file, and a transactional load leaves the previous weights as
// they were. Faults outside registered ranges go to the
// handler that was installed before ours (or the default action), so real bugs still crash.
//
// Alternatives considered: reading with pread instead of mapping (an extra copy of every byte, and
// the optimized pipeline's zero-copy reload would need a staging buffer the size of the model), and
// MAP_POPULATE (populated pages of a private mapping are still dropped on truncation).
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>

#include <sys/stat.h>

namespace nvfp4 {

class GuardedMapping {
 public:
  // Maps len bytes of fd read-only. Throws on failure; len must be > 0.
  GuardedMapping(int fd, std::size_t len);
  ~GuardedMapping();
  GuardedMapping(const GuardedMapping&) = delete;
  GuardedMapping& operator=(const GuardedMapping&) = delete;

  const std::uint8_t* data() const { return static_cast<const std::uint8_t*>(addr_); }
  std::size_t size() const { return len_; }
  // True once a read past the file's end was caught (some bytes read as zeros), or when the file's
  // size, mtime or ctime differ from those at mapping time.
  bool changed() const;

 private:
  void* addr_ = nullptr;
  std::size_t len_ = 0;
  int slot_ = -1;
  int fd_ = -1;  // a duplicate, kept to fstat the file later
  struct stat at_map_ {};
};

}  // namespace nvfp4

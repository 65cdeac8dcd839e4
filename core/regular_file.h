// Opening files named by untrusted input: a config, index or shard that is a FIFO would block
// forever on open or read, /dev/zero would be read until memory runs out, a directory or socket
// makes no sense. Only regular files (symlinks to them included: the Hugging Face cache is made of
// symlinks) are opened, without blocking, and small files are read with a size cap.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace nvfp4 {

// JSON sidecars (config.json, the index, quantization configs): real ones are kilobytes to a few
// MiB (a 670B MoE index is ~10 MiB).
inline constexpr std::uint64_t kMaxJsonBytes = 64ull << 20;

struct OpenFile {
  int fd = -1;
  std::uint64_t size = 0;
  OpenFile() = default;
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  OpenFile(OpenFile&& o) noexcept : fd(o.fd), size(o.size) { o.fd = -1; }
  ~OpenFile();
};

// Opens path read-only and non-blocking; anything but a regular file is a BadInput error naming
// path and what it is ("a FIFO", "a character device", ...).
OpenFile open_regular_file(const std::filesystem::path& path);

// The whole of a small regular file; larger than max_bytes, or shorter when read than fstat said
// (changed while read), is a BadInput error naming the file.
std::string read_small_file(const std::filesystem::path& path, std::uint64_t max_bytes = kMaxJsonBytes);

}  // namespace nvfp4

#include "core/regular_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace nvfp4 {
namespace {

const char* kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

}  // namespace

OpenFile::~OpenFile() {
  if (fd >= 0) ::close(fd);
}

OpenFile open_regular_file(const std::filesystem::path& path) {
  // O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting for one.
  OpenFile f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (f.fd < 0) throw Error(ErrorKind::BadInput, path.string(), "", std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (fstat(f.fd, &st) != 0) throw Error(ErrorKind::BadInput, path.string(), "", std::string("cannot stat: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    throw Error(ErrorKind::BadInput, path.string(), "", std::string("is ") + kind_of(st.st_mode) + ", not a regular file");
  f.size = static_cast<std::uint64_t>(st.st_size);
  return f;
}

std::string read_small_file(const std::filesystem::path& path, std::uint64_t max_bytes) {
  OpenFile f = open_regular_file(path);
  if (f.size > max_bytes)
    throw Error(ErrorKind::BadInput, path.string(), "",
                "is " + std::to_string(f.size) + " bytes; files of this kind are capped at " + std::to_string(max_bytes));
  std::string s(static_cast<std::size_t>(f.size), '\0');
  std::size_t done = 0;
  while (done < s.size()) {
    const ssize_t r = ::pread(f.fd, s.data() + done, s.size() - done, static_cast<off_t>(done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw Error(ErrorKind::BadInput, path.string(), "", std::string("read failed: ") + std::strerror(errno));
    if (r == 0) throw Error(ErrorKind::BadInput, path.string(), "", "changed while being read (shorter than when opened)");
    done += static_cast<std::size_t>(r);
  }
  return s;
}

}  // namespace nvfp4

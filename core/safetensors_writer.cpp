#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "core/interrupt_cleanup.h"
#include "core/safetensors.h"

namespace nvfp4 {

std::vector<std::uint8_t> serialize_safetensors(const std::vector<TensorToWrite>& tensors,
                                                const std::map<std::string, std::string>& metadata) {
  std::vector<const TensorToWrite*> order;
  std::set<std::string> seen;
  for (const auto& t : tensors) {
    if (t.name == "__metadata__")
      throw Error(ErrorKind::BadInput, "", t.name, "a tensor may not be named __metadata__ (the file could not be read back)");
    if (!seen.insert(t.name).second) throw Error(ErrorKind::BadInput, "", t.name, "tensor name given twice");
    if ((t.tensor.numel() * dtype_bits(t.tensor.dtype())) % 8 != 0)
      throw Error(ErrorKind::BadInput, "", t.name, "not a whole number of bytes");
    order.push_back(&t);
  }
  // Same order as the Python writer's prepare(): alignment descending, then name.
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) {
    int aa = dtype_alignment(a->tensor.dtype()), ab = dtype_alignment(b->tensor.dtype());
    return aa != ab ? aa > ab : a->name < b->name;
  });

  // JSON strings must be UTF-8: a name or metadata string that is not cannot be written (the
  // reader, like safetensors' own, would refuse the file).
  const auto quoted = [](const std::string& s, const std::string& tensor) {
    try {
      return nlohmann::json(s).dump();
    } catch (const nlohmann::json::type_error&) {
      throw Error(ErrorKind::BadInput, "", tensor, "not valid UTF-8, so it cannot be a safetensors key or value");
    }
  };
  std::string h = "{";
  bool first = true;
  if (!metadata.empty()) {
    h += "\"__metadata__\":{";
    for (const auto& [k, v] : metadata) h += (h.back() == '{' ? "" : ",") + quoted(k, "__metadata__") + ":" + quoted(v, "__metadata__");
    h += "}";
    first = false;
  }
  std::uint64_t off = 0;
  for (const auto* t : order) {
    std::uint64_t n = t->tensor.nbytes();
    if (!first) h += ',';
    h += quoted(t->name, t->name);
    h += ":{\"dtype\":\"";
    h += dtype_name(t->tensor.dtype());
    h += "\",\"shape\":";
    h += nlohmann::json(t->tensor.shape()).dump();
    h += ",\"data_offsets\":[";
    h += std::to_string(off);
    h += ',';
    h += std::to_string(off + n);
    h += "]}";
    first = false;
    off += n;
  }
  h += "}";
  h.append((8 - h.size() % 8) % 8, ' ');
  if (h.size() > kMaxHeaderBytes) throw Error(ErrorKind::BadInput, "", "", "header exceeds the 100000000-byte limit");

  std::vector<std::uint8_t> out(8 + h.size() + off);
  std::uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
  std::memcpy(out.data() + 8, h.data(), h.size());
  std::uint8_t* p = out.data() + 8 + h.size();
  for (const auto* t : order) {
    if (t->tensor.nbytes()) std::memcpy(p, t->tensor.data(), t->tensor.nbytes());
    p += t->tensor.nbytes();
  }
  return out;
}

void write_file_atomic(const std::filesystem::path& path, std::span<const std::uint8_t> bytes) {
  std::filesystem::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid());
  TempFileGuard interrupted(tmp);  // removed if SIGINT/SIGTERM arrives before the rename
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(ErrorKind::Io, path.string(), "", std::string("cannot create: ") + std::strerror(errno));
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw Error(ErrorKind::Io, path.string(), "", std::string("write failed: ") + std::strerror(e));
    }
    done += static_cast<std::size_t>(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    throw Error(ErrorKind::Io, path.string(), "", "cannot flush the file");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    throw Error(ErrorKind::Io, path.string(), "", std::string("cannot rename into place: ") + std::strerror(e));
  }
}

void write_safetensors(const std::filesystem::path& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<std::uint8_t> bytes;
  try {
    bytes = serialize_safetensors(tensors, metadata);
  } catch (const Error& e) {
    throw Error(e.kind(), path.string(), e.tensor(), e.problem());
  }
  write_file_atomic(path, bytes);
}

}  // namespace nvfp4

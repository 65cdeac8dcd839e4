#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <map>
#include <memory>
#include <set>

#include "core/error.h"
#include "core/interrupt_cleanup.h"
#include "core/safetensors.h"

namespace nvfp4 {

namespace {

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  std::uint64_t nbytes;
};

// The file's order and header for these entries: the Python writer's prepare() order (alignment
// descending, then name) and a header padded with spaces so the data starts 8-byte aligned. Shared
// by every writer here, so they all give the same bytes. `order` comes back in the file's order.
std::string header_for(std::vector<const Entry*>& order, const std::map<std::string, std::string>& metadata) {
  std::set<std::string> seen;
  for (const Entry* t : order) {
    if (t->name == "__metadata__")
      throw Error(ErrorKind::BadInput, "", t->name, "a tensor may not be named __metadata__ (the file could not be read back)");
    if (!seen.insert(t->name).second) throw Error(ErrorKind::BadInput, "", t->name, "tensor name given twice");
    if ((shape_numel(t->shape) * dtype_bits(t->dtype)) % 8 != 0)
      throw Error(ErrorKind::BadInput, "", t->name, "not a whole number of bytes");
  }
  std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    int aa = dtype_alignment(a->dtype), ab = dtype_alignment(b->dtype);
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
  for (const Entry* t : order) {
    if (!first) h += ',';
    h += quoted(t->name, t->name);
    h += ":{\"dtype\":\"";
    h += dtype_name(t->dtype);
    h += "\",\"shape\":";
    h += nlohmann::json(t->shape).dump();
    h += ",\"data_offsets\":[";
    h += std::to_string(off);
    h += ',';
    h += std::to_string(off + t->nbytes);
    h += "]}";
    first = false;
    off += t->nbytes;
  }
  h += "}";
  h.append((8 - h.size() % 8) % 8, ' ');
  if (h.size() > kMaxHeaderBytes) throw Error(ErrorKind::BadInput, "", "", "header exceeds the 100000000-byte limit");
  return h;
}

// header_for over every entry, with the file's path in its errors.
std::string header_of(const std::filesystem::path& path, const std::vector<Entry>& entries, const std::map<std::string, std::string>& metadata,
                      std::vector<const Entry*>& order) {
  order.clear();
  for (const auto& e : entries) order.push_back(&e);
  try {
    return header_for(order, metadata);
  } catch (const Error& e) {
    throw Error(e.kind(), path.string(), e.tensor(), e.problem());
  }
}

// Starts the disk writes of what is already in the file (not waiting for them), every
// kWritebackEvery bytes, so that they run while the rest is produced and the final fsync has
// little left to wait for (it was ~0.6 s of a 1 GB file's ~3 s on the CI host).
constexpr std::uint64_t kWritebackEvery = 32ull << 20;
void start_writeback(int fd) { ::sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE); }

void put_u64(std::uint8_t* p, std::uint64_t n) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(n >> (8 * i));
}

void write_all(int fd, const std::uint8_t* p, std::size_t n, const std::filesystem::path& path) {
  while (n) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) throw Error(ErrorKind::Io, path.string(), "", std::string("write failed: ") + std::strerror(errno));
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

// A file written under a temporary name beside `path` and renamed into place by commit() after an
// fsync, so that a reader never sees a partial file; removed if commit() is never reached, and on
// SIGINT/SIGTERM before it (TempFileGuard).
class TempFile {
 public:
  explicit TempFile(const std::filesystem::path& path, const char* infix = ".tmp.", mode_t mode = 0644)
      : path_(path), tmp_(path.string() + infix + std::to_string(::getpid())), guard_(tmp_) {
    fd_ = ::open(tmp_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd_ < 0) throw Error(ErrorKind::Io, path.string(), "", std::string("cannot create: ") + std::strerror(errno));
  }
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  int fd() const { return fd_; }
  void commit() {
    const int fd = fd_;
    fd_ = -1;
    if (::fsync(fd) != 0) {
      ::close(fd);
      throw Error(ErrorKind::Io, path_.string(), "", std::string("cannot flush the file: ") + std::strerror(errno));
    }
    if (::close(fd) != 0) throw Error(ErrorKind::Io, path_.string(), "", std::string("cannot close the file: ") + std::strerror(errno));
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0)
      throw Error(ErrorKind::Io, path_.string(), "", std::string("cannot rename into place: ") + std::strerror(errno));
    committed_ = true;
  }

 private:
  std::filesystem::path path_, tmp_;
  TempFileGuard guard_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace

std::vector<std::uint8_t> serialize_safetensors(const std::vector<TensorToWrite>& tensors,
                                                const std::map<std::string, std::string>& metadata) {
  std::vector<Entry> entries;
  std::map<std::string, const Tensor*> data;
  for (const auto& t : tensors) {
    entries.push_back({t.name, t.tensor.dtype(), t.tensor.shape(), 0});
    if ((t.tensor.numel() * dtype_bits(t.tensor.dtype())) % 8 == 0) entries.back().nbytes = t.tensor.nbytes();
    data[t.name] = &t.tensor;
  }
  std::vector<const Entry*> order;
  const std::string h = header_of({}, entries, metadata, order);
  std::uint64_t total = 0;
  for (const Entry* e : order) total += e->nbytes;
  std::vector<std::uint8_t> out(8 + h.size() + total);
  put_u64(out.data(), h.size());
  std::memcpy(out.data() + 8, h.data(), h.size());
  std::uint8_t* p = out.data() + 8 + h.size();
  for (const Entry* e : order) {
    if (e->nbytes) std::memcpy(p, data.at(e->name)->data(), e->nbytes);
    p += e->nbytes;
  }
  return out;
}

// The header, then the data: what every writer here puts at the start of its file.
void write_header(int fd, const std::string& h, const std::filesystem::path& path) {
  std::uint8_t len[8];
  put_u64(len, h.size());
  write_all(fd, len, 8, path);
  write_all(fd, reinterpret_cast<const std::uint8_t*>(h.data()), h.size(), path);
}

struct StreamingSafetensorsWriter::Impl {
  std::filesystem::path path;
  std::unique_ptr<TempFile> data;  // never committed: finish() copies it into the file
  std::uint64_t size = 0;
  std::vector<Entry> entries;
  // Each entry's pieces in the data file (offset, bytes), in order.
  std::vector<std::vector<std::pair<std::uint64_t, std::uint64_t>>> at;
  std::map<std::string, std::size_t> appended;  // append()'s names -> entry
};

StreamingSafetensorsWriter::StreamingSafetensorsWriter(const std::filesystem::path& path) : d_(std::make_unique<Impl>()) {
  d_->path = path;
  d_->data = std::make_unique<TempFile>(path, ".data.tmp.", 0600);
}

StreamingSafetensorsWriter::~StreamingSafetensorsWriter() = default;

void StreamingSafetensorsWriter::add(const std::string& name, const Tensor& t) {
  if ((t.numel() * dtype_bits(t.dtype())) % 8 != 0) throw Error(ErrorKind::BadInput, d_->path.string(), name, "not a whole number of bytes");
  d_->entries.push_back({name, t.dtype(), t.shape(), t.nbytes()});
  d_->at.push_back({{d_->size, t.nbytes()}});
  write_all(d_->data->fd(), t.data(), t.nbytes(), d_->path);
  d_->size += t.nbytes();
}

void StreamingSafetensorsWriter::append(const std::string& name, const Tensor& t) {
  auto it = d_->appended.find(name);
  if (it == d_->appended.end()) {
    if (t.dim() == 0) throw Error(ErrorKind::BadInput, d_->path.string(), name, "a 0-d tensor cannot grow along its first dimension");
    add(name, t);
    d_->appended.emplace(name, d_->entries.size() - 1);
    return;
  }
  Entry& e = d_->entries[it->second];
  if (t.dtype() != e.dtype || t.dim() != static_cast<std::int64_t>(e.shape.size()) ||
      !std::equal(e.shape.begin() + 1, e.shape.end(), t.shape().begin() + 1))
    throw Error(ErrorKind::BadInput, d_->path.string(), name,
                "cannot append " + std::string(dtype_name(t.dtype())) + " " + shape_str(t.shape()) + " to " +
                    std::string(dtype_name(e.dtype)) + " " + shape_str(e.shape));
  e.shape[0] += t.size(0);
  e.nbytes += t.nbytes();
  d_->at[it->second].emplace_back(d_->size, t.nbytes());
  write_all(d_->data->fd(), t.data(), t.nbytes(), d_->path);
  d_->size += t.nbytes();
}

void StreamingSafetensorsWriter::finish(const std::map<std::string, std::string>& metadata) {
  std::vector<const Entry*> order;
  const std::string h = header_of(d_->path, d_->entries, metadata, order);
  TempFile out(d_->path);
  write_header(out.fd(), h, d_->path);
  // The data in the header's order, copied file to file by the kernel.
  std::uint64_t since_writeback = 0;
  for (const Entry* e : order)
    for (const auto& [offset, bytes] : d_->at[static_cast<std::size_t>(e - d_->entries.data())]) {
      if ((since_writeback += bytes) >= kWritebackEvery) {
        since_writeback = 0;
        start_writeback(out.fd());
      }
      loff_t from = static_cast<loff_t>(offset);
      std::uint64_t left = bytes;
      while (left) {
        const ssize_t c = ::copy_file_range(d_->data->fd(), &from, out.fd(), nullptr, left, 0);
        if (c < 0 && errno == EINTR) continue;
        if (c <= 0) throw Error(ErrorKind::Io, d_->path.string(), e->name, std::string("copy failed: ") + std::strerror(errno));
        left -= static_cast<std::uint64_t>(c);
      }
    }
  out.commit();
}

struct PlannedSafetensorsWriter::Impl {
  std::filesystem::path path;
  std::unique_ptr<TempFile> file;
  std::uint64_t data_start = 0;
  std::vector<Entry> entries;
  std::map<std::string, std::size_t> index;                // name -> entry
  std::vector<std::uint64_t> offset;                       // per entry, in the data section
  std::unique_ptr<std::atomic<std::uint64_t>[]> written;   // per entry
  std::atomic<std::uint64_t> since_writeback{0};
};

PlannedSafetensorsWriter::PlannedSafetensorsWriter(const std::filesystem::path& path, const std::vector<TensorSpec>& tensors,
                                                   const std::map<std::string, std::string>& metadata)
    : d_(std::make_unique<Impl>()) {
  d_->path = path;
  for (const auto& t : tensors) {
    const std::uint64_t bits = static_cast<std::uint64_t>(shape_numel(t.shape)) * static_cast<std::uint64_t>(dtype_bits(t.dtype));
    d_->entries.push_back({t.name, t.dtype, t.shape, bits / 8});
  }
  std::vector<const Entry*> order;
  const std::string h = header_of(path, d_->entries, metadata, order);  // also refuses duplicate names and partial bytes
  d_->offset.resize(d_->entries.size());
  std::uint64_t off = 0;
  for (const Entry* e : order) {
    const auto i = static_cast<std::size_t>(e - d_->entries.data());
    d_->offset[i] = off;
    d_->index.emplace(e->name, i);
    off += e->nbytes;
  }
  d_->written = std::make_unique<std::atomic<std::uint64_t>[]>(d_->entries.size());
  d_->file = std::make_unique<TempFile>(path);
  write_header(d_->file->fd(), h, path);
  d_->data_start = 8 + h.size();
  if (::ftruncate(d_->file->fd(), static_cast<off_t>(d_->data_start + off)) != 0)
    throw Error(ErrorKind::Io, path.string(), "", std::string("cannot size the file: ") + std::strerror(errno));
}

PlannedSafetensorsWriter::~PlannedSafetensorsWriter() = default;

void PlannedSafetensorsWriter::write(const std::string& name, std::uint64_t offset, std::span<const std::uint8_t> bytes) {
  const auto it = d_->index.find(name);
  if (it == d_->index.end()) throw Error(ErrorKind::Io, d_->path.string(), name, "not a tensor this file was planned with");
  const Entry& e = d_->entries[it->second];
  if (offset > e.nbytes || bytes.size() > e.nbytes - offset)
    throw Error(ErrorKind::Io, d_->path.string(), name, "bytes past the tensor's end");
  std::uint64_t at = d_->data_start + d_->offset[it->second] + offset;
  for (const std::uint8_t* p = bytes.data(); p != bytes.data() + bytes.size();) {
    const ssize_t w = ::pwrite(d_->file->fd(), p, static_cast<std::size_t>(bytes.data() + bytes.size() - p), static_cast<off_t>(at));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) throw Error(ErrorKind::Io, d_->path.string(), name, std::string("write failed: ") + std::strerror(errno));
    p += w;
    at += static_cast<std::uint64_t>(w);
  }
  d_->written[it->second] += bytes.size();
  if ((d_->since_writeback += bytes.size()) >= kWritebackEvery) {
    d_->since_writeback = 0;
    start_writeback(d_->file->fd());
  }
}

void PlannedSafetensorsWriter::finish() {
  for (std::size_t i = 0; i < d_->entries.size(); ++i)
    if (d_->written[i] != d_->entries[i].nbytes)
      throw Error(ErrorKind::Io, d_->path.string(), d_->entries[i].name,
                  std::to_string(d_->written[i]) + " of its " + std::to_string(d_->entries[i].nbytes) + " bytes were written");
  d_->file->commit();
}

void write_file_atomic(const std::filesystem::path& path, std::span<const std::uint8_t> bytes) {
  TempFile f(path);
  write_all(f.fd(), bytes.data(), bytes.size(), path);
  f.commit();
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

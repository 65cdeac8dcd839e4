// Strict safetensors I/O. The reader validates everything the Rust reference validates
// (huggingface/safetensors, safetensors/src/tensor.rs: read_metadata and validate) and is
// stricter where upstream is lax: duplicate keys at any depth,
// non-integer offsets or dims, unknown dtypes, unknown tensor fields, non-string metadata values
// and a first significant character other than '{' are errors. Tensors are zero-copy views of a
// private read-only memory map that survives truncation (check_intact says whether it happened).
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"

namespace nvfp4 {

class GuardedMapping;

inline constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;  // safetensors MAX_HEADER_SIZE

struct TensorInfo {
  std::string name;
  DType dtype;
  Shape shape;
  std::uint64_t begin = 0, end = 0;  // relative to the data section
};

class SafetensorsFile {
 public:
  // Memory-maps and validates path. Errors name the file and, where there is one, the tensor.
  static SafetensorsFile open(const std::filesystem::path& path);
  // Validates an in-memory image (fuzzing, tests); `label` stands in for the file name in errors.
  // The bytes must outlive the returned object unless keepalive owns them.
  static SafetensorsFile parse(std::span<const std::uint8_t> bytes, std::string label,
                               std::shared_ptr<const void> keepalive = nullptr);
  // Takes ownership of the bytes (safe for temporaries such as serialize_safetensors()).
  static SafetensorsFile parse(std::vector<std::uint8_t>&& bytes, std::string label);

  const std::string& label() const { return label_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // sorted by name
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const TensorInfo* find(const std::string& name) const;
  // A zero-copy view of the tensor's bytes (untracked storage kept alive by the mapping).
  Tensor tensor(const std::string& name) const;
  std::span<const std::uint8_t> bytes(const TensorInfo& info) const;
  std::uint64_t header_size() const { return header_size_; }
  // Drops this process's resident pages of the tensor's bytes (whole pages inside it only), so that
  // streaming through a checkpoint larger than memory keeps RSS bounded; a later read faults them
  // back in from the page cache. Views stay valid. No-op for in-memory images.
  void release(const TensorInfo& info) const;
  // Throws a BadInput error naming the file if it was truncated or rewritten while mapped (bytes
  // past a new end read as zeros; core/guarded_mapping.h). Call after reading, before committing.
  void check_intact() const;
  // Tests only: called with (file label, tensor name) each time tensor() hands out a view, so a
  // test can truncate the file at a chosen point of a load. Not thread-safe; reset with {}.
  static void set_view_hook_for_testing(std::function<void(const std::string&, const std::string&)> hook);

 private:
  std::string label_;
  std::shared_ptr<Storage> data_;  // the data section
  std::shared_ptr<const GuardedMapping> map_;  // null for in-memory images
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
  std::uint64_t header_size_ = 0;
};

struct TensorToWrite {
  std::string name;
  Tensor tensor;  // contiguous; its dtype and shape go into the header as they are
};

// Serializes like the Python writer: tensors sorted by dtype alignment (descending) then name,
// header padded with spaces so the data section starts 8-byte aligned.
std::vector<std::uint8_t> serialize_safetensors(const std::vector<TensorToWrite>& tensors,
                                                const std::map<std::string, std::string>& metadata = {});
// Writes to a temporary file beside path, then renames it: no partial file is ever left.
void write_safetensors(const std::filesystem::path& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});
// Atomic whole-file write (temporary + rename), for JSON sidecars too.
void write_file_atomic(const std::filesystem::path& path, std::span<const std::uint8_t> bytes);

// The same file as write_safetensors, byte for byte, with memory bounded by one tensor: add()
// appends each tensor's bytes to a temporary data file as it is produced (in any order); finish()
// writes the header and the data in the file's order (copy_file_range) to a temporary file and
// renames it into place. Nothing is left behind if finish() is never reached.
class StreamingSafetensorsWriter {
 public:
  explicit StreamingSafetensorsWriter(const std::filesystem::path& path);
  ~StreamingSafetensorsWriter();
  StreamingSafetensorsWriter(const StreamingSafetensorsWriter&) = delete;
  StreamingSafetensorsWriter& operator=(const StreamingSafetensorsWriter&) = delete;
  void add(const std::string& name, const Tensor& t);
  // Grows the tensor `name` by t's rows (its first dimension); the first call adds it as add()
  // does, later ones must match its dtype and other dimensions. A tensor produced in pieces (a
  // layer's experts, a chunk at a time) streams through with memory bounded by one piece.
  void append(const std::string& name, const Tensor& t);
  void finish(const std::map<std::string, std::string>& metadata = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> d_;
};

// A tensor whose name, dtype and shape are known before its bytes (PlannedSafetensorsWriter).
struct TensorSpec {
  std::string name;
  DType dtype;
  Shape shape;
};

// The same file as write_safetensors, byte for byte, when every tensor is known before its bytes
// (make-checkpoint's generator): the header is written first and each tensor's bytes go straight to
// their place in the file (pwrite), in any order, in pieces, from any thread, so nothing is copied
// twice and no lock is held while writing. finish() checks that every tensor got all its bytes,
// flushes and renames the temporary into place; nothing is left behind if it is never reached.
class PlannedSafetensorsWriter {
 public:
  PlannedSafetensorsWriter(const std::filesystem::path& path, const std::vector<TensorSpec>& tensors,
                           const std::map<std::string, std::string>& metadata = {});
  ~PlannedSafetensorsWriter();
  PlannedSafetensorsWriter(const PlannedSafetensorsWriter&) = delete;
  PlannedSafetensorsWriter& operator=(const PlannedSafetensorsWriter&) = delete;
  // Bytes [offset, offset + bytes.size()) of tensor `name` (thread-safe; pieces must not overlap).
  void write(const std::string& name, std::uint64_t offset, std::span<const std::uint8_t> bytes);
  void finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> d_;
};

}  // namespace nvfp4

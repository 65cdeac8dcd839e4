// Storage and Tensor: contiguous row-major bytes with a dtype and a shape. Storage is shared, so
// two tensors (or two parameters) can alias one buffer; the storage address is observable because
// graph-captured kernels depend on it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace nvfp4 {

using Shape = std::vector<std::int64_t>;
std::string shape_str(const Shape& s);
std::int64_t shape_numel(const Shape& s);
// Bytes for numel elements of d (sub-byte dtypes pack; a partial byte is an error upstream).
std::size_t dtype_nbytes(DType d, std::int64_t numel);

class Storage {
 public:
  // Tracked, owned memory (poisoned in test builds).
  // overwritten: every byte is written before it is read (TrackingAllocator::allocate).
  static std::shared_ptr<Storage> allocate(std::size_t nbytes, bool overwritten = false);
  // Untracked view of memory someone else owns (a memory-mapped file); keepalive holds it.
  static std::shared_ptr<Storage> external(const std::uint8_t* data, std::size_t nbytes,
                                           std::shared_ptr<const void> keepalive);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  std::uint8_t* data() { return data_; }
  const std::uint8_t* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }

 private:
  Storage() = default;
  std::uint8_t* data_ = nullptr;
  std::size_t nbytes_ = 0;
  bool owned_ = false;
  std::shared_ptr<const void> keepalive_;
};

class Tensor {
 public:
  Tensor() = default;
  static Tensor empty(DType d, Shape shape);  // tracked; contents poisoned in test builds
  static Tensor zeros(DType d, Shape shape);
  // A tensor over bytes owned elsewhere (read-only by convention: file views).
  static Tensor external(DType d, Shape shape, std::shared_ptr<Storage> storage, std::size_t offset = 0);
  static Tensor scalar_f32(float v);

  bool defined() const { return storage_ != nullptr; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  std::int64_t dim() const { return static_cast<std::int64_t>(shape_.size()); }
  std::int64_t size(std::int64_t i) const { return shape_.at(static_cast<std::size_t>(i < 0 ? i + dim() : i)); }
  std::int64_t numel() const { return shape_numel(shape_); }
  std::size_t nbytes() const { return dtype_nbytes(dtype_, numel()); }

  std::uint8_t* data() { return storage_->data() + offset_; }
  const std::uint8_t* data() const { return storage_->data() + offset_; }
  template <class T> T* data_as() { return reinterpret_cast<T*>(data()); }
  template <class T> const T* data_as() const { return reinterpret_cast<const T*>(data()); }
  std::span<const std::uint8_t> bytes() const { return {data(), nbytes()}; }
  std::span<std::uint8_t> bytes() { return {data(), nbytes()}; }

  const std::shared_ptr<Storage>& storage() const { return storage_; }
  std::size_t offset() const { return offset_; }
  const void* address() const { return data(); }

  // Same bytes, another dtype/shape; the byte count must match.
  Tensor view(DType d, Shape shape) const;
  // Same storage and offset, another dtype/shape whose bytes fit in what the storage holds from the
  // offset on: an in-place reshape into capacity reserved up front (torch's as_strided_), which
  // keeps the storage address.
  Tensor view_within(DType d, Shape shape) const;
  // Rows [begin, begin+count) of dimension 0, sharing storage.
  Tensor narrow0(std::int64_t begin, std::int64_t count) const;
  // A fresh tracked copy.
  Tensor clone() const;
  // Copies src's bytes into this tensor; shapes and dtypes must match.
  void copy_from(const Tensor& src);
  bool bitwise_equal(const Tensor& other) const;

  // Reads element i of a float-like tensor (F32, BF16, F16, F8_E4M3) as f32.
  float get_f32(std::int64_t i) const;

 private:
  // Tracked storage for a new tensor; `overwritten` as for Storage::allocate (no poison pass).
  static Tensor fresh(DType d, Shape shape, bool overwritten);

  DType dtype_ = DType::U8;
  Shape shape_;
  std::shared_ptr<Storage> storage_;
  std::size_t offset_ = 0;
};

std::string describe(const Tensor& t);  // "F8_E4M3[128, 4]"

}  // namespace nvfp4

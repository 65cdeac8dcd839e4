#include "core/tensor.h"

#include <cstring>
#include <stdexcept>

#include "core/allocator.h"
#include "core/codecs.h"

namespace nvfp4 {

std::string shape_str(const Shape& s) {
  std::string r = "[";
  for (std::size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

std::int64_t shape_numel(const Shape& s) {
  std::int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

std::size_t dtype_nbytes(DType d, std::int64_t numel) {
  return static_cast<std::size_t>((numel * dtype_bits(d) + 7) / 8);
}

std::shared_ptr<Storage> Storage::allocate(std::size_t nbytes, bool overwritten) {
  std::shared_ptr<Storage> s(new Storage());
  s->data_ = static_cast<std::uint8_t*>(TrackingAllocator::global().allocate(nbytes, overwritten));
  s->nbytes_ = nbytes;
  s->owned_ = true;
  return s;
}

std::shared_ptr<Storage> Storage::external(const std::uint8_t* data, std::size_t nbytes,
                                           std::shared_ptr<const void> keepalive) {
  std::shared_ptr<Storage> s(new Storage());
  s->data_ = const_cast<std::uint8_t*>(data);
  s->nbytes_ = nbytes;
  s->keepalive_ = std::move(keepalive);
  return s;
}

Storage::~Storage() {
  if (owned_) TrackingAllocator::global().deallocate(data_, nbytes_);
}

Tensor Tensor::fresh(DType d, Shape shape, bool overwritten) {
  for (auto x : shape)
    if (x < 0) throw std::invalid_argument("negative dimension in " + shape_str(shape));
  Tensor t;
  t.dtype_ = d;
  t.shape_ = std::move(shape);
  t.storage_ = Storage::allocate(t.nbytes(), overwritten);
  return t;
}

Tensor Tensor::empty(DType d, Shape shape) { return fresh(d, std::move(shape), false); }

Tensor Tensor::zeros(DType d, Shape shape) {
  Tensor t = fresh(d, std::move(shape), true);  // every byte zeroed below: no poison pass
  std::memset(t.data(), 0, t.nbytes());
  return t;
}

Tensor Tensor::external(DType d, Shape shape, std::shared_ptr<Storage> storage, std::size_t offset) {
  Tensor t;
  t.dtype_ = d;
  t.shape_ = std::move(shape);
  t.storage_ = std::move(storage);
  t.offset_ = offset;
  if (offset + t.nbytes() > t.storage_->nbytes()) throw std::out_of_range("tensor view past its storage");
  return t;
}

Tensor Tensor::scalar_f32(float v) {
  Tensor t = empty(DType::F32, {});
  std::memcpy(t.data(), &v, 4);
  return t;
}

Tensor Tensor::view(DType d, Shape shape) const {
  Tensor t = *this;
  t.dtype_ = d;
  t.shape_ = std::move(shape);
  if (t.nbytes() != nbytes())
    throw std::invalid_argument("view " + describe(t) + " of " + describe(*this) + " changes the byte count");
  return t;
}

Tensor Tensor::view_within(DType d, Shape shape) const {
  for (auto x : shape)
    if (x < 0) throw std::invalid_argument("negative dimension in " + shape_str(shape));
  Tensor t = *this;
  t.dtype_ = d;
  t.shape_ = std::move(shape);
  if (!storage_ || offset_ + t.nbytes() > storage_->nbytes())
    throw std::invalid_argument("view " + describe(t) + " does not fit in the " +
                                std::to_string(storage_ ? storage_->nbytes() - offset_ : 0) + " bytes of its storage");
  return t;
}

Tensor Tensor::narrow0(std::int64_t begin, std::int64_t count) const {
  if (dim() < 1 || begin < 0 || count < 0 || begin + count > shape_[0])
    throw std::out_of_range("narrow0 out of range on " + describe(*this));
  Tensor t = *this;
  t.shape_[0] = count;
  std::int64_t row = shape_numel(Shape(shape_.begin() + 1, shape_.end()));
  t.offset_ = offset_ + dtype_nbytes(dtype_, begin * row);
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = fresh(dtype_, shape_, true);  // every byte copied below: no poison pass
  if (nbytes()) std::memcpy(t.data(), data(), nbytes());
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  if (src.dtype_ != dtype_ || src.shape_ != shape_)
    throw std::invalid_argument("copy " + describe(src) + " into " + describe(*this));
  if (nbytes()) std::memmove(data(), src.data(), nbytes());
}

bool Tensor::bitwise_equal(const Tensor& o) const {
  return dtype_ == o.dtype_ && shape_ == o.shape_ &&
         (nbytes() == 0 || std::memcmp(data(), o.data(), nbytes()) == 0);
}

float Tensor::get_f32(std::int64_t i) const {
  switch (dtype_) {
    case DType::F32: { float v; std::memcpy(&v, data() + 4 * i, 4); return v; }
    case DType::BF16: { std::uint16_t v; std::memcpy(&v, data() + 2 * i, 2); return bf16_to_f32(v); }
    case DType::F16: { std::uint16_t v; std::memcpy(&v, data() + 2 * i, 2); return f16_to_f32(v); }
    case DType::F8_E4M3: return e4m3_to_f32(data()[i]);
    default: throw std::invalid_argument("get_f32 on " + describe(*this));
  }
}

std::string describe(const Tensor& t) { return std::string(dtype_name(t.dtype())) + shape_str(t.shape()); }

}  // namespace nvfp4

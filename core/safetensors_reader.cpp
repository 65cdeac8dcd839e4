#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "core/guarded_mapping.h"
#include "core/regular_file.h"
#include "core/safetensors.h"

namespace nvfp4 {
namespace {

using json = nlohmann::json;

// SAX handler that builds the tensor table and rejects anything not in the whitelist:
// {"__metadata__": {str: str}, NAME: {"dtype": str, "shape": [uint...], "data_offsets": [uint, uint]}}
// Errors are recorded as (tensor, problem) so they can be reported typed.
class HeaderSax : public nlohmann::json_sax<json> {
 public:
  std::vector<TensorInfo> tensors;
  std::map<std::string, std::string> metadata;
  std::string err_tensor, err_what;  // first problem found
  bool failed() const { return !err_what.empty(); }

  bool null() override {
    if (depth_ == 1 && top_ == "__metadata__") return true;  // upstream reads null as "no metadata"
    return unexpected("null");
  }
  bool boolean(bool) override { return unexpected("boolean"); }
  bool number_integer(number_integer_t v) override { return unexpected("negative integer " + std::to_string(v)); }
  bool number_float(number_float_t, const string_t& s) override {
    return unexpected("non-integer number " + s);
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (in_array_) { (field_ == "shape" ? shape_ : offsets_).push_back(v); return true; }
    return unexpected("number " + std::to_string(v));
  }
  bool string(string_t& s) override {
    if (depth_ == 2 && in_metadata_) { metadata[meta_key_] = s; return true; }
    if (depth_ == 2 && field_ == "dtype") {
      auto d = dtype_from_name(s);
      if (!d) return fail(top_, "unknown dtype \"" + s + "\"");
      dtype_ = *d;
      have_dtype_ = true;
      return true;
    }
    return unexpected("string");
  }
  bool binary(binary_t&) override { return unexpected("binary value"); }

  bool start_object(std::size_t) override {
    ++depth_;
    keys_.emplace_back();
    if (depth_ == 1) return true;
    if (depth_ == 2) {
      in_metadata_ = top_ == "__metadata__";
      have_dtype_ = have_shape_ = have_offsets_ = false;
      shape_.clear();
      offsets_.clear();
      return true;
    }
    --depth_;
    return unexpected("object");
  }
  bool end_object() override {
    if (depth_ == 2 && !in_metadata_) {
      if (!have_dtype_) return fail(top_, "missing \"dtype\"");
      if (!have_shape_) return fail(top_, "missing \"shape\"");
      if (!have_offsets_) return fail(top_, "missing \"data_offsets\"");
      if (offsets_.size() != 2)
        return fail(top_, "\"data_offsets\" must hold exactly 2 integers, not " + std::to_string(offsets_.size()));
      TensorInfo t;
      t.name = top_;
      t.dtype = dtype_;
      for (auto d : shape_) {
        if (d > static_cast<std::uint64_t>(INT64_MAX)) return fail(top_, "dimension " + std::to_string(d) + " overflows");
        t.shape.push_back(static_cast<std::int64_t>(d));
      }
      t.begin = offsets_[0];
      t.end = offsets_[1];
      tensors.push_back(std::move(t));
    }
    keys_.pop_back();
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    ++depth_;
    if (depth_ == 3 && !in_metadata_ && (field_ == "shape" || field_ == "data_offsets")) {
      in_array_ = true;
      (field_ == "shape" ? have_shape_ : have_offsets_) = true;
      return true;
    }
    --depth_;
    return unexpected("array");
  }
  bool end_array() override {
    in_array_ = false;
    --depth_;
    return true;
  }
  bool key(string_t& k) override {
    if (!keys_.back().insert(k).second) return fail(depth_ == 1 ? k : top_, "duplicate key \"" + k + "\"");
    if (depth_ == 1) top_ = k;
    else if (in_metadata_) meta_key_ = k;
    else if (k == "dtype" || k == "shape" || k == "data_offsets") field_ = k;
    else return fail(top_, "unknown field \"" + k + "\"");
    return true;
  }
  bool parse_error(std::size_t pos, const std::string&, const nlohmann::detail::exception& ex) override {
    if (!failed()) {
      std::string w = ex.what();
      auto p = w.find("] ");
      err_what = "invalid JSON header at byte " + std::to_string(pos) + ": " + (p == std::string::npos ? w : w.substr(p + 2));
    }
    return false;
  }

 private:
  bool fail(const std::string& tensor, const std::string& what) {
    if (!failed()) { err_tensor = tensor; err_what = what; }
    return false;
  }
  // A value of the wrong kind for where it stands.
  bool unexpected(const std::string& kind) {
    if (depth_ == 0) return fail("", "the header must be a JSON object, not a " + kind);
    if (top_ == "__metadata__")
      return fail("__metadata__", depth_ == 1 ? "must be an object of strings, not a " + kind
                                              : "value of \"" + meta_key_ + "\" must be a string, not a " + kind);
    if (depth_ == 1) return fail(top_, "tensor entry must be an object, not a " + kind);
    if (depth_ == 2) return fail(top_, "\"" + field_ + "\" must not be a " + kind);
    return fail(top_, "\"" + field_ + "\" must hold unsigned integers only, not a " + kind);
  }

  int depth_ = 0;
  std::vector<std::set<std::string>> keys_;
  std::string top_, meta_key_, field_;
  bool in_metadata_ = false, in_array_ = false;
  DType dtype_ = DType::U8;
  bool have_dtype_ = false, have_shape_ = false, have_offsets_ = false;
  std::vector<std::uint64_t> shape_, offsets_;
};

// a * b with overflow detection.
bool mul_overflows(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  return __builtin_mul_overflow(a, b, &out);
}

std::function<void(const std::string&, const std::string&)>& view_hook() {
  static std::function<void(const std::string&, const std::string&)> h;
  return h;
}

}  // namespace

SafetensorsFile SafetensorsFile::parse(std::span<const std::uint8_t> bytes, std::string label,
                                       std::shared_ptr<const void> keepalive) {
  auto err = [&](const std::string& what) -> Error {
    return Error(ErrorKind::BadInput, label, "", what);
  };
  if (bytes.size() < 8) throw err("file is " + std::to_string(bytes.size()) + " bytes, shorter than the 8-byte header length");
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[static_cast<std::size_t>(i)];
  if (n > kMaxHeaderBytes) throw err("header length " + std::to_string(n) + " exceeds the 100000000-byte limit");
  if (n > bytes.size() - 8)
    throw err("header length " + std::to_string(n) + " runs past the end of the file (" + std::to_string(bytes.size()) + " bytes)");

  const char* h = reinterpret_cast<const char*>(bytes.data() + 8);
  // The first significant character must be '{' (the format says so; upstream stopped checking).
  std::size_t i = 0;
  while (i < n && (h[i] == ' ' || h[i] == '\t' || h[i] == '\n' || h[i] == '\r')) ++i;
  if (i == n) throw err("header is empty");
  if (h[i] != '{') throw err("header must start with '{' (found byte 0x" + [&] {
    char b[3]; std::snprintf(b, sizeof b, "%02x", static_cast<unsigned char>(h[i])); return std::string(b); }() + ")");

  // JSON text never holds a raw NUL (strings must escape control characters), but nlohmann's
  // reader stops at one, which would accept NUL padding that upstream rejects.
  if (const void* z = std::memchr(h, 0, n))
    throw err("header holds a NUL byte at offset " + std::to_string(static_cast<const char*>(z) - h));
  HeaderSax sax;
  bool ok = json::sax_parse(h, h + n, &sax, nlohmann::detail::input_format_t::json, true);
  if (!ok || sax.failed())
    throw Error(ErrorKind::BadInput, label, sax.err_tensor, sax.failed() ? sax.err_what : "invalid JSON header");

  SafetensorsFile f;
  f.label_ = std::move(label);
  f.header_size_ = n;
  f.metadata_ = std::move(sax.metadata);
  f.tensors_ = std::move(sax.tensors);

  // Offsets: sorted by (begin, end) they must tile [0, last_end) with no hole or overlap.
  std::vector<const TensorInfo*> order;
  for (const auto& t : f.tensors_) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  std::uint64_t expect = 0;
  for (const TensorInfo* t : order) {
    if (t->end < t->begin)
      throw Error(ErrorKind::BadInput, f.label_, t->name,
                  "data_offsets [" + std::to_string(t->begin) + ", " + std::to_string(t->end) + "] are inverted");
    if (t->begin != expect)
      throw Error(ErrorKind::BadInput, f.label_, t->name,
                  "data_offsets start at " + std::to_string(t->begin) + " but the previous tensor ends at " +
                      std::to_string(expect) + (t->begin < expect ? " (overlap)" : " (hole)"));
    std::uint64_t numel = 1;
    for (auto d : t->shape)
      if (mul_overflows(numel, static_cast<std::uint64_t>(d), numel))
        throw Error(ErrorKind::BadInput, f.label_, t->name, "shape " + shape_str(t->shape) + " overflows");
    std::uint64_t nbits;
    if (mul_overflows(numel, static_cast<std::uint64_t>(dtype_bits(t->dtype)), nbits))
      throw Error(ErrorKind::BadInput, f.label_, t->name, "shape " + shape_str(t->shape) + " overflows");
    if (nbits % 8 != 0)
      throw Error(ErrorKind::BadInput, f.label_, t->name,
                  std::string(dtype_name(t->dtype)) + shape_str(t->shape) + " is not a whole number of bytes");
    if (t->end - t->begin != nbits / 8)
      throw Error(ErrorKind::BadInput, f.label_, t->name,
                  std::string(dtype_name(t->dtype)) + shape_str(t->shape) + " needs " + std::to_string(nbits / 8) +
                      " bytes but data_offsets span " + std::to_string(t->end - t->begin));
    expect = t->end;
  }
  std::uint64_t data_len = bytes.size() - 8 - n;
  if (expect != data_len)
    throw Error(ErrorKind::BadInput, f.label_, "",
                "tensors cover " + std::to_string(expect) + " data bytes but the file holds " + std::to_string(data_len) +
                    (expect < data_len ? " (trailing bytes)" : " (truncated)"));

  std::sort(f.tensors_.begin(), f.tensors_.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  f.data_ = Storage::external(bytes.data() + 8 + n, data_len, std::move(keepalive));
  return f;
}

SafetensorsFile SafetensorsFile::parse(std::vector<std::uint8_t>&& bytes, std::string label) {
  auto owned = std::make_shared<std::vector<std::uint8_t>>(std::move(bytes));
  return parse(std::span<const std::uint8_t>(*owned), std::move(label), owned);
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  std::string label = path.string();
  OpenFile f = open_regular_file(path);
  static const std::uint8_t kEmpty[1] = {0};
  if (f.size == 0) return parse({kEmpty, 0}, label);
  std::shared_ptr<GuardedMapping> map;
  try {
    map = std::make_shared<GuardedMapping>(f.fd, static_cast<std::size_t>(f.size));
  } catch (const std::runtime_error& e) {
    throw Error(ErrorKind::BadInput, label, "", e.what());
  }
  SafetensorsFile r = parse({map->data(), map->size()}, label, map);
  r.map_ = map;
  r.check_intact();  // truncated while the header was parsed
  return r;
}

void SafetensorsFile::check_intact() const {
  if (map_ && map_->changed())
    throw Error(ErrorKind::BadInput, label_, "",
                "changed while being read (truncated or rewritten under its memory map); nothing read from it was used");
}

void SafetensorsFile::set_view_hook_for_testing(std::function<void(const std::string&, const std::string&)> hook) {
  view_hook() = std::move(hook);
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const TensorInfo& t, const std::string& n) { return t.name < n; });
  return it != tensors_.end() && it->name == name ? &*it : nullptr;
}

void SafetensorsFile::release(const TensorInfo& info) const {
  if (!map_) return;
  const std::uintptr_t page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const std::uintptr_t b = reinterpret_cast<std::uintptr_t>(data_->data() + info.begin), e = b + (info.end - info.begin);
  const std::uintptr_t lo = (b + page - 1) / page * page, hi = e / page * page;
  if (hi > lo) ::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
}

std::span<const std::uint8_t> SafetensorsFile::bytes(const TensorInfo& info) const {
  return {data_->data() + info.begin, static_cast<std::size_t>(info.end - info.begin)};
}

Tensor SafetensorsFile::tensor(const std::string& name) const {
  const TensorInfo* t = find(name);
  if (!t) throw Error(ErrorKind::BadInput, label_, name, "tensor not found");
  Tensor v = Tensor::external(t->dtype, t->shape, data_, t->begin);
  if (view_hook()) view_hook()(label_, name);
  return v;
}

}  // namespace nvfp4

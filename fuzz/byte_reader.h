// Structure-aware fuzzing without a library: draws integers, choices, floats and strings from
// the fuzzer's bytes, front to back, and yields zeros once they run out (like LLVM's
// FuzzedDataProvider, which g++ builds of the replay main cannot include).
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

namespace nvfp4::fuzz {

class ByteReader {
 public:
  ByteReader(const std::uint8_t* data, std::size_t size) : p_(data), n_(size) {}
  std::size_t left() const { return n_; }
  std::uint8_t byte() {
    if (!n_) return 0;
    --n_;
    return *p_++;
  }
  std::uint32_t u32() {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= std::uint32_t(byte()) << (8 * i);
    return v;
  }
  // An integer in [lo, hi] (hi - lo < 2^32).
  std::int64_t in(std::int64_t lo, std::int64_t hi) {
    const auto span = static_cast<std::uint64_t>(hi - lo) + 1;
    const std::uint64_t raw = span <= 256 ? byte() : span <= 65536 ? (byte() | (std::uint32_t(byte()) << 8)) : u32();
    return lo + static_cast<std::int64_t>(raw % span);
  }
  bool flag() { return byte() & 1; }
  float f32_bits() {
    const std::uint32_t b = u32();
    float f;
    std::memcpy(&f, &b, 4);
    return f;
  }
  // Up to max bytes, as they are (any byte, NUL and invalid UTF-8 included).
  std::string str(std::size_t max) {
    const std::size_t len = static_cast<std::size_t>(in(0, static_cast<std::int64_t>(max)));
    std::string s;
    for (std::size_t i = 0; i < len && n_; ++i) s.push_back(static_cast<char>(byte()));
    return s;
  }

 private:
  const std::uint8_t* p_;
  std::size_t n_;
};

}  // namespace nvfp4::fuzz

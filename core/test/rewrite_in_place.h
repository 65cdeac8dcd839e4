// Changes a safetensors file under a reader's memory map without changing its size: the whole data
// section is rewritten in place with 0x77 bytes, which are valid E2M1 pairs, a valid E4M3 scale and
// a finite positive F32 global scale, so that no check of the values can notice and only the file's
// own state (size, mtime, ctime: core/guarded_mapping.cpp) tells. The header stays as it was.
#pragma once
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace nvfp4::testdata {

inline void fill_data_section_in_place(const std::filesystem::path& file) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  std::uint64_t n = 0;  // the header's length, little-endian, as the format's first 8 bytes
  f.read(reinterpret_cast<char*>(&n), 8);
  const std::string fill(std::filesystem::file_size(file) - 8 - n, '\x77');
  f.seekp(static_cast<std::streamoff>(8 + n));
  f.write(fill.data(), static_cast<std::streamsize>(fill.size()));
}

}  // namespace nvfp4::testdata

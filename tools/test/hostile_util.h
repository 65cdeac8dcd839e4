// Shared by the hostile-input tests (hostile_*_test.cpp): a checker for the one printable error
// line a user should see, file writers for hand-crafted inputs, and the fixture with a temporary
// directory and a valid small checkpoint to break.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/test/temp_dir.h"
#include "generator/checkpoint_writer.h"
#include "generator/test/small_model.h"

// A named namespace, not an anonymous one: the Hostile fixture is shared by several translation
// units of one test binary, and googletest requires one fixture type per suite.
namespace nvfp4::hostile_test {
namespace fs = std::filesystem;

// Exactly one line, ending in '\n', with no control character before it.
inline ::testing::AssertionResult one_printable_line(const std::string& s) {
  if (s.empty() || s.back() != '\n') return ::testing::AssertionFailure() << "not newline-terminated: " << s;
  for (std::size_t i = 0; i + 1 < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f)
      return ::testing::AssertionFailure() << "control byte 0x" << std::hex << int(c) << " at " << std::dec << i << " in: " << s;
  }
  return ::testing::AssertionSuccess();
}

inline void write_bytes(const fs::path& p, const std::vector<std::uint8_t>& b) {
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}
inline void write_text(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }

class Hostile : public ::testing::Test {
 protected:
  fs::path dir(const std::string& name) const { return tmp_.path() / name; }
  // A valid small checkpoint (fused qkv when fused), returned by path.
  fs::path good(const std::string& name, bool fused = false, int experts = 0) const {
    WriterOptions o = small_model();
    o.fused = fused;
    o.experts = experts;
    write_checkpoint(dir(name), generate_checkpoint(o), 1);
    return dir(name);
  }
  TempDir tmp_;
};

}  // namespace nvfp4::hostile_test

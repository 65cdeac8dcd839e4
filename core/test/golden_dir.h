// Where the `golden.generate` fixture wrote third-party data (tools/golden/make_golden.py).
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace nvfp4 {

inline std::filesystem::path golden_dir() {
  const char* d = std::getenv("NVFP4_GOLDEN_DIR");
  if (!d || !*d) throw std::runtime_error("NVFP4_GOLDEN_DIR is not set");
  std::filesystem::path p = d;
  if (!std::filesystem::exists(p / "codecs.safetensors"))
    throw std::runtime_error("no golden data in " + p.string() +
                             ": run `ctest -L golden` (fixture golden.generate needs .venv, see README)");
  return p;
}

}  // namespace nvfp4

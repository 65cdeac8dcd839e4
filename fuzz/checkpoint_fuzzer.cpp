// The input is the single safetensors file of a checkpoint directory (with a fixed config.json
// for a small GQA model): open, map modules and check values. Bad input must end in a typed
// error naming the file, never a crash or an untyped exception.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/checkpoint.h"
#include "core/error.h"
#include "core/findings.h"
#include "core/module_map.h"
#include "fuzz/fuzz_check.h"

namespace fs = std::filesystem;

static fs::path g_dir;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_dir = fs::temp_directory_path() / ("nvfp4-ckpt-fuzz-" + std::to_string(::getpid()));
  fs::create_directories(g_dir);
  std::ofstream(g_dir / "config.json")
      << R"({"hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
            "quantization_config": {"quant_method": "modelopt", "quant_algo": "NVFP4", "group_size": 16}})";
  std::atexit([] { std::error_code ec; fs::remove_all(g_dir, ec); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > (4u << 20)) return 0;
  using namespace nvfp4;
  {
    std::ofstream out(g_dir / "model.safetensors", std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    Checkpoint c = Checkpoint::open(g_dir);
    ModelSpec s = map_modules(c);
    (void)check_values(c, s);
  } catch (const Error& e) {
    std::string w = e.what();
    FUZZ_CHECK(w.find('\n') == std::string::npos, "error message must be one line: %s", w.c_str());
    FUZZ_CHECK(!e.file().empty(), "error names no file: %s", w.c_str());
  }
  return 0;
}

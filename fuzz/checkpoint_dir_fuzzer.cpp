// A whole checkpoint directory, encoded archive-style so that config, index and shard parsing are
// all reachable: the input is a sequence of entries (selector byte, 2-byte length, content),
// unpacked into an empty temporary directory. The selector picks config.json,
// hf_quant_config.json, the index, one of three shard names, or a name taken from the input (any
// bytes but '/' and NUL: newlines, ESC, invalid UTF-8). Open + module mapping + value checks must
// end in a spec or a typed one-line error naming a file. max_len 1 MiB.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/checkpoint.h"
#include "core/error.h"
#include "core/module_map.h"
#include "fuzz/byte_reader.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/fuzz_checkpoint_dir.h"
#include "tools/inspect/findings.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > (1u << 20)) return 0;
  using namespace nvfp4;
  namespace fs = std::filesystem;
  static const char* kNames[] = {"config.json", "hf_quant_config.json", "model.safetensors.index.json",
                                 "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors"};
  const fs::path dir = fuzz::checkpoint_dir() / "archive";
  fs::remove_all(dir);
  fs::create_directories(dir);
  fuzz::ByteReader in(data, size);
  while (in.left() > 0) {
    const int sel = static_cast<int>(in.in(0, 6));
    std::string name;
    if (sel < 6) {
      name = kNames[sel];
    } else {
      for (char ch : in.str(20))
        if (ch != '/' && ch != '\0') name.push_back(ch);
      if (name.empty() || name == "." || name == "..") name = "x";
    }
    const std::size_t len = static_cast<std::size_t>(in.in(0, 65535));
    std::string content;
    for (std::size_t i = 0; i < len && in.left(); ++i) content.push_back(static_cast<char>(in.byte()));
    std::ofstream(dir / name, std::ios::binary | std::ios::app) << content;
  }
  try {
    Checkpoint c = Checkpoint::open(dir);
    ModelSpec s = map_modules(c);
    (void)check_values(c, s);
  } catch (const Error& e) {
    const std::string w = e.what();
    fuzz::check_error_line(w);
    FUZZ_CHECK(!e.file().empty(), "error names no file: %s", w.c_str());
  }
  return 0;
}

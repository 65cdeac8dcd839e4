// A checkpoint directory for fuzz targets whose input is its single model.safetensors: a fixed
// config.json for a small GQA model, the input written anew for each run, removed at exit.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace nvfp4::fuzz {

inline const std::filesystem::path& checkpoint_dir() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("nvfp4-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    std::ofstream(d / "config.json")
        << R"({"hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
              "quantization_config": {"quant_method": "modelopt", "quant_algo": "NVFP4", "group_size": 16}})";
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(checkpoint_dir(), ec);
    });
    return d;
  }();
  return dir;
}

inline void write_model(const std::uint8_t* data, std::size_t size) {
  std::ofstream out(checkpoint_dir() / "model.safetensors", std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
}

}  // namespace nvfp4::fuzz

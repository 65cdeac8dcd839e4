// Standalone replay main for builds without libFuzzer (g++, plain ctest): runs the target once on
// every file or directory given. Each input is copied into an exact-size heap block so that
// sanitizers catch off-by-one reads. An empty corpus is an error, so a replay cannot pass by
// finding nothing. (Same contract as LLVM's StandaloneFuzzTargetMain, plus directories.)
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace fs = std::filesystem;

static void run_one(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<std::uint8_t> buf((std::istreambuf_iterator<char>(in)), {});
  std::unique_ptr<std::uint8_t[]> exact(new std::uint8_t[buf.empty() ? 1 : buf.size()]);
  std::copy(buf.begin(), buf.end(), exact.get());
  LLVMFuzzerTestOneInput(exact.get(), buf.size());
}

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  std::size_t ran = 0;
  for (int i = 1; i < argc; ++i) {
    fs::path a(argv[i]);
    std::vector<fs::path> files;
    if (fs::is_directory(a)) {
      for (const auto& e : fs::directory_iterator(a))
        if (e.is_regular_file()) files.push_back(e.path());
      std::sort(files.begin(), files.end());
    } else {
      files.push_back(a);
    }
    for (const auto& f : files) {
      run_one(f);
      ++ran;
    }
  }
  std::printf("replayed %zu inputs\n", ran);
  if (ran == 0) {
    std::fprintf(stderr, "no inputs: empty corpus?\n");
    return 2;
  }
  return 0;
}

// Runtime dispatch of the optimized GEMM kernels: the best instruction set the CPU has, or the one
// forced by NVFP4_KERNEL=scalar|avx2|avx512 (or ScopedIsa in tests), and a hit counter per path so
// that a test can prove which kernel ran (a dispatch that silently falls back to scalar must fail
// a test; BoringSSL's impl_dispatch_test does the same).
//
// Google Highway (Debian's 1.0.3) has no int8 quad dot product (vpdpbusd / vpmaddubsw), which is
// what the w4a4 kernel is made of, so the kernels are intrinsics in one translation unit per
// instruction set, each compiled with that set's flags and called only when the CPU has it.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace nvfp4::opt {

enum class Isa { Scalar, Avx2, Avx512 };  // Avx512: F, BW, VL, VNNI, VBMI (+ FMA, F16C)
const char* isa_name(Isa i);
std::optional<Isa> parse_isa(const std::string& s);

// What this CPU can run, best first, Scalar always last.
const std::vector<Isa>& available_isas();
// The path the next GEMM takes: a forced one (ScopedIsa, else NVFP4_KERNEL) or the best available.
// Forcing one the CPU lacks is an error (the Error names it), never a silent fallback.
Isa active_isa();

// Forces a path for the current scope (tests, benches).
class ScopedIsa {
 public:
  explicit ScopedIsa(Isa i);
  ~ScopedIsa();
  ScopedIsa(const ScopedIsa&) = delete;
  ScopedIsa& operator=(const ScopedIsa&) = delete;

 private:
  std::optional<Isa> previous_;
};

// How many GEMMs each path has run (counted by the kernels themselves).
std::uint64_t kernel_hits(Isa i);
void count_kernel_hit(Isa i);

}  // namespace nvfp4::opt

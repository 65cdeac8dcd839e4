// Runtime dispatch of the optimized GEMM kernels: the best instruction set the CPU has, or the one
// forced by NVFP4_KERNEL=scalar|avx2|avx512|amx (or ScopedIsa in tests), and a hit counter per path so
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

// Avx512: F, BW, VL, VNNI, VBMI (+ FMA, F16C). Amx: AMX-TILE and AMX-BF16 on top of Avx512, with the
// tile state granted to this process by the OS.
enum class Isa { Scalar, Avx2, Avx512, Amx };
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

// AMX, where the CPU has it: CPUID.(7,0):EDX bits 24 (AMX-TILE) and 25 (AMX-INT8), and the OS grants
// this process the tile data state (Linux asks for it: arch_prctl(ARCH_REQ_XCOMP_PERM,
// XFEATURE_XTILEDATA), Documentation/arch/x86/xstate.rst, requested once, on the first call). The one
// place that decides it, for dispatch and for the benches.
enum class AmxSupport { Usable, NoCpu, NoOsGrant };
AmxSupport amx_support();
const char* amx_support_text(AmxSupport s);  // "usable", or why not, in words
// How many GEMMs ran AMX tiles: the amx set hands small M and w4a16 to the avx512 kernels, which
// kernel_hits(Isa::Amx) counts as well, so a test proves the tiles ran with this one.
std::uint64_t amx_tile_gemms();
void count_amx_tile_gemm();

}  // namespace nvfp4::opt

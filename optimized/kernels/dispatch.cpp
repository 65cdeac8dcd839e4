#include "optimized/kernels/dispatch.h"

#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdlib>

#include "core/error.h"

namespace nvfp4::opt {

namespace {

std::optional<Isa>& forced() {
  static std::optional<Isa> f;
  return f;
}

std::atomic<std::uint64_t> hits[4];
std::atomic<std::uint64_t> amx_tiles{0};

constexpr Isa kAll[] = {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Amx};

// CPUID.1:ECX bit 29. clang 14's __builtin_cpu_supports does not know "f16c".
bool has_f16c() {
  unsigned a, b, c, d;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}

bool probe(Isa i) {
  switch (i) {
    case Isa::Scalar: return true;
    case Isa::Avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c();
    case Isa::Avx512:
      return probe(Isa::Avx2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vbmi");
    case Isa::Amx: return probe(Isa::Avx512) && amx_support() == AmxSupport::Usable;
  }
  return false;
}

// Probed once: active_isa() runs on every gemm(), and in a virtual machine each CPUID traps to the
// hypervisor (perf: a quarter of a 60 us M = 1 GEMM went to the CPUID in has_f16c).
bool cpu_has(Isa i) {
  static const auto has = [] {
    std::array<bool, 4> h{};
    for (Isa j : kAll) h[static_cast<std::size_t>(j)] = probe(j);
    return h;
  }();
  return has[static_cast<std::size_t>(i)];
}

}  // namespace

const char* isa_name(Isa i) {
  switch (i) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
    case Isa::Amx: return "amx";
  }
  return "?";
}

std::optional<Isa> parse_isa(const std::string& s) {
  for (Isa i : kAll)
    if (s == isa_name(i)) return i;
  return std::nullopt;
}

const std::vector<Isa>& available_isas() {
  static const std::vector<Isa> v = [] {
    std::vector<Isa> r;
    for (Isa i : {Isa::Amx, Isa::Avx512, Isa::Avx2, Isa::Scalar})
      if (cpu_has(i)) r.push_back(i);
    return r;
  }();
  return v;
}

Isa active_isa() {
  std::optional<Isa> want = forced();
  if (!want) {
    const char* env = std::getenv("NVFP4_KERNEL");
    if (env && *env) {
      want = parse_isa(env);
      if (!want) throw Error(ErrorKind::Usage, "", "", std::string("NVFP4_KERNEL must be scalar, avx2, avx512 or amx, not \"") + env + "\"");
    }
  }
  if (!want) return available_isas().front();
  if (!cpu_has(*want))
    throw Error(ErrorKind::Usage, "", "", std::string("the ") + isa_name(*want) + " kernels need instructions this CPU lacks");
  return *want;
}

ScopedIsa::ScopedIsa(Isa i) : previous_(forced()) { forced() = i; }
ScopedIsa::~ScopedIsa() { forced() = previous_; }

std::uint64_t kernel_hits(Isa i) { return hits[static_cast<int>(i)].load(); }
void count_kernel_hit(Isa i) { hits[static_cast<int>(i)].fetch_add(1); }

AmxSupport amx_support() {
  static const AmxSupport s = [] {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d >> 24 & 1) || !(d >> 22 & 1)) return AmxSupport::NoCpu;  // AMX-TILE, AMX-BF16
    // arch/x86/include/uapi/asm/prctl.h: ARCH_REQ_XCOMP_PERM 0x1023; XFEATURE_XTILEDATA is state
    // component 18. Without the grant the first tile instruction is a fatal SIGILL.
    constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0 ? AmxSupport::Usable : AmxSupport::NoOsGrant;
  }();
  return s;
}

const char* amx_support_text(AmxSupport s) {
  switch (s) {
    case AmxSupport::Usable: return "usable";
    case AmxSupport::NoCpu: return "this CPU has no AMX-TILE and AMX-BF16";
    case AmxSupport::NoOsGrant: return "the CPU has AMX-BF16 but the OS refuses this process the tile state";
  }
  return "?";
}

std::uint64_t amx_tile_gemms() { return amx_tiles.load(); }
void count_amx_tile_gemm() { amx_tiles.fetch_add(1); }

}  // namespace nvfp4::opt

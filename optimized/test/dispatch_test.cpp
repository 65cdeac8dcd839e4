// Dispatch: the path chosen by default is the best this CPU has (its flags read here from
// /proc/cpuinfo, independently of the dispatcher's own detection), a forced path is the one that
// runs (counted by the kernels), and nothing falls back silently.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "core/error.h"
#include "optimized/kernels/dispatch.h"

namespace nvfp4::opt {
namespace {

std::set<std::string> cpu_flags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("flags", 0) == 0) {
      std::istringstream words(line.substr(line.find(':') + 1));
      std::set<std::string> r;
      for (std::string w; words >> w;) r.insert(w);
      return r;
    }
  return {};
}

TEST(Dispatch, BestPathIsWhatTheCpuFlagsAllow) {
  const auto f = cpu_flags();
  if (f.empty()) GTEST_SKIP() << "no /proc/cpuinfo";
  auto has = [&](std::initializer_list<const char*> names) {
    for (const char* n : names)
      if (!f.count(n)) return false;
    return true;
  };
  const bool avx2 = has({"avx2", "fma", "f16c"});
  const bool avx512 = avx2 && has({"avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512vbmi"});
  // Linux lists amx_tile only where it enables the tile state (arch/x86/kernel/fpu/xstate.c clears
  // the flag of an xfeature it leaves off) and amx_int8 only with amx_tile (cpuid-deps.c).
  const bool amx = avx512 && has({"amx_tile", "amx_int8"});
  const Isa want = amx ? Isa::Amx : avx512 ? Isa::Avx512 : avx2 ? Isa::Avx2 : Isa::Scalar;
  EXPECT_EQ(available_isas().front(), want) << "best path " << isa_name(available_isas().front()) << ", flags allow " << isa_name(want);
  EXPECT_EQ(available_isas().back(), Isa::Scalar);
  ::unsetenv("NVFP4_KERNEL");
  EXPECT_EQ(active_isa(), want);
}

TEST(Dispatch, ForcingAPathByScopeOrEnvironment) {
  for (Isa i : available_isas()) {
    ScopedIsa s(i);
    EXPECT_EQ(active_isa(), i);
  }
  ::setenv("NVFP4_KERNEL", "scalar", 1);
  EXPECT_EQ(active_isa(), Isa::Scalar);
  ::setenv("NVFP4_KERNEL", "avx1024", 1);
  try {
    active_isa();
    ADD_FAILURE() << "accepted NVFP4_KERNEL=avx1024";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("scalar, avx2, avx512 or amx"), std::string::npos) << e.what();
  }
  ::unsetenv("NVFP4_KERNEL");
  ::setenv("NVFP4_KERNEL", "amx", 1);
  EXPECT_EQ(parse_isa("amx"), Isa::Amx);
  if (available_isas().front() == Isa::Amx) EXPECT_EQ(active_isa(), Isa::Amx);
  else EXPECT_THROW(active_isa(), Error) << "NVFP4_KERNEL=amx where there is none";
  ::unsetenv("NVFP4_KERNEL");
  for (Isa i : {Isa::Avx2, Isa::Avx512, Isa::Amx})
    if (std::find(available_isas().begin(), available_isas().end(), i) == available_isas().end()) {
      ScopedIsa s(i);
      EXPECT_THROW(active_isa(), Error) << isa_name(i) << " forced on a CPU without it must not fall back";
    }
}

}  // namespace
}  // namespace nvfp4::opt

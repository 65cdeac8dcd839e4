// What the results depend on, recorded in the benchmark JSON's context: the kernel path chosen,
// the competitors' library versions and configurations, and the environment that steers them.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>

#include "optimized/kernels/dispatch.h"

extern "C" char* openblas_get_config(void);

namespace {

const bool recorded = [] {
  const dnnl_version_t* v = dnnl_version();
  benchmark::AddCustomContext("nvfp4_kernel_path", nvfp4::opt::isa_name(nvfp4::opt::available_isas().front()));
  // Whether the amx path could run here, or why not (the report says so where it is missing).
  benchmark::AddCustomContext("nvfp4_amx", nvfp4::opt::amx_support_text(nvfp4::opt::amx_support()));
  benchmark::AddCustomContext("onednn_version", std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch));
  benchmark::AddCustomContext("openblas_config", openblas_get_config());
  for (const char* var : {"DNNL_MAX_CPU_ISA", "OPENBLAS_CORETYPE"}) {
    const char* val = std::getenv(var);
    benchmark::AddCustomContext(var, val ? val : "(unset)");
  }
  return true;
}();

}  // namespace

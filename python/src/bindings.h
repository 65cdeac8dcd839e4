// The parts of nvfp4._core, each defined in its own file.
#pragma once
#include <nanobind/nanobind.h>

#include <mutex>

namespace nvfp4::py {

namespace nb = nanobind;

// Held by every call that records a command line and builds a report (tools/cli/report_json.h
// keeps the command line in one process-wide place), so two Python threads never mix reports.
std::mutex& report_mutex();

void bind_diff(nb::module_& m);       // diff_state, write_dump
void bind_reference(nb::module_& m);  // process, quantize, dequantize, gemm_exact

}  // namespace nvfp4::py

// The streaming read that the DRAM limit (machine_limits.cpp, limits/dram_read) and the cold GEMMs'
// own copies (gemm_bench.cpp, gemm/read/cold_copies) are both measured with, so that the two rates
// compare: 128 bytes per step into two 512-bit accumulators. Defined in machine_limits.cpp, which
// is compiled for AVX-512; call it only where the CPU has AVX-512F.
#pragma once
#include <cstddef>
#include <cstdint>

namespace nvfp4::bench {

// The sum of the bytes' 64-bit words (a tail under 128 bytes byte by byte): a value the compiler
// cannot drop, for a read of every byte.
long long stream_sum(const std::uint8_t* p, std::size_t n);

}  // namespace nvfp4::bench

// The GEMM kernels behind opt::gemm, one set per instruction set. gemm() prepares the
// activations once, row by row in parallel (x as f32; for w4a4 also its quantized codes and block
// scales, bitwise the reference's), lets the chosen set re-lay them out for its loads (prepare), then runs the set's
// kernel over ranges of stored weight rows, one range per thread. Each kernel writes
// out[m * N + col] = post * sum_k x[m, k] w[n, k] in f32 for the rows of its range, where col is the
// output column of stored row n (trtllm's shuffled rows are un-permuted here, never the weights).
//
// Summation orders differ between the sets (and from the scalar one); optimized/gemm.h bounds every
// order they use against the exact oracle.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "optimized/gemm.h"

namespace nvfp4::opt {

struct Activations {
  std::int64_t M = 0, K = 0, Kp = 0;  // Kp = roundup(K, 64): every buffer below is zero-padded to it
  const float* f = nullptr;           // [M][Kp] x as f32 (w4a16; nullptr for w4a4 from F32 x)
  const std::int8_t* q = nullptr;     // [M][Kp] w4a4: 2 * e2m1(code), the integers 0, ±1, ±2, ±3, ±4, ±6, ±8, ±12
  const float* s = nullptr;           // [M][Kp / 16] w4a4: E4M3 block scales as f32
  float smallest = 0;                 // w4a16: the smallest nonzero |x| (0 when every x is 0), known before prepared_bytes
};

// Whatever layout a kernel set wants its activations in, built once per GEMM (64-byte aligned, not
// zero-filled: a prepare writes every byte it later reads). gemm() keeps one per thread and reuses
// its storage, so that a GEMM in a loop does not map and fault in fresh pages every call.
struct Prepared {
  std::unique_ptr<std::uint8_t[]> storage;
  std::size_t capacity = 0;
  std::uint8_t* data = nullptr;
  void resize(std::size_t n) {
    if (n > capacity) {
      storage.reset(new std::uint8_t[n + 64]);
      capacity = n;
    }
    data = storage.get() + (64 - reinterpret_cast<std::uintptr_t>(storage.get()) % 64) % 64;
  }
  template <class T> T* as(std::size_t byte_offset = 0) { return reinterpret_cast<T*>(data + byte_offset); }
  template <class T> const T* as(std::size_t byte_offset = 0) const { return reinterpret_cast<const T*>(data + byte_offset); }
};

struct KernelSet {
  // One activation row of K (K % 16 == 0) quantized for w4a4, bitwise the reference's codes: as the
  // integers 2 e2m1 (0, ±1, .., ±12) and the block scales as f32.
  void (*quantize)(const float* x, std::int64_t K, float gs, std::int8_t* doubled, float* scales);
  // The bytes prepare needs, and prepare itself for activation rows [m0, m1) (rows apart run in
  // parallel; the range that ends at M also writes any padding rows past it).
  std::size_t (*prepared_bytes)(GemmMode mode, const Activations& a);
  void (*prepare)(GemmMode mode, const Activations& a, Prepared& p, std::int64_t m0, std::int64_t m1);
  void (*run)(GemmMode mode, const GemmWeights& w, const Activations& a, const Prepared& p, float* out, std::int64_t n0,
              std::int64_t n1);
};

const KernelSet& scalar_kernels();
void quantize_row_scalar(const float* x, std::int64_t K, float gs, std::int8_t* doubled, float* scales);
const KernelSet& avx2_kernels();
const KernelSet& avx512_kernels();
const KernelSet& amx_kernels();

}  // namespace nvfp4::opt

#!/usr/bin/env bash
# Every benchmark in one command (about 8 minutes on 2 cores): builds only the bench, runs it, and
# writes bench/results/*.json, bench/RESULTS.md and bench/gemm.svg. Run on an idle machine.
#   OpenBLAS: OPENBLAS_CORETYPE=SkylakeX selects its AVX-512 kernels.
#   oneDNN: DNNL_MAX_CPU_ISA=AVX512_CORE_VNNI keeps it on the instructions our avx512 kernels use; its
#   default (AMX tiles, where the CPU has them) is run once more on the headline shape, for the record.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset default >/dev/null
cmake --build --preset default --target nvfp4_bench >/dev/null
bin=build/default/bench/nvfp4_bench
out=bench/results
mkdir -p "$out"
export OPENBLAS_CORETYPE=SkylakeX DNNL_MAX_CPU_ISA=AVX512_CORE_VNNI
run() {  # name filter extra-args...
  local name=$1 filter=$2
  shift 2
  echo "bench: $name" >&2
  "$bin" --benchmark_filter="$filter" --benchmark_format=json --benchmark_out="$out/$name.json" "$@" >/dev/null
}
run limits 'limits/' --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
run gemm 'gemm/' --benchmark_min_time=0.05
# The targets' shape: medians of 11 repetitions, interleaved at random with the other benchmarks'
# (Google Benchmark's random interleaving), so that a slow stretch of this VM's host falls on
# repetitions of many benchmarks rather than on all of one (the 1- and 2-thread cells of a ratio).
# 11, not 5: with 5 the 2 threads / 1 thread cells under 1.8 were a different few in every run;
# 12 such repetitions put every one of them at 1.84-2.00 (bench/measurements.md, 2026-12-08).
run headline 'gemm/.*/4096x4096/' --benchmark_min_time=0.05 --benchmark_repetitions=11 --benchmark_enable_random_interleaving=true \
  --benchmark_report_aggregates_only=true
run pipeline 'pipeline/' --benchmark_min_time=0.2
(unset DNNL_MAX_CPU_ISA; run onednn_default 'gemm/int8/onednn_u8s8s32/4096x4096/.*/hot' --benchmark_min_time=0.05)
.venv/bin/python bench/report.py "$out" bench/RESULTS.md bench/gemm.svg "bench/run.sh"
echo "bench: wrote bench/RESULTS.md and bench/gemm.svg" >&2

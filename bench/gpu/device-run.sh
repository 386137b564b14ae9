#!/usr/bin/env bash
# One call on the GPU machine (see docs/gpu.md): unpack the carried node and test deps, run the CUDA
# tests, the kernel benchmark and the end-to-end benchmark, and an Nsight Compute look at one query
# kernel. Logs and JSON go to $OUT. Needs carried: .device/gpu (node.xz, nm-uvu.tar), dist,
# build/hps_cuda.node, build/hps_gpu_bench.
set -uo pipefail
xz -d -c .device/gpu/node.xz > /tmp/node && chmod +x /tmp/node && export PATH=/tmp:$PATH
tar xf .device/gpu/nm-uvu.tar
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
stage="${1:-all}"
if [[ $stage == all || $stage == tests ]]; then
  timeout 240 node scripts/run-tests.mjs cuda- 2>&1 | tee "$OUT/tests.log" | grep -vE '^\s*$' | tail -40
fi
if [[ $stage == all || $stage == bench ]]; then
  timeout 240 build/hps_gpu_bench "$OUT/kernel.json" 2>&1 | tee "$OUT/kernel.log"
fi
if [[ $stage == all || $stage == bench || $stage == e2e ]]; then
  timeout 300 node dist/bench/gpu/e2e.js --kernel "$OUT/kernel.json" --out "$OUT/gpu.json" 2>&1 | tee "$OUT/e2e.log"
fi
if [[ $stage == all || $stage == ncu ]] && command -v ncu >/dev/null; then
  timeout 150 ncu --kernel-name regex:queryKernel --launch-count 1 --section SpeedOfLight --section MemoryWorkloadAnalysis \
    --section Occupancy --section LaunchStats build/hps_gpu_bench "$OUT/ncu-bench.json" > "$OUT/ncu.txt" 2>&1
  grep -E "Throughput|Duration|Achieved Occupancy|Registers|L1/TEX Hit|L2 Hit|DRAM|Memory \[%\]" "$OUT/ncu.txt" | head -30
fi

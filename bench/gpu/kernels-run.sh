#!/usr/bin/env bash
# Item-4 kernel run on the GPU machine, in one call: HierarchicalKV's benchmark (build/hkv_bench, see
# build-hkv-bench.sh) and ours (build/hps_ops_bench) at the same shapes, interleaved twice, then an
# Nsight Compute profile of one query launch (load 0.5, tile 8, 16 Mi x 128) from build/hps_gpu_bench.
#   bench/gpu/kernels-run.sh BINDIR   (BINDIR holds hkv_bench, hps_ops_bench, hps_gpu_bench; logs to $OUT)
set -uo pipefail
bin="${1:-build}"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader | tee "$OUT/gpu.txt"
for round in 1 2; do
  timeout 150 "$bin/hps_ops_bench" "$OUT/ops-$round.json" 2>&1 | tee "$OUT/ops-$round.log"
  timeout 150 "$bin/hkv_bench" 2>&1 | tee "$OUT/hkv-$round.log"
done
timeout 200 ncu --clock-control none -k regex:queryKernel --launch-skip 4 --launch-count 1 \
  --section SpeedOfLight --section MemoryWorkloadAnalysis --section Occupancy --section LaunchStats \
  --section WarpStateStats "$bin/hps_gpu_bench" 2>&1 | grep -v '^load\|^0\.\|^1\.' > "$OUT/ncu-query.txt"
tail -80 "$OUT/ncu-query.txt"

#!/usr/bin/env bash
# One call on the GPU machine (see docs/gpu.md): unpack the carried node and runtime packages, measure
# the PCIe bound (pinned copies through PyTorch), run the GPU equality tests (ParameterServer with the
# CUDA L1 against the WASM path, the CUDA cache suite, the pipeline suites incl. the torn-read test with
# the CUDA L1 picked by `auto`), each file in its own process, then the end-to-end benchmark through
# ParameterServer. Logs and JSON go to $OUT. Carried (git-ignored): .device (node.xz, nm.tar.xz), dist,
# build/hps_cuda.node, build/hps_gpu_bench.
#   bench/gpu/device-run.sh [all|tests|bench|kernel|scale|multi|cpu]
#   (kernel: build/hps_gpu_bench and bench/gpu/e2e.ts, the cache alone; scale: bench/gpu/scale.ts, replicated
#   and sharded over 1, 2, 4 and 8 GPUs as the machine has; multi: the tests, then scale; cpu: the CPU
#   suites named by SUITES (default limit,host,memory,import) of bench/run.ts on the machine's quiet host
#   cores, results in $OUT/cpu)
set -uo pipefail
xz -d -c .device/node.xz > /tmp/node && chmod +x /tmp/node && export PATH=/tmp:$PATH
xz -d -c .device/nm.tar.xz | tar x
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
nvidia-smi --query-gpu=name,driver_version,memory.total,pcie.link.gen.current,pcie.link.width.current --format=csv,noheader | tee "$OUT/gpu.txt"
stage="${1:-all}"
if [[ $stage == cpu ]]; then
  mkdir -p "$OUT/cpu"
  { lscpu | grep -E 'Model name|^CPU\(s\)|NUMA node\(s\)'; free -g | head -2; command -v cc gcc clang; } | tee "$OUT/cpu/machine.txt"
  timeout 560 node dist/bench/run.js --only "${SUITES:-limit,host,memory,import}" --no-docs --out "$OUT/cpu" 2>&1 | tee "$OUT/cpu/run-$(date +%s).log"
  exit
fi
timeout 60 python3 - <<'PY' | tee "$OUT/pcie.txt"
import torch
n = 1 << 28  # 1 GiB of float32
for d in range(torch.cuda.device_count()):
    x = torch.rand(n, device=f'cuda:{d}')
    h = torch.empty(n, pin_memory=True)
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for way in ('d2h', 'h2d'):
        copy = (lambda: h.copy_(x, non_blocking=True)) if way == 'd2h' else (lambda: x.copy_(h, non_blocking=True))
        for _ in range(2): copy()
        torch.cuda.synchronize(d)
        with torch.cuda.device(d):
            s.record()
            for _ in range(10): copy()
            e.record()
            torch.cuda.synchronize(d)
        print(f'pcie device {d} {way} GB/s {10 * 4 * n / (s.elapsed_time(e) * 1e-3) / 1e9:.1f}')
PY
pcie=$(awk '/device 0 d2h/ {print $NF}' "$OUT/pcie.txt")
if [[ $stage == all || $stage == tests || $stage == multi ]]; then
  for f in dist/test/cuda-*.test.js dist/test/pipeline*.test.js dist/test/pool.test.js dist/test/lookup-many.test.js; do
    timeout 150 node "$f" > /tmp/one.log 2>&1
    rc=$?
    { echo "# $f rc=$rc"; cat /tmp/one.log; } >> "$OUT/tests.log"
    printf '%-44s rc=%s %s\n' "$f" "$rc" "$(grep -E 'Total:|Passed:|skipped' /tmp/one.log | tr -s ' \n' ' ')"
  done
fi
if [[ $stage == all || $stage == bench ]]; then
  timeout 300 node dist/bench/gpu/ps-e2e.js --pcie "${pcie:-55}" --out "$OUT/gpu-ps.json" 2>&1 | tee "$OUT/ps-e2e.log"
fi
if [[ $stage == kernel ]]; then
  timeout 240 build/hps_gpu_bench "$OUT/kernel.json" 2>&1 | tee "$OUT/kernel.log"
  timeout 300 node dist/bench/gpu/e2e.js --kernel "$OUT/kernel.json" --out "$OUT/gpu.json" 2>&1 | tee "$OUT/e2e.log"
fi
if [[ $stage == scale || $stage == multi ]]; then
  timeout 420 node dist/bench/gpu/scale.js --out "$OUT/gpu-scale.json" 2>&1 | tee "$OUT/scale.log"
fi

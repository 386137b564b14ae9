#!/usr/bin/env bash
# Builds build/hkv_bench (bench/gpu/hkv-bench.cu) against a HierarchicalKV checkout (header-only; its
# code is not part of this repository):
#   git clone https://github.com/NVIDIA-Merlin/HierarchicalKV /tmp/hkv && bench/gpu/build-hkv-bench.sh /tmp/hkv
set -euo pipefail
hkv="${1:?path of a HierarchicalKV checkout}"
mkdir -p build
nvcc -O3 -std=c++17 -arch=sm_90 --expt-relaxed-constexpr --expt-extended-lambda \
  -I"$hkv/include" -I"$hkv/benchmark" bench/gpu/hkv-bench.cu -o build/hkv_bench

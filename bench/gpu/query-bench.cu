// The "gpu" workload (docs/benchmarks.md, docs/gpu.md) at the kernel level: a table of 16 Mi rows x dim 128 filled to a load
// factor (0.5 / 0.75 / 1.0), queried with 1 Mi keys a call of which 60% were inserted, timed with CUDA
// events (median of many calls, rotating over several key batches), for query tiles of 8, 16 and 32
// threads a key. Every result is checked against the CPU first: rows are a function of the key, so
// each hit row is recomputed on the host and compared bit for bit, and keys never inserted must miss.
// Also measures the card's device-to-device copy rate. Prints a table and writes JSON to argv[1].
//   hps_gpu_bench out.json [--quick]
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>
#include "buffers.h"
#include "kernels.h"

using namespace hps;

namespace {

// Key i of the benchmark: a bijection of i, so distinct i give distinct keys, spread over all 64 bits.
__host__ __device__ int64_t benchKey(uint64_t i) {
  uint64_t z = i + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return static_cast<int64_t>(z ^ (z >> 31));
}
// Element c of key k's row: random-looking, never zero.
__host__ __device__ float benchValue(int64_t k, uint32_t c) {
  uint32_t h = static_cast<uint32_t>(mixKey(k ^ (static_cast<int64_t>(c) << 40)));
  return static_cast<float>(h >> 8) * (1.0f / 16777216.0f) + 0.001f;
}

__global__ void makeRows(uint64_t first, uint32_t n, uint32_t dim, int64_t* keys, float* rows) {
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    int64_t k = benchKey(first + i);
    keys[i] = k;
    for (uint32_t c = 0; c < dim; c++) rows[size_t(i) * dim + c] = benchValue(k, c);
  }
}

struct Args {
  std::string out;
  bool quick = false;
};

double median(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; i++) {
    if (!std::strcmp(argv[i], "--quick")) a.quick = true;
    else a.out = argv[i];
  }
  const uint32_t dim = 128, stride = 128;
  const uint64_t capacity = a.quick ? (1ull << 20) : (16ull << 20);
  const uint32_t batch = a.quick ? (1u << 16) : (1u << 20);
  const int batches = 4, reps = a.quick ? 5 : 30;
  cudaDeviceProp prop;
  check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  std::printf("device: %s, %d SMs, %.1f GiB\n", prop.name, prop.multiProcessorCount, prop.totalGlobalMem / 1073741824.0);

  cudaStream_t s;
  check(cudaStreamCreate(&s), "stream");
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);

  // The copy ceiling: a 2 GiB device-to-device copy, counting bytes read plus written.
  double copyGBs;
  {
    size_t bytes = a.quick ? (256ull << 20) : (2ull << 30);
    void *x, *y;
    check(cudaMalloc(&x, bytes), "malloc");
    check(cudaMalloc(&y, bytes), "malloc");
    cudaMemset(x, 1, bytes);
    std::vector<float> t;
    for (int r = 0; r < 10; r++) {
      cudaEventRecord(e0, s);
      cudaMemcpyAsync(y, x, bytes, cudaMemcpyDeviceToDevice, s);
      cudaEventRecord(e1, s);
      cudaEventSynchronize(e1);
      float ms;
      cudaEventElapsedTime(&ms, e0, e1);
      t.push_back(ms);
    }
    copyGBs = 2.0 * bytes / (median(t) * 1e-3) / 1e9;
    cudaFree(x);
    cudaFree(y);
  }
  std::printf("device copy: %.0f GB/s (read + write)\n", copyGBs);

  // One table, reused for each load factor (cleared in between).
  uint32_t buckets = static_cast<uint32_t>(capacity / kBucketSlots);
  size_t slots = size_t(buckets) * kBucketSlots;
  TableView t{};
  t.buckets = buckets;
  t.dim = dim;
  t.stride = stride;
  t.policy = kLru;
  check(cudaMalloc(&t.digests, slots), "malloc");
  check(cudaMalloc(&t.keys, slots * 8), "malloc");
  check(cudaMalloc(&t.scores, slots * 4), "malloc");
  check(cudaMalloc(&t.values, slots * stride * 4), "malloc");
  check(cudaMalloc(&t.locks, buckets * 4), "malloc");
  cudaMemset(t.locks, 0, buckets * 4);

  const uint32_t chunk = 1u << 20;
  int64_t* dKeys;
  float* dRows;
  unsigned long long* dCounters;
  check(cudaMalloc(&dKeys, size_t(chunk) * 8), "malloc");
  check(cudaMalloc(&dRows, size_t(chunk) * dim * 4), "malloc");
  check(cudaMalloc(&dCounters, 32), "malloc");
  std::vector<int64_t*> qKeys(batches);
  std::vector<std::vector<uint64_t>> qOrigin(batches);
  for (auto& q : qKeys) check(cudaMalloc(&q, size_t(batch) * 8), "malloc");
  float* qOut;
  uint8_t* qMiss;
  check(cudaMalloc(&qOut, size_t(batch) * dim * 4), "malloc");
  check(cudaMalloc(&qMiss, batch), "malloc");

  FILE* json = a.out.empty() ? nullptr : std::fopen(a.out.c_str(), "w");
  if (json) std::fprintf(json, "{\n  \"device\": \"%s\",\n  \"sms\": %d,\n  \"copyGBs\": %.1f,\n  \"capacity\": %llu,\n  \"dim\": %u,\n  \"batch\": %u,\n  \"runs\": [\n",
                         prop.name, prop.multiProcessorCount, copyGBs, (unsigned long long)capacity, dim, batch);
  bool firstRun = true;
  std::printf("%-6s %-5s %-10s %-12s %-14s %-10s %-8s\n", "load", "tile", "hit rate", "median us", "keys/s (2^30)", "GB/s", "copy x");
  for (double lf : {0.5, 0.75, 1.0}) {
    cudaMemset(t.digests, 0, slots);
    cudaMemset(t.scores, 0, slots * 4);
    uint64_t inserted = static_cast<uint64_t>(lf * capacity);
    unsigned long long counts[4] = {0, 0, 0, 0};
    cudaMemset(dCounters, 0, 32);
    for (uint64_t first = 0; first < inserted; first += chunk) {
      uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(chunk, inserted - first));
      makeRows<<<1024, 256, 0, s>>>(first, n, dim, dKeys, dRows);
      launchInsert(t, dKeys, n, dRows, nullptr, ShardFilter{0, 1}, 1, nullptr, dCounters, s);
    }
    check(cudaStreamSynchronize(s), "fill");
    check(cudaGetLastError(), "fill");
    cudaMemcpy(counts, dCounters, 24, cudaMemcpyDeviceToHost);
    // Query batches: 60% keys drawn from the inserted ones, 40% keys never inserted.
    uint64_t seed = 12345;
    auto next = [&] { seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; return seed; };
    for (int b = 0; b < batches; b++) {
      std::vector<int64_t> h(batch);
      qOrigin[b].resize(batch);
      for (uint32_t i = 0; i < batch; i++) {
        bool present = (next() % 100) < 60;
        uint64_t origin = present ? next() % inserted : inserted + (next() % (1ull << 40));
        qOrigin[b][i] = origin;
        h[i] = benchKey(origin);
      }
      cudaMemcpy(qKeys[b], h.data(), size_t(batch) * 8, cudaMemcpyHostToDevice);
    }
    // Check every batch against the CPU before timing.
    std::vector<float> out(size_t(batch) * dim);
    std::vector<uint8_t> miss(batch);
    uint64_t hits = 0, queried = 0;
    for (int b = 0; b < batches; b++) {
      cudaMemset(qMiss, 7, batch);
      launchQuery(t, qKeys[b], batch, qOut, qMiss, nullptr, ShardFilter{0, 1}, 2, 8, s);
      check(cudaStreamSynchronize(s), "query");
      cudaMemcpy(out.data(), qOut, out.size() * 4, cudaMemcpyDeviceToHost);
      cudaMemcpy(miss.data(), qMiss, batch, cudaMemcpyDeviceToHost);
      for (uint32_t i = 0; i < batch; i++) {
        uint64_t origin = qOrigin[b][i];
        if (miss[i] > 1) { std::fprintf(stderr, "FAIL: miss flag %d not written at %u\n", miss[i], i); return 1; }
        if (origin >= inserted && miss[i] == 0) { std::fprintf(stderr, "FAIL: key never inserted was found at %u\n", i); return 1; }
        if (miss[i] == 0) {
          hits++;
          for (uint32_t c = 0; c < dim; c++) {
            if (out[size_t(i) * dim + c] != benchValue(benchKey(origin), c)) {
              std::fprintf(stderr, "FAIL: row of key %u differs at column %u\n", i, c);
              return 1;
            }
          }
        }
        queried++;
      }
    }
    double hitRate = double(hits) / queried;
    std::printf("load %.2f: %llu inserted, %llu evicted at insert; results checked on the CPU\n", lf, counts[0] + counts[1], counts[2]);
    for (int tile : {8, 16, 32}) {
      std::vector<float> times;
      for (int r = 0; r < reps + 3; r++) {
        int b = r % batches;
        cudaEventRecord(e0, s);
        launchQuery(t, qKeys[b], batch, qOut, qMiss, nullptr, ShardFilter{0, 1}, 3 + r, tile, s);
        cudaEventRecord(e1, s);
        check(cudaEventSynchronize(e1), "timed query");
        float ms;
        cudaEventElapsedTime(&ms, e0, e1);
        if (r >= 3) times.push_back(ms);
      }
      check(cudaGetLastError(), "timed query");
      double ms = median(times), mn = *std::min_element(times.begin(), times.end()), mx = *std::max_element(times.begin(), times.end());
      double keysPerS = batch / (ms * 1e-3);
      // Bytes the query must move: key 8, digest line 128, one key compare 8, hit row read + write,
      // miss flag 1, score 4.
      double bytes = batch * (8.0 + 128 + 8 + 1) + hitRate * batch * (2.0 * dim * 4 + 4);
      double gbs = bytes / (ms * 1e-3) / 1e9;
      std::printf("%-6.2f %-5d %-10.3f %-12.1f %-14.3f %-10.0f %-8.2f\n", lf, tile, hitRate, ms * 1e3, keysPerS / 1073741824.0, gbs, gbs / copyGBs);
      if (json) {
        std::fprintf(json, "%s    {\"loadFactor\": %.2f, \"tile\": %d, \"hitRate\": %.4f, \"medianMs\": %.5f, \"minMs\": %.5f, \"maxMs\": %.5f, \"samples\": %zu, \"keysPerSecond\": %.4e, \"bytesPerQuery\": %.0f, \"GBs\": %.1f, \"evictedAtFill\": %llu}",
                     firstRun ? "" : ",\n", lf, tile, hitRate, ms, mn, mx, times.size(), keysPerS, bytes, gbs, counts[2]);
        firstRun = false;
      }
    }
  }
  if (json) {
    std::fprintf(json, "\n  ]\n}\n");
    std::fclose(json);
  }
  return 0;
}

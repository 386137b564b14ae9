// The other cache kernels at HierarchicalKV's benchmark shapes (bench/gpu/hkv-bench.cu runs HKV's own
// benchmark at the same ones): capacity 16 Mi rows, 1 Mi keys a call, dim 32 / 64 / 128, load factor
// 0.5 / 0.75 / 1.0, batches of which 60% of keys are in the table (HKV's hit rate). Timed with CUDA events,
// median of `reps` calls:
//   query  launchQuery (tile 8), as HKV `find`
//   insert launchInsert with the `found` pass (replace present keys, then place new ones), as HKV
//          `insert_or_assign`; the 40% new keys are erased again after each call (not timed) so the load
//          stays put; "dedup+insert" adds launchDedup, the engine's whole insert path
//   dedup  launchDedup alone (1 Mi keys, 512 Ki distinct)
//   pooled launchDedup + launchQuery (leaders) + launchPool: 64 Ki rows of 16 keys, weighted mean; and
//          launchPool alone
// Checked first: after one insert every key of the batch is found with its row (rows are a function of
// the key), dedup's leader/lastOf against the CPU, and one pooled row against the CPU.
//   hps_ops_bench out.json [--quick]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>
#include "buffers.h"
#include "kernels.h"

using namespace hps;

namespace {

__host__ __device__ int64_t benchKey(uint64_t i) {
  uint64_t z = i + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return static_cast<int64_t>(z ^ (z >> 31));
}
__host__ __device__ float benchValue(int64_t k, uint32_t c) {
  uint32_t h = static_cast<uint32_t>(mixKey(k ^ (static_cast<int64_t>(c) << 40)));
  return static_cast<float>(h >> 8) * (1.0f / 16777216.0f) + 0.001f;
}
// Keys and rows of the given origins (origins may be null: first + i).
__global__ void makeRows(const uint64_t* origins, uint64_t first, uint32_t n, uint32_t dim, int64_t* keys, float* rows) {
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    int64_t k = benchKey(origins ? origins[i] : first + i);
    keys[i] = k;
    for (uint32_t c = 0; c < dim; c++) rows[size_t(i) * dim + c] = benchValue(k, c);
  }
}

double median(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Timer {
  cudaStream_t s;
  cudaEvent_t e0, e1;
  template <class F, class G>
  std::vector<float> run(int reps, F timed, G after) {
    std::vector<float> t;
    for (int r = 0; r < reps + 2; r++) {
      cudaEventRecord(e0, s);
      timed(r);
      cudaEventRecord(e1, s);
      check(cudaEventSynchronize(e1), "timed call");
      float ms;
      cudaEventElapsedTime(&ms, e0, e1);
      if (r >= 2) t.push_back(ms);
      after(r);
    }
    check(cudaStreamSynchronize(s), "after");
    check(cudaGetLastError(), "timed kernels");
    return t;
  }
};

FILE* json = nullptr;
bool firstRow = true;
void report(const char* op, uint32_t dim, double lf, uint32_t n, const std::vector<float>& t) {
  double ms = median(t), mn = *std::min_element(t.begin(), t.end()), mx = *std::max_element(t.begin(), t.end());
  double bk = n / (ms * 1e-3) / 1e9;
  std::printf("%-14s dim %-4u load %.2f  median %8.1f us (%.1f - %.1f)  %.3f B-KV/s\n", op, dim, lf, ms * 1e3, mn * 1e3, mx * 1e3, bk);
  if (json) {
    std::fprintf(json, "%s    {\"op\": \"%s\", \"dim\": %u, \"loadFactor\": %.2f, \"keys\": %u, \"medianMs\": %.5f, \"minMs\": %.5f, \"maxMs\": %.5f, \"samples\": %zu, \"billionKeysPerSecond\": %.4f}",
                 firstRow ? "" : ",\n", op, dim, lf, n, ms, mn, mx, t.size(), bk);
    firstRow = false;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string out;
  bool quick = false;
  for (int i = 1; i < argc; i++) {
    if (!std::strcmp(argv[i], "--quick")) quick = true;
    else out = argv[i];
  }
  const uint64_t capacity = quick ? (1ull << 20) : (16ull << 20);
  const uint32_t n = quick ? (1u << 16) : (1u << 20), poolRows = n / 16;
  const int reps = quick ? 5 : 20;
  cudaDeviceProp prop;
  check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  std::printf("device: %s, %d SMs; capacity %llu, %u keys a call\n", prop.name, prop.multiProcessorCount, (unsigned long long)capacity, n);
  Timer tm;
  check(cudaStreamCreate(&tm.s), "stream");
  cudaEventCreate(&tm.e0);
  cudaEventCreate(&tm.e1);
  cudaStream_t s = tm.s;

  uint32_t buckets = static_cast<uint32_t>(capacity / kBucketSlots);
  size_t slots = size_t(buckets) * kBucketSlots;
  TableView t{};
  t.buckets = buckets;
  t.policy = kLru;
  check(cudaMalloc(&t.digests, slots), "malloc");
  check(cudaMalloc(&t.keys, slots * 8), "malloc");
  check(cudaMalloc(&t.scores, slots * 4), "malloc");
  check(cudaMalloc(&t.values, slots * 128 * 4), "malloc");
  check(cudaMalloc(&t.locks, buckets * 4), "malloc");
  cudaMemset(t.locks, 0, buckets * 4);

  int64_t *dKeys, *qKeys, *iKeys, *ddKeys;
  float *dRows, *iRows, *qOut, *pOut, *weights;
  uint64_t* dOrigins;
  uint8_t *miss, *found, *missByPos;
  int *scratch, *leader, *lastOf;
  uint32_t* offsets;
  unsigned long long* counters;
  const uint32_t dslots = 2u << (32 - __builtin_clz(n - 1));  // power of two >= 2n
  check(cudaMalloc(&dKeys, size_t(n) * 8), "malloc");
  check(cudaMalloc(&qKeys, size_t(n) * 8), "malloc");
  check(cudaMalloc(&iKeys, size_t(n) * 8), "malloc");
  check(cudaMalloc(&ddKeys, size_t(n) * 8), "malloc");
  check(cudaMalloc(&dOrigins, size_t(n) * 8), "malloc");
  check(cudaMalloc(&dRows, size_t(n) * 128 * 4), "malloc");
  check(cudaMalloc(&iRows, size_t(n) * 128 * 4), "malloc");
  check(cudaMalloc(&qOut, size_t(n) * 128 * 4), "malloc");
  check(cudaMalloc(&pOut, size_t(poolRows) * 128 * 4), "malloc");
  check(cudaMalloc(&weights, size_t(n) * 4), "malloc");
  check(cudaMalloc(&miss, n + 1), "malloc");
  check(cudaMalloc(&found, n + 1), "malloc");
  check(cudaMalloc(&missByPos, n + 1), "malloc");
  check(cudaMalloc(&scratch, size_t(dslots) * 2 * 4), "malloc");
  check(cudaMalloc(&leader, size_t(n) * 4), "malloc");
  check(cudaMalloc(&lastOf, size_t(n) * 4), "malloc");
  check(cudaMalloc(&offsets, size_t(poolRows + 1) * 4), "malloc");
  check(cudaMalloc(&counters, 32), "malloc");
  uint64_t seed = 12345;
  auto next = [&] { seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; return seed; };
  {
    std::vector<uint32_t> ho(poolRows + 1);
    for (uint32_t r = 0; r <= poolRows; r++) ho[r] = r * 16;
    cudaMemcpy(offsets, ho.data(), ho.size() * 4, cudaMemcpyHostToDevice);
    std::vector<float> hw(n);
    for (auto& w : hw) w = 0.25f + (next() % 1000) / 1000.0f;
    cudaMemcpy(weights, hw.data(), size_t(n) * 4, cudaMemcpyHostToDevice);
  }
  json = out.empty() ? nullptr : std::fopen(out.c_str(), "w");
  if (json) std::fprintf(json, "{\n  \"device\": \"%s\",\n  \"sms\": %d,\n  \"capacity\": %llu,\n  \"keysPerCall\": %u,\n  \"hitRate\": 0.6,\n  \"runs\": [\n",
                         prop.name, prop.multiProcessorCount, (unsigned long long)capacity, n);

  // Dedup: 1 Mi keys over 512 Ki distinct; checked against the CPU, then timed.
  {
    std::vector<int64_t> h(n);
    for (auto& k : h) k = benchKey(next() % (n / 2));
    cudaMemcpy(ddKeys, h.data(), size_t(n) * 8, cudaMemcpyHostToDevice);
    launchDedup(ddKeys, n, scratch, dslots, leader, lastOf, s);
    check(cudaStreamSynchronize(s), "dedup");
    std::vector<int> hl(n), hlast(n);
    cudaMemcpy(hl.data(), leader, size_t(n) * 4, cudaMemcpyDeviceToHost);
    cudaMemcpy(hlast.data(), lastOf, size_t(n) * 4, cudaMemcpyDeviceToHost);
    std::unordered_map<int64_t, std::pair<int, int>> firstLast;
    for (uint32_t i = 0; i < n; i++) {
      auto it = firstLast.find(h[i]);
      if (it == firstLast.end()) firstLast[h[i]] = {int(i), int(i)};
      else it->second.second = int(i);
    }
    for (uint32_t i = 0; i < n; i++) {
      // lastOf: the last occurrence; leader: one occurrence (the first to claim), the same for all of them.
      auto fl = firstLast[h[i]];
      bool leaderOk = hl[i] >= 0 && uint32_t(hl[i]) < n && h[hl[i]] == h[i] && hl[fl.first] == hl[i];
      if (!leaderOk || hlast[i] != fl.second) { std::fprintf(stderr, "FAIL: dedup differs from the CPU at %u\n", i); return 1; }
    }
    report("dedup", 0, 0, n, tm.run(reps, [&](int) { launchDedup(ddKeys, n, scratch, dslots, leader, lastOf, s); }, [](int) {}));
  }

  for (uint32_t dim : {32u, 64u, 128u}) {
    t.dim = dim;
    t.stride = dim;
    for (double lf : {0.5, 0.75, 1.0}) {
      cudaMemset(t.digests, 0, slots);
      cudaMemset(t.scores, 0, slots * 4);
      uint64_t inserted = static_cast<uint64_t>(lf * capacity);
      for (uint64_t first = 0; first < inserted; first += n) {
        uint32_t m = static_cast<uint32_t>(std::min<uint64_t>(n, inserted - first));
        makeRows<<<1024, 256, 0, s>>>(nullptr, first, m, dim, dKeys, dRows);
        launchInsert(t, dKeys, m, dRows, nullptr, ShardFilter{0, 1}, 1, nullptr, counters, s);
      }
      check(cudaStreamSynchronize(s), "fill");
      // Query batch: 60% inserted keys, 40% never inserted.
      std::vector<uint64_t> o(n);
      for (auto& x : o) x = (next() % 100) < 60 ? next() % inserted : inserted + (next() % (1ull << 40));
      cudaMemcpy(dOrigins, o.data(), size_t(n) * 8, cudaMemcpyHostToDevice);
      makeRows<<<1024, 256, 0, s>>>(dOrigins, 0, n, dim, qKeys, qOut);
      // Insert batch: the first 60% inserted keys (replaced with their own rows), the last 40% new keys
      // from a range of their own, erased again after each timed call.
      uint32_t present = n * 6 / 10;
      for (uint32_t i = 0; i < n; i++) o[i] = i < present ? next() % inserted : (1ull << 50) + next() % (1ull << 40);
      cudaMemcpy(dOrigins, o.data(), size_t(n) * 8, cudaMemcpyHostToDevice);
      makeRows<<<1024, 256, 0, s>>>(dOrigins, 0, n, dim, iKeys, iRows);
      // Check: one insert, then every key of the batch is found with its row (at load 1.0 a few may
      // have been evicted by full buckets: those must miss, none may return a wrong row).
      cudaMemset(counters, 0, 32);
      launchInsert(t, iKeys, n, iRows, nullptr, ShardFilter{0, 1}, 2, found, counters, s);
      launchQuery(t, iKeys, n, qOut, miss, nullptr, ShardFilter{0, 1}, 3, 8, s);
      check(cudaStreamSynchronize(s), "check insert");
      {
        std::vector<float> got(size_t(n) * dim);
        std::vector<uint8_t> hm(n);
        cudaMemcpy(got.data(), qOut, got.size() * 4, cudaMemcpyDeviceToHost);
        cudaMemcpy(hm.data(), miss, n, cudaMemcpyDeviceToHost);
        uint32_t misses = 0;
        for (uint32_t i = 0; i < n; i++) {
          if (hm[i]) { misses++; continue; }
          for (uint32_t c = 0; c < dim; c++)
            if (got[size_t(i) * dim + c] != benchValue(benchKey(o[i]), c)) { std::fprintf(stderr, "FAIL: inserted row %u differs\n", i); return 1; }
        }
        if (lf < 1.0 && misses) { std::fprintf(stderr, "FAIL: %u inserted keys missing at load %.2f\n", misses, lf); return 1; }
        std::printf("dim %u load %.2f: insert checked (%u of %u evicted by full buckets)\n", dim, lf, misses, n);
      }
      launchErase(t, iKeys + present, n - present, nullptr, ShardFilter{0, 1}, counters, s);
      auto eraseNew = [&](int) { launchErase(t, iKeys + present, n - present, nullptr, ShardFilter{0, 1}, counters, s); };
      report("query", dim, lf, n, tm.run(reps, [&](int r) { launchQuery(t, qKeys, n, qOut, miss, nullptr, ShardFilter{0, 1}, 10 + r, 8, s); }, [](int) {}));
      report("insert", dim, lf, n, tm.run(reps, [&](int r) { launchInsert(t, iKeys, n, iRows, nullptr, ShardFilter{0, 1}, 100 + r, found, counters, s); }, eraseNew));
      report("dedup+insert", dim, lf, n, tm.run(reps, [&](int r) {
        launchDedup(iKeys, n, scratch, dslots, leader, lastOf, s);
        launchInsert(t, iKeys, n, iRows, lastOf, ShardFilter{0, 1}, 200 + r, found, counters, s);
      }, eraseNew));
      // Pooled over the query batch: 64 Ki rows of 16 keys, weighted mean (combiner 1).
      auto pooled = [&](int r) {
        launchDedup(qKeys, n, scratch, dslots, leader, lastOf, s);
        launchQuery(t, qKeys, n, qOut, miss, leader, ShardFilter{0, 1}, 300 + r, 8, s);
        launchPool(qOut, dim, offsets, poolRows, weights, leader, miss, missByPos, kMean, pOut, s);
      };
      if (dim == 32 && lf == 0.5) {  // one pooled row against the CPU
        pooled(0);
        check(cudaStreamSynchronize(s), "pooled");
        std::vector<int64_t> hk(16);
        std::vector<uint8_t> hm(16);
        std::vector<float> hw(16), row(dim);
        cudaMemcpy(hk.data(), qKeys, 16 * 8, cudaMemcpyDeviceToHost);
        cudaMemcpy(hm.data(), miss, 16, cudaMemcpyDeviceToHost);
        cudaMemcpy(hw.data(), weights, 16 * 4, cudaMemcpyDeviceToHost);
        cudaMemcpy(row.data(), pOut, dim * 4, cudaMemcpyDeviceToHost);
        double wsum = 0;
        for (float w : hw) wsum += w;
        for (uint32_t c = 0; c < dim; c++) {
          double ref = 0;
          for (int k = 0; k < 16; k++) if (!hm[k]) ref += hw[k] * benchValue(hk[k], c);
          ref /= wsum;
          if (std::fabs(ref - row[c]) > 1e-4 * (1 + std::fabs(ref))) { std::fprintf(stderr, "FAIL: pooled row differs at %u\n", c); return 1; }
        }
      }
      report("pooled", dim, lf, n, tm.run(reps, pooled, [](int) {}));
      report("pool", dim, lf, n, tm.run(reps, [&](int) { launchPool(qOut, dim, offsets, poolRows, weights, leader, miss, missByPos, kMean, pOut, s); }, [](int) {}));
    }
  }
  if (json) {
    std::fprintf(json, "\n  ]\n}\n");
    std::fclose(json);
  }
  return 0;
}

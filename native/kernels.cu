// The GPU embedding cache kernels. A "tile" of T consecutive lanes of a warp works on one key: the T
// lanes read the bucket's 128 digests as one coalesced 128-byte line (128 / T bytes each), agree on
// the matching slot with shuffles, then copy the row with 16-byte accesses. T = 8 keeps four keys in
// flight per warp, which is what hides the chain of dependent loads (key -> digests -> key -> row).
#include "kernels.h"

namespace hps {
namespace {

constexpr int kBlock = 256;

template <int T>
struct Tile {
  unsigned lane;  // 0 .. T-1
  unsigned mask;  // this tile's lanes in the warp
  __device__ Tile() {
    unsigned warpLane = threadIdx.x & 31;
    lane = warpLane & (T - 1);
    mask = T == 32 ? 0xffffffffu : (((1u << T) - 1) << (warpLane & ~(T - 1)));
  }
  __device__ int maxOf(int v) const {
#pragma unroll
    for (int o = T / 2; o > 0; o >>= 1) v = max(v, __shfl_xor_sync(mask, v, o, T));
    return v;
  }
  __device__ unsigned long long minOf(unsigned long long v) const {
#pragma unroll
    for (int o = T / 2; o > 0; o >>= 1) {
      unsigned long long u = __shfl_xor_sync(mask, v, o, T);
      v = u < v ? u : v;
    }
    return v;
  }
};

// Bytes of digests each lane reads: 128 / T, as W 4-byte words.
template <int W>
__device__ __forceinline__ void loadDigestWords(const uint8_t* p, bool coherent, unsigned (&w)[W]) {
  if constexpr (W == 4) {
    uint4 v = coherent ? __ldcg(reinterpret_cast<const uint4*>(p)) : *reinterpret_cast<const uint4*>(p);
    w[0] = v.x; w[1] = v.y; w[2] = v.z; w[3] = v.w;
  } else if constexpr (W == 2) {
    uint2 v = coherent ? __ldcg(reinterpret_cast<const uint2*>(p)) : *reinterpret_cast<const uint2*>(p);
    w[0] = v.x; w[1] = v.y;
  } else {
    w[0] = coherent ? __ldcg(reinterpret_cast<const unsigned*>(p)) : *reinterpret_cast<const unsigned*>(p);
  }
}

// The slot of `key` in bucket `b`, or -1; every lane of the tile gets the answer. `coherent` reads
// through L2 only (inside an insert, where other SMs may have just written the bucket).
template <int T>
__device__ int findSlot(const Tile<T>& tile, const TableView& t, uint32_t b, uint8_t digest, int64_t key,
                        bool coherent) {
  constexpr int W = 32 / T;
  unsigned w[W];
  const uint8_t* base = t.digests + static_cast<size_t>(b) * kBucketSlots + tile.lane * (4 * W);
  loadDigestWords<W>(base, coherent, w);
  unsigned pattern = 0x01010101u * digest;
  int found = -1;
#pragma unroll
  for (int j = 0; j < W; j++) {
    unsigned m = __vcmpeq4(w[j], pattern);  // 0xff in each matching byte
    while (m) {
      int byte = (__ffs(m) - 1) >> 3;
      m &= ~(0xffu << (byte * 8));
      int slot = tile.lane * (4 * W) + j * 4 + byte;
      size_t at = static_cast<size_t>(b) * kBucketSlots + slot;
      int64_t k = coherent ? __ldcg(reinterpret_cast<const long long*>(t.keys + at)) : t.keys[at];
      if (k == key) found = slot;
    }
  }
  return tile.maxOf(found);
}

template <int T>
__device__ __forceinline__ void copyRow(const Tile<T>& tile, float* dst, const float* src, uint32_t dim) {
  if ((dim & 3) == 0 && (reinterpret_cast<uintptr_t>(dst) & 15) == 0) {
    const float4* s = reinterpret_cast<const float4*>(src);
    float4* d = reinterpret_cast<float4*>(dst);
    for (uint32_t c = tile.lane; c < dim / 4; c += T) d[c] = s[c];
  } else {
    for (uint32_t c = tile.lane; c < dim; c += T) dst[c] = src[c];
  }
}

// Row write into the table: the table row is 16-byte aligned, the source may not be.
template <int T>
__device__ __forceinline__ void storeRow(const Tile<T>& tile, float* dst, const float* src, uint32_t dim) {
  if ((dim & 3) == 0 && (reinterpret_cast<uintptr_t>(src) & 15) == 0) {
    const float4* s = reinterpret_cast<const float4*>(src);
    float4* d = reinterpret_cast<float4*>(dst);
    for (uint32_t c = tile.lane; c < dim / 4; c += T) __stcg(d + c, s[c]);
  } else {
    for (uint32_t c = tile.lane; c < dim; c += T) __stcg(dst + c, src[c]);
  }
}

__device__ __forceinline__ bool skipShard(uint64_t h, ShardFilter f) {
  return f.shards > 1 && shardOf(h, f.shards) != f.mine;
}

template <int T>
__global__ void __launch_bounds__(kBlock, 8) queryKernel(TableView t, const int64_t* __restrict__ keys, uint32_t n, float* out,
                            uint8_t* __restrict__ miss, const int* __restrict__ leader, ShardFilter filter, uint32_t now) {
  Tile<T> tile;
  uint32_t tiles = gridDim.x * (blockDim.x / T);
  for (uint32_t i = (blockIdx.x * blockDim.x + threadIdx.x) / T; i < n; i += tiles) {
    if (leader && leader[i] != static_cast<int>(i)) continue;
    int64_t key = keys[i];
    uint64_t h = mixKey(key);
    if (skipShard(h, filter)) {
      if (tile.lane == 0) miss[i] = 2;
      continue;
    }
    uint32_t b = bucketOf(h, t.buckets);
    int slot = findSlot(tile, t, b, digestOf(h), key, false);
    if (tile.lane == 0) miss[i] = slot < 0;
    if (slot < 0) continue;
    size_t at = static_cast<size_t>(b) * kBucketSlots + slot;
    if (tile.lane == 0) {
      if (t.policy == kLfu) atomicAdd(t.scores + at, 1u);
      else t.scores[at] = now;
    }
    copyRow(tile, out + size_t(i) * t.dim, t.values + at * t.stride, t.dim);
  }
}

__global__ void dedupClaimKernel(const int64_t* __restrict__ keys, uint32_t n, int* first, int* last,
                                 uint32_t slots, int* slotOf) {
  uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  int64_t key = keys[i];
  uint32_t s = static_cast<uint32_t>(mixKey(key)) & (slots - 1);
  for (;;) {
    int cur = atomicCAS(first + s, -1, static_cast<int>(i));
    if (cur == -1 || keys[cur] == key) break;
    s = (s + 1) & (slots - 1);
  }
  atomicMax(last + s, static_cast<int>(i));
  slotOf[i] = static_cast<int>(s);
}

__global__ void dedupResolveKernel(uint32_t n, const int* first, const int* last, int* leader, int* lastOf) {
  uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  int s = leader[i];  // holds the slot after the claim kernel
  leader[i] = first[s];
  lastOf[i] = last[s];
}

template <int T>
__device__ void lockBucket(const Tile<T>& tile, int* lock) {
  if (tile.lane == 0) {
    while (atomicCAS(lock, 0, 1) != 0) __nanosleep(64);
    __threadfence();
  }
  __syncwarp(tile.mask);
}

template <int T>
__device__ void unlockBucket(const Tile<T>& tile, int* lock) {
  __threadfence();
  __syncwarp(tile.mask);
  if (tile.lane == 0) atomicExch(lock, 0);
}

// The slot to take for a new key: the first empty one, else the one with the lowest score (oldest
// access for LRU, fewest accesses for LFU). Returns slot | (evicting ? 0x100 : 0).
template <int T>
__device__ int chooseVictim(const Tile<T>& tile, const TableView& t, uint32_t b) {
  constexpr int S = kBucketSlots / T;
  size_t base = static_cast<size_t>(b) * kBucketSlots + tile.lane * S;
  unsigned long long best = ~0ull;
  for (int j = 0; j < S; j++) {
    uint8_t d = __ldcg(t.digests + base + j);
    unsigned long long score = d == kEmptyDigest ? 0 : (1ull << 32) | __ldcg(t.scores + base + j);
    unsigned long long cand = (score << 8) | (tile.lane * S + j);  // ties: lowest slot
    best = cand < best ? cand : best;
  }
  best = tile.minOf(best);
  int slot = static_cast<int>(best & 0xff);
  bool evict = (best >> 40) != 0;  // the occupied bit, shifted by 8
  return slot | (evict ? 0x100 : 0);
}

template <int T>
__global__ void insertKernel(TableView t, const int64_t* __restrict__ keys, uint32_t n,
                             const float* __restrict__ vectors, const int* __restrict__ lastOf,
                             const uint8_t* __restrict__ found, ShardFilter filter, uint32_t now,
                             unsigned long long* counters) {
  Tile<T> tile;
  uint32_t tiles = gridDim.x * (blockDim.x / T);
  for (uint32_t i = (blockIdx.x * blockDim.x + threadIdx.x) / T; i < n; i += tiles) {
    if (lastOf && lastOf[i] != static_cast<int>(i)) continue;
    if (found && found[i]) continue;
    int64_t key = keys[i];
    uint64_t h = mixKey(key);
    if (skipShard(h, filter)) continue;
    uint32_t b = bucketOf(h, t.buckets);
    uint8_t digest = digestOf(h);
    lockBucket(tile, t.locks + b);
    int slot = findSlot(tile, t, b, digest, key, true);
    bool replaced = slot >= 0;
    bool evicted = false;
    if (!replaced) {
      int v = chooseVictim(tile, t, b);
      slot = v & 0xff;
      evicted = (v & 0x100) != 0;
    }
    size_t at = static_cast<size_t>(b) * kBucketSlots + slot;
    storeRow(tile, t.values + at * t.stride, vectors + static_cast<size_t>(i) * t.dim, t.dim);
    if (tile.lane == 0) {
      uint32_t score = now;
      if (t.policy == kLfu) score = replaced ? __ldcg(t.scores + at) + 1 : 1;
      __stcg(reinterpret_cast<long long*>(t.keys + at), static_cast<long long>(key));
      __stcg(t.scores + at, score);
      t.digests[at] = digest;
      atomicAdd(counters + (replaced ? 1 : 0), 1ull);
      if (evicted) atomicAdd(counters + 2, 1ull);
    }
    unlockBucket(tile, t.locks + b);
  }
}

// Overwrites rows of keys present. As the first phase of an insert (`found` given), it also records
// the access (LRU clock / LFU count + 1) and flags the keys it found, so that the second phase only
// places new keys and can never evict a key of the same batch before that key was replaced.
template <int T>
__global__ void updateKernel(TableView t, const int64_t* __restrict__ keys, uint32_t n,
                             const float* __restrict__ vectors, const int* __restrict__ lastOf, ShardFilter filter,
                             uint32_t now, uint8_t* __restrict__ found, unsigned long long* counter) {
  Tile<T> tile;
  uint32_t tiles = gridDim.x * (blockDim.x / T);
  for (uint32_t i = (blockIdx.x * blockDim.x + threadIdx.x) / T; i < n; i += tiles) {
    if (lastOf && lastOf[i] != static_cast<int>(i)) continue;
    int64_t key = keys[i];
    uint64_t h = mixKey(key);
    if (skipShard(h, filter)) continue;
    uint32_t b = bucketOf(h, t.buckets);
    int slot = findSlot(tile, t, b, digestOf(h), key, false);
    if (found && tile.lane == 0) found[i] = slot >= 0;
    if (slot < 0) continue;
    size_t at = static_cast<size_t>(b) * kBucketSlots + slot;
    storeRow(tile, t.values + at * t.stride, vectors + static_cast<size_t>(i) * t.dim, t.dim);
    if (tile.lane == 0) {
      if (found) t.scores[at] = t.policy == kLfu ? t.scores[at] + 1 : now;
      atomicAdd(counter, 1ull);
    }
  }
}

template <int T>
__global__ void eraseKernel(TableView t, const int64_t* __restrict__ keys, uint32_t n,
                            const int* __restrict__ lastOf, ShardFilter filter, unsigned long long* counters) {
  Tile<T> tile;
  uint32_t tiles = gridDim.x * (blockDim.x / T);
  for (uint32_t i = (blockIdx.x * blockDim.x + threadIdx.x) / T; i < n; i += tiles) {
    if (lastOf && lastOf[i] != static_cast<int>(i)) continue;
    int64_t key = keys[i];
    uint64_t h = mixKey(key);
    if (skipShard(h, filter)) continue;
    uint32_t b = bucketOf(h, t.buckets);
    int slot = findSlot(tile, t, b, digestOf(h), key, false);
    if (slot < 0 || tile.lane != 0) continue;
    size_t at = static_cast<size_t>(b) * kBucketSlots + slot;
    t.digests[at] = kEmptyDigest;
    t.scores[at] = 0;
    atomicAdd(counters, 1ull);
  }
}

__global__ void dumpKernel(TableView t, int64_t* out, unsigned long long* count) {
  size_t slots = static_cast<size_t>(t.buckets) * kBucketSlots;
  for (size_t s = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; s < slots;
       s += static_cast<size_t>(gridDim.x) * blockDim.x) {
    if (t.digests[s] != kEmptyDigest) out[atomicAdd(count, 1ull)] = t.keys[s];
  }
}

// One warp per CSR row; each lane owns columns lane, lane + 32, ...
__global__ void poolKernel(const float* __restrict__ rowsIn, uint32_t dim, const uint32_t* __restrict__ offsets,
                           uint32_t rows, const float* __restrict__ weights, const int* __restrict__ leader,
                           const uint8_t* __restrict__ miss, uint8_t* __restrict__ missByPos, int combiner,
                           float* out) {
  unsigned lane = threadIdx.x & 31;
  uint32_t warps = gridDim.x * (blockDim.x / 32);
  for (uint32_t r = (blockIdx.x * blockDim.x + threadIdx.x) / 32; r < rows; r += warps) {
    uint32_t begin = offsets[r], end = offsets[r + 1];
    float wsum = 0.f, w2sum = 0.f;
    for (uint32_t k = begin + lane; k < end; k += 32) {
      float w = weights ? weights[k] : 1.f;
      wsum += w;
      w2sum += w * w;
      missByPos[k] = miss[leader[k]];
    }
    for (int o = 16; o > 0; o >>= 1) {
      wsum += __shfl_xor_sync(0xffffffffu, wsum, o);
      w2sum += __shfl_xor_sync(0xffffffffu, w2sum, o);
    }
    float scale = 1.f;
    if (combiner == kMean) scale = wsum != 0.f ? 1.f / wsum : 0.f;
    if (combiner == kSqrtn) scale = w2sum != 0.f ? rsqrtf(w2sum) : 0.f;
    for (uint32_t c = lane; c < dim; c += 32) {
      float acc = 0.f;
      for (uint32_t k = begin; k < end; k++) {
        int l = leader[k];
        if (miss[l] != 0) continue;
        acc += (weights ? weights[k] : 1.f) * rowsIn[static_cast<size_t>(l) * dim + c];
      }
      out[static_cast<size_t>(r) * dim + c] = acc * scale;
    }
  }
}

uint32_t gridFor(uint64_t items, int perBlock) {
  uint64_t blocks = (items + perBlock - 1) / perBlock;
  return static_cast<uint32_t>(blocks < 1 ? 1 : (blocks > (1u << 20) ? (1u << 20) : blocks));
}

}  // namespace

void launchQuery(const TableView& t, const int64_t* keys, uint32_t n, float* out, uint8_t* miss,
                  const int* leader, ShardFilter filter, uint32_t now, int tile, cudaStream_t stream) {
  if (n == 0) return;
  if (tile == 32) queryKernel<32><<<gridFor(n, kBlock / 32), kBlock, 0, stream>>>(t, keys, n, out, miss, leader, filter, now);
  else if (tile == 16) queryKernel<16><<<gridFor(n, kBlock / 16), kBlock, 0, stream>>>(t, keys, n, out, miss, leader, filter, now);
  else queryKernel<8><<<gridFor(n, kBlock / 8), kBlock, 0, stream>>>(t, keys, n, out, miss, leader, filter, now);
}

void launchDedup(const int64_t* keys, uint32_t n, int* scratch, uint32_t slots, int* leader, int* lastOf,
                 cudaStream_t stream) {
  if (n == 0) return;
  int* first = scratch;
  int* last = scratch + slots;
  cudaMemsetAsync(first, 0xff, sizeof(int) * slots, stream);
  cudaMemsetAsync(last, 0xff, sizeof(int) * slots, stream);
  dedupClaimKernel<<<gridFor(n, kBlock), kBlock, 0, stream>>>(keys, n, first, last, slots, leader);
  dedupResolveKernel<<<gridFor(n, kBlock), kBlock, 0, stream>>>(n, first, last, leader, lastOf);
}

void launchInsert(const TableView& t, const int64_t* keys, uint32_t n, const float* vectors, const int* lastOf,
                  ShardFilter filter, uint32_t now, uint8_t* found, unsigned long long* counters,
                  cudaStream_t stream) {
  if (n == 0) return;
  if (found) {
    updateKernel<8><<<gridFor(n, kBlock / 8), kBlock, 0, stream>>>(t, keys, n, vectors, lastOf, filter, now, found,
                                                                   counters + 1);
  }
  insertKernel<8><<<gridFor(n, kBlock / 8), kBlock, 0, stream>>>(t, keys, n, vectors, lastOf, found, filter, now,
                                                                 counters);
}

void launchUpdate(const TableView& t, const int64_t* keys, uint32_t n, const float* vectors, const int* lastOf,
                  ShardFilter filter, unsigned long long* counters, cudaStream_t stream) {
  if (n == 0) return;
  updateKernel<8><<<gridFor(n, kBlock / 8), kBlock, 0, stream>>>(t, keys, n, vectors, lastOf, filter, 0, nullptr,
                                                                 counters);
}

void launchErase(const TableView& t, const int64_t* keys, uint32_t n, const int* lastOf, ShardFilter filter,
                 unsigned long long* counters, cudaStream_t stream) {
  if (n == 0) return;
  eraseKernel<8><<<gridFor(n, kBlock / 8), kBlock, 0, stream>>>(t, keys, n, lastOf, filter, counters);
}

void launchDump(const TableView& t, int64_t* out, unsigned long long* count, cudaStream_t stream) {
  uint64_t slots = static_cast<uint64_t>(t.buckets) * kBucketSlots;
  dumpKernel<<<gridFor(slots, kBlock * 8), kBlock, 0, stream>>>(t, out, count);
}

void launchPool(const float* rowsIn, uint32_t dim, const uint32_t* offsets, uint32_t rows, const float* weights,
                const int* leader, const uint8_t* miss, uint8_t* missByPos, int combiner, float* out,
                cudaStream_t stream) {
  if (rows == 0) return;
  poolKernel<<<gridFor(rows, kBlock / 32), kBlock, 0, stream>>>(rowsIn, dim, offsets, rows, weights, leader, miss,
                                                                missByPos, combiner, out);
}

}  // namespace hps

// Host-callable launchers of the cache kernels (native/kernels.cu). Every launcher only enqueues work on
// `stream`; none synchronizes. Pointers are device pointers unless a comment says that host memory
// mapped into the device (pinned, UVA) is allowed.
#pragma once
#include <cstdint>
#include <cuda_runtime.h>
#include "layout.cuh"

namespace hps {

// Query: for key i, a hit copies its row to out row i and sets miss[i] = 0; a miss sets miss[i] = 1
// and leaves the row alone; a key of another shard (sharded tables) sets miss[i] = 2. `out` may be mapped pinned host memory (the rows
// then cross PCIe straight from the kernel). With `leader`, only i == leader[i] are looked up. `tile`
// is the number of threads that work on one key (8, 16 or 32).
void launchQuery(const TableView& t, const int64_t* keys, uint32_t n, float* out, uint8_t* miss,
                  const int* leader, ShardFilter filter, uint32_t now, int tile, cudaStream_t stream);

// Dedup: after it, lastOf[i] is the largest j with keys[j] == keys[i] and leader[i] one such j, the same
// for every occurrence of the key (whichever claimed the key's slot first, not necessarily the smallest).
// `scratch` holds 2 * slots ints (slots a power of two >= 2n), cleared by the launcher.
void launchDedup(const int64_t* keys, uint32_t n, int* scratch, uint32_t slots, int* leader, int* lastOf,
                 cudaStream_t stream);

// Insert or replace (rows from `vectors`, dense n x dim); with lastOf only i == lastOf[i] is applied.
// counters[0..2] += new keys, replaced keys, evicted keys. With `found` (n bytes of scratch), keys
// already present are replaced first and new keys placed after, so a key of the batch is never
// evicted before it was replaced (the order a sequential insert would give); without it, one pass
// (used to fill a table of distinct new keys).
void launchInsert(const TableView& t, const int64_t* keys, uint32_t n, const float* vectors, const int* lastOf,
                  ShardFilter filter, uint32_t now, uint8_t* found, unsigned long long* counters,
                  cudaStream_t stream);

// Overwrite rows of keys already present; counters[0] += rows updated.
void launchUpdate(const TableView& t, const int64_t* keys, uint32_t n, const float* vectors, const int* lastOf,
                  ShardFilter filter, unsigned long long* counters, cudaStream_t stream);

// Remove keys; counters[0] += keys that were present.
void launchErase(const TableView& t, const int64_t* keys, uint32_t n, const int* lastOf, ShardFilter filter,
                 unsigned long long* counters, cudaStream_t stream);

// Every occupied slot's key into out[0 .. *count).
void launchDump(const TableView& t, int64_t* out, unsigned long long* count, cudaStream_t stream);

// Pooled reduction over CSR rows: out row r = scale_r * sum over k in [offsets[r], offsets[r+1]) of
// w_k * row(leader[k]) for hits, where rowsIn holds looked-up rows by position and missByPos[k] is
// miss[leader[k]]; scale is 1 (sum), 1/sum(w) (mean) or 1/sqrt(sum(w^2)) (sqrtn) over every key of
// the row, hits or not. `out` may be mapped pinned host memory.
void launchPool(const float* rowsIn, uint32_t dim, const uint32_t* offsets, uint32_t rows, const float* weights,
                const int* leader, const uint8_t* miss, uint8_t* missByPos, int combiner, float* out,
                cudaStream_t stream);

}  // namespace hps

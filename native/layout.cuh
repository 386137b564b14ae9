// Shared by the kernels, the host engine and the standalone benchmark: the hash that places a key,
// and the device-side layout of one table (one copy on one GPU).
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define HPS_HD __host__ __device__ __forceinline__
#else
#define HPS_HD inline
#endif

namespace hps {

// 128 slots a bucket (HierarchicalKV's layout): the bucket's 128 one-byte digests are one 128-byte line,
// so a probe reads one line of digests and, on a digest match, one key.
constexpr int kBucketSlots = 128;
// Digest 0 marks an empty slot, so no key value has to be reserved as "empty".
constexpr uint8_t kEmptyDigest = 0;

enum Policy : int { kLru = 0, kLfu = 1 };
enum Combiner : int { kSum = 0, kMean = 1, kSqrtn = 2 };

// murmur3's 64-bit finalizer: every key bit reaches every hash bit.
HPS_HD uint64_t mixKey(int64_t key) {
  uint64_t h = static_cast<uint64_t>(key);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

// Bucket from the high 32 bits (multiply-shift range reduction), digest from the low byte, shard
// (which GPU owns the key in sharded mode) from bits 8..31: three independent parts of the hash.
HPS_HD uint32_t bucketOf(uint64_t h, uint32_t buckets) {
  return static_cast<uint32_t>(((h >> 32) * static_cast<uint64_t>(buckets)) >> 32);
}
HPS_HD uint8_t digestOf(uint64_t h) {
  uint8_t d = static_cast<uint8_t>(h & 0xff);
  return d == kEmptyDigest ? 1 : d;
}
HPS_HD uint32_t shardOf(uint64_t h, uint32_t shards) {
  return static_cast<uint32_t>((h >> 8) & 0xffffff) % shards;
}

// One table on one device. Slot s of bucket b is index b * 128 + s in every array; a value row is
// `stride` floats (dim rounded up to 4 so that rows are 16-byte aligned).
struct TableView {
  uint8_t* digests;   // buckets * 128
  int64_t* keys;      // buckets * 128
  uint32_t* scores;   // LRU: batch clock of last access; LFU: access count
  float* values;      // buckets * 128 * stride
  int* locks;         // one per bucket, for inserts
  uint32_t buckets;
  uint32_t dim;
  uint32_t stride;
  int policy;
};

// Shard filter for sharded tables: keys whose shard is not `mine` are skipped (miss flag 2).
struct ShardFilter {
  uint32_t mine;
  uint32_t shards;  // 1: no filter
};

}  // namespace hps

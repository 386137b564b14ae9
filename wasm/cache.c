// L1 embedding cache kernels (WasmEmbeddingCache): a fixed-capacity set-associative cache in one shared
// memory. engine/cache/layout.ts lays the memory out and writes the header; these kernels only read it.
// No static data and no shadow stack: everything lives at offsets passed in.
//
// Layout: one block per set, so that a lookup stays within nearby memory (lines and pages): the
// occupancy mask (bit w for way w), the ways' keys, versions, LFU counts and stamps, padded to whole
// 64-byte lines, then the ways' rows.
//
// Concurrency: one writer at a time (header lock word holding the owner thread's id, taken by every
// writing kernel); any number of lock-free readers. Every slot has a version word (seqlock): the writer makes it odd, writes key, row,
// metadata and the set's occupancy bit, then makes it even; a reader copies and retries when the version
// was odd or changed. Readers also store access metadata (stamp, count): racy by design, it only steers
// eviction.
//
// Eviction (deterministic; docs/l1-cache.md states the rules for other implementations): the set of key k is
// (hi32(fmix64(k)) * num_sets) >> 32. Within the set an empty way is taken first (lowest index); else LRU
// evicts the smallest stamp, LFU the smallest count then the smallest stamp; remaining ties go to the
// lowest way index. The stamp is a 64-bit clock advanced once per API call (l1_tick), not per key.
#include <stdint.h>
#include <emscripten.h>
#include <wasm_simd128.h>

typedef struct {
  uint32_t magic, dim, ways, num_sets;
  uint32_t policy, lock, sets_off, set_bytes;
  uint32_t rows_in_set, dir_off, dir_len, capacity;
  uint32_t writing, reserved[3];
  uint64_t clock, size, hits, misses, insertions, evictions;
} l1_header;

_Static_assert(sizeof(l1_header) == 112, "engine/cache/layout.ts mirrors this header");

#define L1_LFU 1u
#define L1_ABSENT 0xffffffffu
#define L1_MAX_TRIES 100000u
#define RLX __ATOMIC_RELAXED
#define SC __ATOMIC_SEQ_CST

typedef struct {
  uint32_t *occ;
  int64_t *keys;
  uint32_t *ver, *cnt;
  uint64_t *stamp;
} l1_bucket;

static inline l1_bucket l1_bucket_of(const l1_header *h, uint32_t set) {
  const uint32_t at = h->sets_off + set * h->set_bytes, ways = h->ways;
  l1_bucket b = {
    (uint32_t *)(uintptr_t)at,
    (int64_t *)(uintptr_t)(at + 8u),
    (uint32_t *)(uintptr_t)(at + 8u + 8u * ways),
    (uint32_t *)(uintptr_t)(at + 8u + 12u * ways),
    (uint64_t *)(uintptr_t)(at + 8u + 16u * ways),
  };
  return b;
}

static inline float *l1_row(const l1_header *h, uint32_t set, uint32_t way) {
  return (float *)(uintptr_t)(h->sets_off + set * h->set_bytes + h->rows_in_set + way * h->dim * 4u);
}

static inline uint32_t l1_set_of(const l1_header *h, int64_t key) {
  uint64_t k = (uint64_t)key;
  k ^= k >> 33; k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33; k *= 0xc4ceb93fe53d4ce9ULL;
  k ^= k >> 33;
  return (uint32_t)(((k >> 32) * (uint64_t)h->num_sets) >> 32);
}

static inline void l1_copy(float *dst, const float *src, uint32_t dim) {
  uint32_t i = 0;
  for (; i + 4 <= dim; i += 4) wasm_v128_store(dst + i, wasm_v128_load(src + i));
  for (; i < dim; i++) dst[i] = src[i];
}

static inline void l1_lock(l1_header *h, uint32_t owner) {
  for (;;) {
    uint32_t expected = 0;
    if (__atomic_compare_exchange_n(&h->lock, &expected, owner, 0, SC, SC)) return;
  }
}

static inline void l1_unlock(l1_header *h) { __atomic_store_n(&h->lock, 0u, SC); }

// Bit w set where keys[w] == key, for w < ways (two keys per SIMD compare; ways is 1 or even).
static inline uint32_t l1_match(const int64_t *keys, uint32_t ways, int64_t key) {
  if (ways == 1) return keys[0] == key;
  const v128_t k = wasm_i64x2_splat(key);
  uint32_t bits = 0;
  for (uint32_t w = 0; w < ways; w += 2)
    bits |= (uint32_t)wasm_i64x2_bitmask(wasm_i64x2_eq(wasm_v128_load(keys + w), k)) << w;
  return bits;
}

// Way of `key` among the occupied ways of a bucket (writer's view, under the lock), or -1.
static inline int32_t l1_find(const l1_header *h, l1_bucket b, int64_t key) {
  const uint32_t found = l1_match(b.keys, h->ways, key) & *b.occ;
  return found ? (int32_t)__builtin_ctz(found) : -1;
}

static inline uint32_t l1_victim(const l1_header *h, l1_bucket b) {
  const uint32_t ways = h->ways;
  const uint32_t full = ways == 32 ? 0xffffffffu : ((1u << ways) - 1u);
  const uint32_t free_ways = ~*b.occ & full;
  if (free_ways) return (uint32_t)__builtin_ctz(free_ways);
  uint32_t best = 0;
  for (uint32_t w = 1; w < ways; w++) {
    const int better = h->policy == L1_LFU
      ? (b.cnt[w] < b.cnt[best] || (b.cnt[w] == b.cnt[best] && b.stamp[w] < b.stamp[best]))
      : b.stamp[w] < b.stamp[best];
    if (better) best = w;
  }
  return best;
}

// Seqlock edges: the version is odd while the writer is inside the slot. `writing` names the slot
// ((set << 5 | way) + 1) so that l1_recover can drop it if the writer's thread dies inside.
static inline void l1_begin_write(l1_header *h, l1_bucket b, uint32_t set, uint32_t w) {
  __atomic_store_n(&h->writing, ((set << 5) | w) + 1u, SC);
  __atomic_fetch_add(&b.ver[w], 1u, SC);
}
static inline void l1_end_write(l1_header *h, l1_bucket b, uint32_t w) {
  __atomic_fetch_add(&b.ver[w], 1u, SC);
  __atomic_store_n(&h->writing, 0u, SC);
}

/** Advances the clock and stores the new stamp at `stamp_out` (the caller's scratch): one per API call. */
EMSCRIPTEN_KEEPALIVE void l1_tick(l1_header *h, uint64_t *stamp_out) {
  *stamp_out = __atomic_add_fetch(&h->clock, 1ull, SC);
}

// Records an access. Plain stores: a wasm atomic store is a full fence on x86 and would serialize the
// memory misses of successive lookups. A lost LFU increment or a late stamp only nudges eviction.
static inline void l1_touch(const l1_header *h, l1_bucket b, uint32_t w, uint64_t now) {
  if (b.stamp[w] != now) b.stamp[w] = now;
  if (h->policy == L1_LFU && b.cnt[w] != 0xffffffffu) b.cnt[w]++;
}

// One lookup under the seqlock, retried while the slot changes: copies the row of `key` to `dst` and
// records the access. Returns 0 on a miss.
static inline int l1_lookup_one(const l1_header *h, int64_t key, float *dst, uint64_t now) {
  const uint32_t set = l1_set_of(h, key);
  const l1_bucket b = l1_bucket_of(h, set);
  // Bounded: a slot left odd by a writer whose thread died (until l1_recover) reads as a miss, and the
  // lower tiers answer instead of this reader spinning forever.
  for (uint32_t tries = 0; tries < L1_MAX_TRIES; tries++) {
    const uint32_t found = l1_match(b.keys, h->ways, key) & __atomic_load_n(b.occ, SC);
    if (!found) return 0;
    const uint32_t w = (uint32_t)__builtin_ctz(found);
    const uint32_t v1 = __atomic_load_n(&b.ver[w], SC);
    if (v1 & 1u) continue;
    // The slot may have changed between the scan and v1: check again inside the read window.
    if (!((__atomic_load_n(b.occ, SC) >> w) & 1u) || b.keys[w] != key) continue;
    l1_copy(dst, l1_row(h, set, w), h->dim);
    if (__atomic_load_n(&b.ver[w], SC) != v1) continue;
    l1_touch(h, b, w, now);
    return 1;
  }
  return 0;
}

/**
 * Looks up keys[0..n): row i of `out` for each hit (rows of misses may hold partial copies: the caller
 * copies out hit rows only); positions of misses, ascending, into `miss`. Returns the number of misses. Two passes: the first finds every key's way
 * and reads its version into `probe` (n x 8 bytes of scratch), the second checks and copies the rows;
 * each pass's iterations are independent, so the CPU overlaps the memory misses of many keys. A key
 * whose slot changed in between is looked up again on its own.
 */
EMSCRIPTEN_KEEPALIVE uint32_t l1_query(l1_header *h, const int64_t *keys, uint32_t n, float *out, uint32_t *miss,
                                       const uint64_t *stamp, uint32_t *probe) {
  const uint32_t ways = h->ways, dim = h->dim;
  const uint64_t now = *stamp;
  for (uint32_t i = 0; i < n; i++) {
    const uint32_t set = l1_set_of(h, keys[i]);
    const l1_bucket b = l1_bucket_of(h, set);
    const uint32_t found = l1_match(b.keys, ways, keys[i]) & __atomic_load_n(b.occ, SC);
    const uint32_t w = found ? (uint32_t)__builtin_ctz(found) : 0;
    probe[2 * i] = found ? (set << 5) | w : L1_ABSENT;
    probe[2 * i + 1] = __atomic_load_n(&b.ver[w], SC);
  }
  uint32_t misses = 0;
  for (uint32_t i = 0; i < n; i++) {
    const uint32_t at = probe[2 * i], v1 = probe[2 * i + 1];
    int hit = 0;
    if (at != L1_ABSENT) {
      const uint32_t set = at >> 5, w = at & 31u;
      const l1_bucket b = l1_bucket_of(h, set);
      float *dst = out + i * dim;
      if (!(v1 & 1u) && ((__atomic_load_n(b.occ, SC) >> w) & 1u) && b.keys[w] == keys[i]) {
        l1_copy(dst, l1_row(h, set, w), dim);
        hit = __atomic_load_n(&b.ver[w], SC) == v1;
        if (hit) l1_touch(h, b, w, now);
      }
      if (!hit) hit = l1_lookup_one(h, keys[i], dst, now);
    }
    if (!hit) miss[misses++] = i;
  }
  __atomic_fetch_add(&h->hits, (uint64_t)(n - misses), RLX);
  __atomic_fetch_add(&h->misses, (uint64_t)misses, RLX);
  return misses;
}

/**
 * Inserts or replaces keys[0..n) with rows of `vecs`, evicting by the policy. An insert is an access:
 * a new row gets count 1, a replaced one count + 1; both get the call's stamp.
 */
EMSCRIPTEN_KEEPALIVE void l1_insert(l1_header *h, uint32_t owner, const int64_t *keys, uint32_t n,
                                    const float *vecs, const uint64_t *stamp) {
  const uint32_t dim = h->dim;
  const uint64_t now = *stamp;
  uint32_t added = 0, evicted = 0;
  l1_lock(h, owner);
  for (uint32_t i = 0; i < n; i++) {
    const int64_t key = keys[i];
    const uint32_t set = l1_set_of(h, key);
    const l1_bucket b = l1_bucket_of(h, set);
    const int32_t found = l1_find(h, b, key);
    uint32_t w;
    if (found >= 0) {
      w = (uint32_t)found;
      l1_begin_write(h, b, set, w);
      l1_copy(l1_row(h, set, w), vecs + i * dim, dim);
      if (b.cnt[w] != 0xffffffffu) b.cnt[w]++;
    } else {
      w = l1_victim(h, b);
      const uint32_t was_used = (*b.occ >> w) & 1u;
      l1_begin_write(h, b, set, w);
      b.keys[w] = key;
      l1_copy(l1_row(h, set, w), vecs + i * dim, dim);
      b.cnt[w] = 1;
      __atomic_fetch_or(b.occ, 1u << w, SC);
      added += 1 - was_used;
      evicted += was_used;
      __atomic_fetch_add(&h->insertions, 1ull, RLX);
    }
    __atomic_store_n(&b.stamp[w], now, RLX);
    l1_end_write(h, b, w);
  }
  __atomic_fetch_add(&h->size, (uint64_t)added, SC);
  __atomic_fetch_add(&h->evictions, (uint64_t)evicted, RLX);
  l1_unlock(h);
}

/** Overwrites the rows of keys already cached (no access recorded). Returns rows updated. */
EMSCRIPTEN_KEEPALIVE uint32_t l1_update(l1_header *h, uint32_t owner, const int64_t *keys, uint32_t n,
                                        const float *vecs) {
  const uint32_t dim = h->dim;
  uint32_t updated = 0;
  l1_lock(h, owner);
  for (uint32_t i = 0; i < n; i++) {
    const uint32_t set = l1_set_of(h, keys[i]);
    const l1_bucket b = l1_bucket_of(h, set);
    const int32_t w = l1_find(h, b, keys[i]);
    if (w < 0) continue;
    l1_begin_write(h, b, set, (uint32_t)w);
    l1_copy(l1_row(h, set, (uint32_t)w), vecs + i * dim, dim);
    l1_end_write(h, b, (uint32_t)w);
    updated++;
  }
  l1_unlock(h);
  return updated;
}

static inline void l1_remove(l1_header *h, l1_bucket b, uint32_t set, uint32_t w) {
  l1_begin_write(h, b, set, w);
  __atomic_fetch_and(b.occ, ~(1u << w), SC);
  b.cnt[w] = 0;
  b.stamp[w] = 0;
  l1_end_write(h, b, w);
}

/** Removes keys[0..n). Returns the number that were present. */
EMSCRIPTEN_KEEPALIVE uint32_t l1_erase(l1_header *h, uint32_t owner, const int64_t *keys, uint32_t n) {
  uint32_t removed = 0;
  l1_lock(h, owner);
  for (uint32_t i = 0; i < n; i++) {
    const uint32_t set = l1_set_of(h, keys[i]);
    const l1_bucket b = l1_bucket_of(h, set);
    const int32_t w = l1_find(h, b, keys[i]);
    if (w < 0) continue;
    l1_remove(h, b, set, (uint32_t)w);
    removed++;
  }
  __atomic_fetch_sub(&h->size, (uint64_t)removed, SC);
  l1_unlock(h);
  return removed;
}

/** Removes every row. */
EMSCRIPTEN_KEEPALIVE void l1_clear(l1_header *h, uint32_t owner) {
  uint32_t removed = 0;
  l1_lock(h, owner);
  for (uint32_t set = 0; set < h->num_sets; set++) {
    const l1_bucket b = l1_bucket_of(h, set);
    uint32_t occ = *b.occ;
    while (occ) {
      const uint32_t w = (uint32_t)__builtin_ctz(occ);
      occ &= occ - 1u;
      l1_remove(h, b, set, w);
      removed++;
    }
  }
  __atomic_fetch_sub(&h->size, (uint64_t)removed, SC);
  l1_unlock(h);
}

/** Writes the keys cached in sets [first, first + count) to `out` (room for count * ways). Returns how many. */
EMSCRIPTEN_KEEPALIVE uint32_t l1_dump(l1_header *h, uint32_t owner, uint32_t first, uint32_t count,
                                      int64_t *out) {
  uint32_t written = 0;
  l1_lock(h, owner);
  for (uint32_t set = first; set < first + count && set < h->num_sets; set++) {
    const l1_bucket b = l1_bucket_of(h, set);
    for (uint32_t w = 0; w < h->ways; w++)
      if ((*b.occ >> w) & 1u) out[written++] = b.keys[w];
  }
  l1_unlock(h);
  return written;
}

/**
 * For a thread `owner` that ended (terminated, crashed) while holding the writer lock: drops the one slot
 * it was writing (its version was left odd, its row may be half written), recounts the size from the
 * occupancy masks and frees the lock. Returns 1 if `owner` held the lock, else 0 (nothing changes).
 */
EMSCRIPTEN_KEEPALIVE uint32_t l1_recover(l1_header *h, uint32_t owner) {
  if (__atomic_load_n(&h->lock, SC) != owner) return 0;
  const uint32_t writing = __atomic_load_n(&h->writing, SC);
  if (writing) {
    const uint32_t set = (writing - 1u) >> 5, w = (writing - 1u) & 31u;
    const l1_bucket b = l1_bucket_of(h, set);
    if (__atomic_load_n(&b.ver[w], SC) & 1u) {
      __atomic_fetch_and(b.occ, ~(1u << w), SC);
      b.cnt[w] = 0;
      b.stamp[w] = 0;
      __atomic_fetch_add(&b.ver[w], 1u, SC);
    }
    __atomic_store_n(&h->writing, 0u, SC);
  }
  uint64_t size = 0;
  for (uint32_t set = 0; set < h->num_sets; set++) size += (uint64_t)__builtin_popcount(*l1_bucket_of(h, set).occ);
  __atomic_store_n(&h->size, size, SC);
  l1_unlock(h);
  return 1;
}

/** The set `key` maps to (exported so that tests and the CUDA cache can check they agree). */
EMSCRIPTEN_KEEPALIVE uint32_t l1_set_index(l1_header *h, const int64_t *key) { return l1_set_of(h, *key); }

// ---- the small-batch inline path: dedup, one probe per distinct key, one copy per row ----

/**
 * Serves keys[0..n) into `out` (n x dim, request order) in one call: deduplicates them (`inverse[i]`: the
 * distinct index of keys[i]; `first[u]`: where distinct key u first occurs), looks each distinct key up
 * once (two passes, as l1_query, so that the memory misses of many keys overlap), copies each hit row
 * straight to its first position and from there to the positions of its repeats. The distinct indexes that
 * missed go to `miss` (ascending) and their keys to `miss_keys`; their rows are left for l1_place_missed.
 * `table` is (mask + 1) u32 + (mask + 1) i64 of scratch, mask + 1 a power of two >= 2n; `probe` 8 bytes a key.
 * Writes the distinct count to `*distinct`; returns the number of distinct keys that missed. Hits and
 * misses count once per distinct key.
 */
EMSCRIPTEN_KEEPALIVE uint32_t l1_serve(l1_header *h, const int64_t *keys, uint32_t n, float *out, uint32_t *inverse,
                                       uint32_t *first, uint32_t *miss, int64_t *miss_keys, uint32_t *table,
                                       uint32_t mask, const uint64_t *stamp, uint32_t *probe, uint32_t *distinct) {
  const uint32_t ways = h->ways, dim = h->dim;
  const uint64_t now = *stamp;
  int64_t *table_keys = (int64_t *)(table + mask + 1u);
  for (uint32_t i = 0; i <= mask; i++) table[i] = 0;
  uint32_t u_count = 0;
  for (uint32_t i = 0; i < n; i++) {
    const int64_t key = keys[i];
    uint64_t k = (uint64_t)key;
    k ^= k >> 33; k *= 0xff51afd7ed558ccdULL; k ^= k >> 33;
    for (uint32_t at = (uint32_t)k & mask;; at = (at + 1u) & mask) {
      const uint32_t idx = table[at];
      if (!idx) { table[at] = u_count + 1u; table_keys[at] = key; first[u_count] = i; inverse[i] = u_count++; break; }
      if (table_keys[at] == key) { inverse[i] = idx - 1u; break; }
    }
  }
  *distinct = u_count;
  for (uint32_t u = 0; u < u_count; u++) {
    const int64_t key = keys[first[u]];
    const uint32_t set = l1_set_of(h, key);
    const l1_bucket b = l1_bucket_of(h, set);
    const uint32_t found = l1_match(b.keys, ways, key) & __atomic_load_n(b.occ, SC);
    const uint32_t w = found ? (uint32_t)__builtin_ctz(found) : 0;
    probe[2 * u] = found ? (set << 5) | w : L1_ABSENT;
    probe[2 * u + 1] = __atomic_load_n(&b.ver[w], SC);
  }
  uint32_t misses = 0;
  for (uint32_t u = 0; u < u_count; u++) {
    const uint32_t at = probe[2 * u], v1 = probe[2 * u + 1], i = first[u];
    const int64_t key = keys[i];
    float *dst = out + i * dim;
    int hit = 0;
    if (at != L1_ABSENT) {
      const uint32_t set = at >> 5, w = at & 31u;
      const l1_bucket b = l1_bucket_of(h, set);
      if (!(v1 & 1u) && ((__atomic_load_n(b.occ, SC) >> w) & 1u) && b.keys[w] == key) {
        l1_copy(dst, l1_row(h, set, w), dim);
        hit = __atomic_load_n(&b.ver[w], SC) == v1;
        if (hit) l1_touch(h, b, w, now);
      }
      if (!hit) hit = l1_lookup_one(h, key, dst, now);
    }
    if (!hit) { miss_keys[misses] = key; miss[misses++] = u; probe[2 * u] = L1_ABSENT; }
    else probe[2 * u] = 0;
  }
  if (u_count < n)
    for (uint32_t i = 0; i < n; i++) {
      const uint32_t u = inverse[i], f = first[u];
      if (f != i && probe[2 * u] != L1_ABSENT) l1_copy(out + i * dim, out + f * dim, dim);
    }
  __atomic_fetch_add(&h->hits, (uint64_t)(u_count - misses), RLX);
  __atomic_fetch_add(&h->misses, (uint64_t)misses, RLX);
  return misses;
}

/**
 * After l1_serve: row j of `rows` (the lower tiers' answer for distinct key miss[j]) goes to every position
 * of that key in `out`. `slot_of` is one u32 per distinct key of scratch.
 */
EMSCRIPTEN_KEEPALIVE void l1_place_missed(float *out, uint32_t dim, const uint32_t *inverse, uint32_t n,
                                          const uint32_t *miss, uint32_t m, const float *rows, uint32_t *slot_of,
                                          uint32_t distinct) {
  for (uint32_t u = 0; u < distinct; u++) slot_of[u] = 0;
  for (uint32_t j = 0; j < m; j++) slot_of[miss[j]] = j + 1u;
  for (uint32_t i = 0; i < n; i++) {
    const uint32_t j = slot_of[inverse[i]];
    if (j) l1_copy(out + i * dim, rows + (j - 1u) * dim, dim);
  }
}

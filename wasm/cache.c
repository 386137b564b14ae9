// L1 embedding cache kernels (WasmEmbeddingCache): a fixed-capacity set-associative cache in one shared
// memory. engine/cache/layout.ts lays the memory out and writes the header; these kernels only read it.
// No static data and no shadow stack: everything lives at offsets passed in.
//
// Concurrency: one writer at a time (header lock word, taken by every writing kernel); any number of
// lock-free readers. Every slot has a version word (seqlock): the writer makes it odd, writes key, row,
// metadata and the set's occupancy bit, then makes it even; a reader copies and retries when the version
// was odd or changed. Readers also store access metadata (stamp, count): racy by design, it only steers
// eviction.
//
// Eviction (deterministic, mirrored by the CUDA cache): the set of key k is
// (hi32(fmix64(k)) * num_sets) >> 32. Within the set an empty way is taken first (lowest index); else LRU
// evicts the smallest stamp, LFU the smallest count then the smallest stamp; remaining ties go to the
// lowest way index. The stamp is a 64-bit clock advanced once per API call (l1_tick), not per key.
#include <stdint.h>
#include <emscripten.h>
#include <wasm_simd128.h>

typedef struct {
  uint32_t magic, dim, ways, num_sets;
  uint32_t policy, lock, occ_off, ver_off;
  uint32_t cnt_off, stamp_off, key_off, row_off;
  uint32_t dir_off, dir_len, capacity, reserved;
  uint64_t clock, size, hits, misses, insertions, evictions;
} l1_header;

_Static_assert(sizeof(l1_header) == 112, "engine/cache/layout.ts mirrors this header");

#define L1_LFU 1u
#define RLX __ATOMIC_RELAXED
#define SC __ATOMIC_SEQ_CST

static inline uint32_t l1_set_of(const l1_header *h, int64_t key) {
  uint64_t k = (uint64_t)key;
  k ^= k >> 33; k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33; k *= 0xc4ceb93fe53d4ce9ULL;
  k ^= k >> 33;
  return (uint32_t)(((k >> 32) * (uint64_t)h->num_sets) >> 32);
}

#define OCC(h) ((uint32_t *)(uintptr_t)(h)->occ_off)
#define VER(h) ((uint32_t *)(uintptr_t)(h)->ver_off)
#define CNT(h) ((uint32_t *)(uintptr_t)(h)->cnt_off)
#define STAMP(h) ((uint64_t *)(uintptr_t)(h)->stamp_off)
#define KEYS(h) ((int64_t *)(uintptr_t)(h)->key_off)
#define ROW(h, slot) ((float *)(uintptr_t)((h)->row_off + (slot) * (h)->dim * 4u))

// Row copy: 16 bytes at a time (rows are 16-byte aligned only when dim % 4 == 0, which wasm does not need).
static inline void l1_copy(float *dst, const float *src, uint32_t dim) {
  uint32_t i = 0;
  for (; i + 4 <= dim; i += 4) wasm_v128_store(dst + i, wasm_v128_load(src + i));
  for (; i < dim; i++) dst[i] = src[i];
}

static inline void l1_lock(l1_header *h) {
  for (;;) {
    uint32_t expected = 0;
    if (__atomic_compare_exchange_n(&h->lock, &expected, 1u, 0, SC, SC)) return;
  }
}

static inline void l1_unlock(l1_header *h) { __atomic_store_n(&h->lock, 0u, SC); }

// Way of `key` among the occupied ways of `set` (writer's view, under the lock), or -1.
static inline int32_t l1_find(const l1_header *h, uint32_t set, int64_t key) {
  uint32_t occ = OCC(h)[set], ways = h->ways;
  const int64_t *keys = KEYS(h) + set * ways;
  for (uint32_t w = 0; w < ways; w++)
    if (((occ >> w) & 1u) && keys[w] == key) return (int32_t)w;
  return -1;
}

static inline uint32_t l1_victim(const l1_header *h, uint32_t set) {
  uint32_t ways = h->ways;
  uint32_t full = ways == 32 ? 0xffffffffu : ((1u << ways) - 1u);
  uint32_t free_ways = ~OCC(h)[set] & full;
  if (free_ways) return (uint32_t)__builtin_ctz(free_ways);
  const uint64_t *stamps = STAMP(h) + set * ways;
  const uint32_t *counts = CNT(h) + set * ways;
  uint32_t best = 0;
  for (uint32_t w = 1; w < ways; w++) {
    int better = h->policy == L1_LFU
      ? (counts[w] < counts[best] || (counts[w] == counts[best] && stamps[w] < stamps[best]))
      : stamps[w] < stamps[best];
    if (better) best = w;
  }
  return best;
}

static inline void l1_begin_write(l1_header *h, uint32_t slot) { __atomic_fetch_add(&VER(h)[slot], 1u, SC); }
static inline void l1_end_write(l1_header *h, uint32_t slot) { __atomic_fetch_add(&VER(h)[slot], 1u, SC); }

static inline void l1_count_access(l1_header *h, uint32_t slot) {
  uint32_t *c = &CNT(h)[slot];
  if (__atomic_load_n(c, RLX) != 0xffffffffu) __atomic_fetch_add(c, 1u, RLX);
}

/** Advances the clock and stores the new stamp at `stamp_out` (the caller's scratch): one per API call. */
EMSCRIPTEN_KEEPALIVE void l1_tick(l1_header *h, uint64_t *stamp_out) {
  *stamp_out = __atomic_add_fetch(&h->clock, 1ull, SC);
}

/**
 * Looks up keys[0..n): row i of `out` for each hit (rows of misses untouched); positions of misses,
 * ascending, into `miss`. Returns the number of misses.
 */
EMSCRIPTEN_KEEPALIVE uint32_t l1_query(l1_header *h, const int64_t *keys, uint32_t n, float *out, uint32_t *miss,
                                       const uint64_t *stamp) {
  const uint32_t ways = h->ways, dim = h->dim, lfu = h->policy == L1_LFU;
  const uint64_t now = *stamp;
  uint32_t *occs = OCC(h), *vers = VER(h);
  const int64_t *slot_keys = KEYS(h);
  uint32_t misses = 0;
  for (uint32_t i = 0; i < n; i++) {
    const int64_t key = keys[i];
    const uint32_t set = l1_set_of(h, key), base = set * ways;
    int hit = 0;
    for (;;) {
      uint32_t occ = __atomic_load_n(&occs[set], SC), w = 0;
      for (; w < ways; w++)
        if (((occ >> w) & 1u) && slot_keys[base + w] == key) break;
      if (w == ways) break;
      const uint32_t slot = base + w;
      const uint32_t v1 = __atomic_load_n(&vers[slot], SC);
      if (v1 & 1u) continue;
      // The key may have changed between the scan and v1: check again inside the read window.
      if (!((__atomic_load_n(&occs[set], SC) >> w) & 1u) || slot_keys[slot] != key) continue;
      l1_copy(out + (uint32_t)i * dim, ROW(h, slot), dim);
      if (__atomic_load_n(&vers[slot], SC) != v1) continue;
      __atomic_store_n(&STAMP(h)[slot], now, RLX);
      if (lfu) l1_count_access(h, slot);
      hit = 1;
      break;
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
EMSCRIPTEN_KEEPALIVE void l1_insert(l1_header *h, const int64_t *keys, uint32_t n, const float *vecs,
                                    const uint64_t *stamp) {
  const uint32_t ways = h->ways, dim = h->dim;
  const uint64_t now = *stamp;
  uint32_t added = 0, evicted = 0;
  l1_lock(h);
  for (uint32_t i = 0; i < n; i++) {
    const int64_t key = keys[i];
    const uint32_t set = l1_set_of(h, key);
    int32_t found = l1_find(h, set, key);
    uint32_t slot;
    if (found >= 0) {
      slot = set * ways + (uint32_t)found;
      l1_begin_write(h, slot);
      l1_copy(ROW(h, slot), vecs + (uint32_t)i * dim, dim);
      if (CNT(h)[slot] != 0xffffffffu) CNT(h)[slot]++;
    } else {
      const uint32_t w = l1_victim(h, set);
      const uint32_t was_used = (OCC(h)[set] >> w) & 1u;
      slot = set * ways + w;
      l1_begin_write(h, slot);
      KEYS(h)[slot] = key;
      l1_copy(ROW(h, slot), vecs + (uint32_t)i * dim, dim);
      CNT(h)[slot] = 1;
      __atomic_fetch_or(&OCC(h)[set], 1u << w, SC);
      added += 1 - was_used;
      evicted += was_used;
      __atomic_fetch_add(&h->insertions, 1ull, RLX);
    }
    __atomic_store_n(&STAMP(h)[slot], now, RLX);
    l1_end_write(h, slot);
  }
  __atomic_fetch_add(&h->size, (uint64_t)added, SC);
  __atomic_fetch_add(&h->evictions, (uint64_t)evicted, RLX);
  l1_unlock(h);
}

/** Overwrites the rows of keys already cached (no access recorded). Returns rows updated. */
EMSCRIPTEN_KEEPALIVE uint32_t l1_update(l1_header *h, const int64_t *keys, uint32_t n, const float *vecs) {
  const uint32_t ways = h->ways, dim = h->dim;
  uint32_t updated = 0;
  l1_lock(h);
  for (uint32_t i = 0; i < n; i++) {
    const uint32_t set = l1_set_of(h, keys[i]);
    const int32_t w = l1_find(h, set, keys[i]);
    if (w < 0) continue;
    const uint32_t slot = set * ways + (uint32_t)w;
    l1_begin_write(h, slot);
    l1_copy(ROW(h, slot), vecs + (uint32_t)i * dim, dim);
    l1_end_write(h, slot);
    updated++;
  }
  l1_unlock(h);
  return updated;
}

static inline void l1_remove(l1_header *h, uint32_t set, uint32_t w) {
  const uint32_t slot = set * h->ways + w;
  l1_begin_write(h, slot);
  __atomic_fetch_and(&OCC(h)[set], ~(1u << w), SC);
  CNT(h)[slot] = 0;
  STAMP(h)[slot] = 0;
  l1_end_write(h, slot);
}

/** Removes keys[0..n). Returns the number that were present. */
EMSCRIPTEN_KEEPALIVE uint32_t l1_erase(l1_header *h, const int64_t *keys, uint32_t n) {
  uint32_t removed = 0;
  l1_lock(h);
  for (uint32_t i = 0; i < n; i++) {
    const uint32_t set = l1_set_of(h, keys[i]);
    const int32_t w = l1_find(h, set, keys[i]);
    if (w < 0) continue;
    l1_remove(h, set, (uint32_t)w);
    removed++;
  }
  __atomic_fetch_sub(&h->size, (uint64_t)removed, SC);
  l1_unlock(h);
  return removed;
}

/** Removes every row. */
EMSCRIPTEN_KEEPALIVE void l1_clear(l1_header *h) {
  uint32_t removed = 0;
  l1_lock(h);
  for (uint32_t set = 0; set < h->num_sets; set++) {
    uint32_t occ = OCC(h)[set];
    while (occ) {
      const uint32_t w = (uint32_t)__builtin_ctz(occ);
      occ &= occ - 1u;
      l1_remove(h, set, w);
      removed++;
    }
  }
  __atomic_fetch_sub(&h->size, (uint64_t)removed, SC);
  l1_unlock(h);
}

/** Writes the keys cached in sets [first, first + count) to `out` (room for count * ways). Returns how many. */
EMSCRIPTEN_KEEPALIVE uint32_t l1_dump(l1_header *h, uint32_t first, uint32_t count, int64_t *out) {
  const uint32_t ways = h->ways;
  uint32_t written = 0;
  l1_lock(h);
  for (uint32_t set = first; set < first + count && set < h->num_sets; set++) {
    const uint32_t occ = OCC(h)[set];
    for (uint32_t w = 0; w < ways; w++)
      if ((occ >> w) & 1u) out[written++] = KEYS(h)[set * ways + w];
  }
  l1_unlock(h);
  return written;
}

/** The set `key` maps to (exported so that tests and the CUDA cache can check they agree). */
EMSCRIPTEN_KEEPALIVE uint32_t l1_set_index(l1_header *h, const int64_t *key) { return l1_set_of(h, *key); }

// Host tier (L2) kernels: one HostArena partition living in one shared memory (docs/host-tier.md has the
// layout). No static data and no shadow stack: everything lives at offsets passed in, at or above 64 KiB.
//
// A partition is an open-addressing index of u32 slots over a slab of row records:
//   slot   = ((row + 1) << tag_bits) | tag    (0 empty, 1 tombstone; tag = low hash bits: most probes
//                                              that do not match never touch the record)
//   record = { u32 version, [u32 meta], i64 key, f32 row[dim] }   (meta only for evict_least_used/oldest;
//            evict_random from dim 64 up has a pad word there instead, so that rows start 16-byte aligned)
// Rows live in chunks of 2^chunk_shift records, allocated as the slab grows; a chunk table maps row -> chunk.
//
// Concurrency: one writer per partition (the `lock` word, taken by the JS side with Atomics) and any number
// of lock-free readers. Record versions are a seqlock: the writer makes the version odd, writes, then makes
// it even (bit 31 marks a free record); a reader copies and retries if it was odd or changed. Erase leaves a
// tombstone, so entries never move under a reader. The index grows (or sheds tombstones) by building a new
// one beside the old and publishing its offset with one atomic store; the old one is retired and its memory
// reused only once every reader that might still hold it has left (epoch slots, one per reader thread).
#include <stdint.h>
#include <emscripten.h>
#include <wasm_simd128.h>

#define HM_MAGIC 0x484d3032u
#define SC __ATOMIC_SEQ_CST
#define BUSY 1u
#define FREE 0x80000000u
#define TOMB 1u
#define MAX_READERS 128
#define MAX_REGIONS 64
#define HIST 2048
#define POLICY_RANDOM 0u
#define POLICY_LEAST_USED 1u
#define POLICY_OLDEST 2u
#define ALIGN 64u
#define PAGE 65536u

// One cache line per reader thread: its epoch and counters are written on every lookup.
typedef struct { uint32_t claimed, epoch, scratch, scratch_bytes; uint64_t hits, misses; uint32_t pad[8]; } hm_reader;
typedef struct { uint32_t off, bytes, epoch, pad; } hm_region;

typedef struct {
  uint32_t lock, magic, dim, stride;            // 0
  uint32_t policy, meta_off, key_off, data_off; // 16
  uint32_t tag_bits, chunk_shift, max_chunks, chunk_table; // 32
  uint32_t num_chunks, rows_used, free_head, free_rows;    // 48
  uint32_t size, index, index_used, top;        // 64
  uint32_t epoch, clock, rng, margin;           // 80
  uint32_t target, max_load_q16, min_cap, num_free;        // 96
  uint32_t num_retired, pad0, pad1, pad2;       // 112
  uint64_t insertions, replacements, evictions, erasures; // 128
  uint32_t pad3[8];
  hm_reader readers[MAX_READERS];               // 192
  hm_region free_list[MAX_REGIONS];
  hm_region retired[MAX_REGIONS];
  uint32_t hist[HIST];
} hm_header;

_Static_assert(sizeof(hm_reader) == 64, "one cache line per reader");
_Static_assert(sizeof(hm_header) == 192 + MAX_READERS * 64 + 2 * MAX_REGIONS * 16 + HIST * 4, "layout");

typedef struct { uint32_t cap, pad[15]; } hm_index;   // followed by u32 slots[cap]

#define SLOTS(ix) ((uint32_t *)((uintptr_t)(ix) + sizeof(hm_index)))
#define CHUNKS(h) ((uint32_t *)(uintptr_t)(h)->chunk_table)

static inline uint64_t hm_mix(int64_t key) {
  uint64_t k = (uint64_t)key;
  k ^= k >> 33; k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33; k *= 0xc4ceb93fe53d4ce9ULL;
  k ^= k >> 33;
  return k;
}

static inline uint32_t hm_reduce(uint32_t x, uint32_t n) { return (uint32_t)(((uint64_t)x * n) >> 32); }

static inline uint8_t *hm_rec(const hm_header *h, uint32_t row) {
  return (uint8_t *)(uintptr_t)(CHUNKS(h)[row >> h->chunk_shift] + (row & ((1u << h->chunk_shift) - 1u)) * h->stride);
}
static inline uint32_t *hm_ver(uint8_t *rec) { return (uint32_t *)rec; }
static inline int64_t hm_key(const hm_header *h, const uint8_t *rec) { return *(const int64_t *)(rec + h->key_off); }

static inline void hm_copy(uint8_t *dst, const uint8_t *src, uint32_t bytes) {
  uint32_t i = 0;
  for (; i + 16 <= bytes; i += 16) wasm_v128_store(dst + i, wasm_v128_load(src + i));
  for (; i < bytes; i += 4) *(uint32_t *)(dst + i) = *(const uint32_t *)(src + i);
}

static inline void hm_zero(uint8_t *dst, uint32_t bytes) {
  uint32_t i = 0;
  for (; i + 16 <= bytes; i += 16) wasm_v128_store(dst + i, wasm_i32x4_splat(0));
  for (; i < bytes; i += 4) *(uint32_t *)(dst + i) = 0;
}

// ---- memory: bump allocation at the top, a free list of regions, retired regions waiting for readers ----

static uint32_t hm_min_reader_epoch(hm_header *h) {
  uint32_t min = 0xffffffffu;
  for (uint32_t i = 0; i < MAX_READERS; i++) {
    uint32_t e = __atomic_load_n(&h->readers[i].epoch, SC);
    if (e && e < min) min = e;
  }
  return min;
}

static void hm_add_free(hm_header *h, uint32_t off, uint32_t bytes) {
  // Coalesce with a neighbour when one touches it; else append (a full list drops the region: a leak, not a bug).
  for (uint32_t i = 0; i < h->num_free; i++) {
    hm_region *r = &h->free_list[i];
    if (r->off + r->bytes == off) { r->bytes += bytes; return; }
    if (off + bytes == r->off) { r->off = off; r->bytes += bytes; return; }
  }
  if (off + bytes == h->top) { h->top = off; return; }
  if (h->num_free < MAX_REGIONS) {
    h->free_list[h->num_free].off = off;
    h->free_list[h->num_free].bytes = bytes;
    h->num_free++;
  }
}

static void hm_reclaim(hm_header *h) {
  if (!h->num_retired) return;
  uint32_t min = hm_min_reader_epoch(h), keep = 0;
  for (uint32_t i = 0; i < h->num_retired; i++) {
    hm_region r = h->retired[i];
    if (r.epoch <= min) hm_add_free(h, r.off, r.bytes);
    else h->retired[keep++] = r;
  }
  h->num_retired = keep;
}

// Returns the offset of `bytes` bytes (64-aligned), growing the memory if needed; 0 when it cannot.
static uint32_t hm_alloc(hm_header *h, uint32_t bytes) {
  bytes = (bytes + ALIGN - 1) & ~(ALIGN - 1);
  hm_reclaim(h);
  uint32_t best = MAX_REGIONS;
  for (uint32_t i = 0; i < h->num_free; i++)
    if (h->free_list[i].bytes >= bytes && (best == MAX_REGIONS || h->free_list[i].bytes < h->free_list[best].bytes)) best = i;
  if (best != MAX_REGIONS) {
    hm_region *r = &h->free_list[best];
    uint32_t off = r->off;
    r->off += bytes; r->bytes -= bytes;
    if (!r->bytes) h->free_list[best] = h->free_list[--h->num_free];
    return off;
  }
  uint64_t end = (uint64_t)h->top + bytes;
  if (end > 0xffff0000ull) return 0;
  uint64_t have = (uint64_t)__builtin_wasm_memory_size(0) * PAGE;
  if (end > have) {
    uint32_t pages = (uint32_t)((end - have + PAGE - 1) / PAGE);
    if (__builtin_wasm_memory_grow(0, pages) == (uintptr_t)-1) return 0;
  }
  uint32_t off = h->top;
  h->top = (uint32_t)end;
  return off;
}

// ---- index ----

static inline uint32_t hm_tag(const hm_header *h, uint64_t hash) { return (uint32_t)(hash >> 32) & ((1u << h->tag_bits) - 1u); }
static inline uint32_t hm_start(const hm_index *ix, uint64_t hash) { return hm_reduce((uint32_t)hash, ix->cap); }

// Slot position holding `key` in `ix` (writer's view), or -1.
static int32_t hm_find(const hm_header *h, const hm_index *ix, int64_t key, uint64_t hash) {
  const uint32_t cap = ix->cap, tb = h->tag_bits, tag = hm_tag(h, hash), mask = (1u << tb) - 1u;
  const uint32_t *slots = SLOTS(ix);
  for (uint32_t pos = hm_start(ix, hash);; pos = pos + 1 == cap ? 0 : pos + 1) {
    uint32_t s = slots[pos];
    if (!s) return -1;
    if ((s & mask) == tag && (s >> tb) && hm_key(h, hm_rec(h, (s >> tb) - 1)) == key) return (int32_t)pos;
  }
}

// Puts a slot for a key known to be absent: the first tombstone or empty slot of its probe sequence.
static void hm_place(hm_header *h, hm_index *ix, uint64_t hash, uint32_t row, uint32_t count_used) {
  const uint32_t cap = ix->cap;
  uint32_t *slots = SLOTS(ix);
  uint32_t pos = hm_start(ix, hash);
  while (slots[pos] > TOMB) pos = pos + 1 == cap ? 0 : pos + 1;
  if (!slots[pos] && count_used) h->index_used++;
  __atomic_store_n(&slots[pos], ((row + 1) << h->tag_bits) | hm_tag(h, hash), SC);
}

static uint32_t hm_index_bytes(uint32_t cap) { return (uint32_t)sizeof(hm_index) + cap * 4u; }

static inline hm_index *hm_current(hm_header *h) { return (hm_index *)(uintptr_t)__atomic_load_n(&h->index, SC); }

// Builds an index of `cap` slots over the live records beside the current one and publishes it.
static int hm_rebuild(hm_header *h, uint32_t cap) {
  uint32_t off = hm_alloc(h, hm_index_bytes(cap));
  if (!off) return 1;
  hm_index *ix = (hm_index *)(uintptr_t)off;
  hm_zero((uint8_t *)ix, hm_index_bytes(cap));
  ix->cap = cap;
  h->index_used = 0;
  for (uint32_t r = 0; r < h->rows_used; r++) {
    uint8_t *rec = hm_rec(h, r);
    if (!(*hm_ver(rec) & FREE)) hm_place(h, ix, hm_mix(hm_key(h, rec)), r, 1);
  }
  hm_index *old = hm_current(h);
  __atomic_store_n(&h->index, off, SC);
  uint32_t e = __atomic_add_fetch(&h->epoch, 1u, SC);
  if (old) {
    // Readers that entered with an epoch below `e` may still probe the old index.
    if (h->num_retired < MAX_REGIONS) {
      h->retired[h->num_retired].off = (uint32_t)(uintptr_t)old;
      h->retired[h->num_retired].bytes = (hm_index_bytes(old->cap) + ALIGN - 1) & ~(ALIGN - 1);
      h->retired[h->num_retired].epoch = e;
      h->num_retired++;
    }
  }
  return 0;
}

static uint32_t hm_cap_for(const hm_header *h, uint64_t keys) {
  uint64_t cap = (keys * 65536ull + h->max_load_q16 - 1) / h->max_load_q16;
  if (cap < h->min_cap) cap = h->min_cap;
  cap = (cap + 15) & ~15ull;
  return cap > 0x3fff0000ull ? 0x3fff0000u : (uint32_t)cap;
}

// ---- records ----

static inline void hm_begin(uint8_t *rec) {
  uint32_t v = *hm_ver(rec);
  __atomic_store_n(hm_ver(rec), v | BUSY, SC);
  // The row's stores must not become visible before the odd version (a release store alone allows it).
  __atomic_thread_fence(SC);
}
static inline void hm_end(uint8_t *rec, uint32_t free) {
  uint32_t v = *hm_ver(rec);
  __atomic_store_n(hm_ver(rec), (((v & ~FREE) + 2u) & ~(FREE | BUSY)) | (free ? FREE : 0u), SC);
}

static void hm_free_row(hm_header *h, uint32_t row) {
  uint8_t *rec = hm_rec(h, row);
  hm_begin(rec);
  *(uint32_t *)(rec + h->data_off) = h->free_head;   // free list link in the row data
  hm_end(rec, 1);
  h->free_head = row + 1;
  h->free_rows++;
  h->size--;
}

// Removes the live record `row` (its key's slot becomes a tombstone).
static void hm_remove(hm_header *h, uint32_t row) {
  hm_index *ix = hm_current(h);
  int64_t key = hm_key(h, hm_rec(h, row));
  int32_t pos = hm_find(h, ix, key, hm_mix(key));
  if (pos >= 0) __atomic_store_n(&SLOTS(ix)[pos], TOMB, SC);
  hm_free_row(h, row);
}

static int hm_add_chunk(hm_header *h) {
  if (h->num_chunks >= h->max_chunks) return 1;
  uint32_t off = hm_alloc(h, h->stride << h->chunk_shift);
  if (!off) return 1;
  CHUNKS(h)[h->num_chunks++] = off;
  return 0;
}

static uint32_t hm_take_row(hm_header *h) {
  if (h->free_head) {
    uint32_t row = h->free_head - 1;
    h->free_head = *(uint32_t *)(hm_rec(h, row) + h->data_off);
    h->free_rows--;
    return row;
  }
  return h->rows_used++;
}

// ---- exports ----

/**
 * Lays out a partition header at `h` in a fresh (zeroed) memory. `chunk_bytes`: the slab growth step;
 * `initial_keys`: index capacity to start with; max_load_q16: index load factor limit * 65536.
 * Returns 0, or 1 when the memory cannot hold the initial structures.
 */
EMSCRIPTEN_KEEPALIVE uint32_t hm_init(hm_header *h, uint32_t dim, uint32_t policy, uint32_t chunk_bytes,
                                      uint32_t margin, uint32_t target, uint32_t initial_keys,
                                      uint32_t max_load_q16, uint32_t seed) {
  h->magic = HM_MAGIC;
  h->dim = dim;
  h->policy = policy;
  h->meta_off = policy == POLICY_RANDOM ? 0u : 4u;
  // evict_random keeps no meta word, so its rows would start at byte 12; from dim 64 up (4 bytes are
  // under 1.6% of a record) a pad word puts them on 16 bytes, where the row copies' 16-byte loads are aligned.
  h->key_off = policy == POLICY_RANDOM && dim < 64 ? 4u : 8u;
  h->data_off = h->key_off + 8u;
  h->stride = h->data_off + dim * 4u;
  uint32_t shift = 0;
  while ((uint64_t)h->stride << (shift + 1) <= chunk_bytes) shift++;
  h->chunk_shift = shift;
  uint64_t chunk = (uint64_t)h->stride << shift;
  h->max_chunks = (uint32_t)(0x100000000ull / chunk) + 1u;
  uint64_t max_rows = (uint64_t)h->max_chunks << shift;
  uint32_t row_bits = 0;
  while ((1ull << row_bits) <= max_rows + 1) row_bits++;
  h->tag_bits = row_bits >= 31 ? 1u : 32u - row_bits;
  h->margin = margin;
  h->target = target;
  h->max_load_q16 = max_load_q16;
  h->min_cap = 64;
  h->rng = seed | 1u;
  h->epoch = 1;
  h->top = (uint32_t)(uintptr_t)h + (uint32_t)sizeof(hm_header);
  h->top = (h->top + ALIGN - 1) & ~(ALIGN - 1);
  uint32_t table = hm_alloc(h, h->max_chunks * 4u);
  if (!table) return 1;
  h->chunk_table = table;
  return (uint32_t)hm_rebuild(h, hm_cap_for(h, initial_keys));
}

/** Claims a reader slot for thread `owner` (its threadId + 1); returns its number, or -1 when all are taken. */
EMSCRIPTEN_KEEPALIVE int32_t hm_claim(hm_header *h, uint32_t owner) {
  if (!owner) return -1;   // 0 marks a free slot
  for (uint32_t i = 0; i < MAX_READERS; i++) {
    uint32_t expected = 0;
    if (__atomic_compare_exchange_n(&h->readers[i].claimed, &expected, owner, 0, SC, SC)) return (int32_t)i;
  }
  return -1;
}

EMSCRIPTEN_KEEPALIVE void hm_release(hm_header *h, uint32_t slot) {
  __atomic_store_n(&h->readers[slot].epoch, 0u, SC);
  __atomic_store_n(&h->readers[slot].claimed, 0u, SC);
}

/** Releases every slot of thread `owner` (one that ended without closing its views); returns how many. */
EMSCRIPTEN_KEEPALIVE uint32_t hm_release_owner(hm_header *h, uint32_t owner) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < MAX_READERS; i++)
    if (__atomic_load_n(&h->readers[i].claimed, SC) == owner) { hm_release(h, i); n++; }
  return n;
}

/** Scratch area of reader `slot` of at least `bytes` (writer lock held); 0 when memory is exhausted. */
EMSCRIPTEN_KEEPALIVE uint32_t hm_scratch(hm_header *h, uint32_t slot, uint32_t bytes) {
  hm_reader *r = &h->readers[slot];
  if (r->scratch_bytes >= bytes) return r->scratch;
  uint32_t off = hm_alloc(h, bytes);
  if (!off) return 0;
  if (r->scratch) hm_add_free(h, r->scratch, r->scratch_bytes);
  r->scratch = off;
  r->scratch_bytes = (bytes + ALIGN - 1) & ~(ALIGN - 1);
  return off;
}

// The record of `row` from header fields the caller keeps in locals (the kernels' atomics make the
// compiler reload fields it reads through `h`).
static inline uint8_t *hm_rec_at(const uint32_t *chunks, uint32_t shift, uint32_t stride, uint32_t row) {
  return (uint8_t *)(uintptr_t)(chunks[row >> shift] + (row & ((1u << shift) - 1u)) * stride);
}

// First passes of a lookup over keys[b0..b1): hash every key and load its home slot, then walk each probe
// sequence (now in cache) to the first slot whose tag matches and load every cache line of that record;
// pos[i] gets that slot's position, or HM_ABSENT when an empty slot came first, tag[i] the key's tag. The
// loads of a pass do not wait for each other, so many cache misses are in flight at once (wasm has no
// prefetch instruction); the probe in hm_gather then starts at pos[i] and finds its lines in cache.
#define HM_ABSENT 0xffffffffu
static void hm_prefetch(const hm_header *h, const hm_index *ix, const int64_t *keys, uint32_t b0, uint32_t b1,
                        uint32_t *pos, uint32_t *tag) {
  const volatile uint32_t *slots = SLOTS(ix);
  const uint32_t tb = h->tag_bits, mask = (1u << tb) - 1u, stride = h->stride, cap = ix->cap, shift = h->chunk_shift;
  const uint32_t *chunks = CHUNKS(h);
  for (uint32_t i = b0; i < b1; i++) {
    const uint64_t hash = hm_mix(keys[i]);
    const uint32_t p = hm_start(ix, hash);
    pos[i] = p;
    tag[i] = hm_tag(h, hash);
    (void)slots[p];
  }
  for (uint32_t i = b0; i < b1; i++) {
    const uint32_t t = tag[i];
    uint32_t p = pos[i], s;
    while ((s = slots[p]) != 0 && ((s & mask) != t || !(s >> tb))) p = p + 1 == cap ? 0 : p + 1;
    if (!s) { pos[i] = HM_ABSENT; continue; }
    pos[i] = p;
    const uint8_t *rec = hm_rec_at(chunks, shift, stride, (s >> tb) - 1);
    for (uint32_t off = 0; off < stride; off += 64) (void)*(volatile const uint8_t *)(rec + off);
    (void)*(volatile const uint8_t *)(rec + stride - 1);
  }
}

#define HM_BLOCK 16u

/**
 * Reader: looks up keys[0..n) (lock-free). Row i of `out` (row order[i] when `order` is not 0: a router
 * gathers straight into request order) gets the row of keys[i], or zeros when absent; `miss` gets
 * miss_base + i of each absent key, ascending. Returns the number of misses. `tmp`: 2n u32 of
 * scratch. `fence`: order the row copy before the version check with a full fence, for CPUs that may
 * reorder loads (not needed on x86-64, where loads are not reordered with older loads).
 */
EMSCRIPTEN_KEEPALIVE uint32_t hm_gather(hm_header *h, uint32_t slot, const int64_t *keys, uint32_t n, float *out,
                                        const uint32_t *order, uint32_t *miss, uint32_t miss_base, uint32_t *tmp,
                                        uint32_t fence) {
  hm_reader *me = &h->readers[slot];
  __atomic_store_n(&me->epoch, __atomic_load_n(&h->epoch, SC), SC);
  const hm_index *ix = hm_current(h);
  const uint32_t cap = ix->cap, tb = h->tag_bits, mask = (1u << tb) - 1u, row_bytes = h->dim * 4u;
  const uint32_t key_off = h->key_off, data_off = h->data_off, lfu = h->policy == POLICY_LEAST_USED;
  const uint32_t shift = h->chunk_shift, stride = h->stride;
  const uint32_t *chunks = CHUNKS(h);
  const uint32_t *slots = SLOTS(ix);
  uint32_t *tags = tmp + n;
  uint32_t misses = 0;
  for (uint32_t i = 0; i < n; i++) {
    if (i % HM_BLOCK == 0) hm_prefetch(h, ix, keys, i, i + HM_BLOCK < n ? i + HM_BLOCK : n, tmp, tags);
    const int64_t key = keys[i];
    const uint32_t tag = tags[i];
    uint8_t *dst = (uint8_t *)(out) + (order ? order[i] : i) * row_bytes;
    uint32_t pos = tmp[i], hit = 0;
    if (pos != HM_ABSENT) for (;; pos = pos + 1 == cap ? 0 : pos + 1) {
      const uint32_t s = ((volatile const uint32_t *)slots)[pos];
      if (!s) break;
      if ((s & mask) != tag || !(s >> tb)) continue;
      uint8_t *rec = hm_rec_at(chunks, shift, stride, (s >> tb) - 1);
      uint32_t match;
      for (;;) {
        const uint32_t v1 = __atomic_load_n(hm_ver(rec), SC);
        if (v1 & BUSY) continue;
        if (v1 & FREE) { match = 0; break; }
        match = *(volatile const int64_t *)(rec + key_off) == key;
        if (match) hm_copy(dst, rec + data_off, row_bytes);
        if (fence) __atomic_thread_fence(SC);
        else __atomic_signal_fence(SC);   // compiler barrier: the copy stays before the check
        if (__atomic_load_n(hm_ver(rec), SC) == v1) break;
      }
      if (match) {
        if (lfu) { volatile uint32_t *c = (volatile uint32_t *)(rec + 4); uint32_t x = *c; if (x != 0xffffffffu) *c = x + 1; }
        hit = 1;
        break;
      }
    }
    if (!hit) { hm_zero(dst, row_bytes); miss[misses++] = miss_base + i; }
  }
  __atomic_store_n(&me->epoch, 0u, SC);
  // Only this slot's thread writes its counters (plain 8-byte stores); hm_stat sums every slot's.
  *(volatile uint64_t *)&me->hits += n - misses;
  *(volatile uint64_t *)&me->misses += misses;
  return misses;
}

/** Writer: how many of keys[0..n) are absent (repeats counted each time): rows an insert may need. */
EMSCRIPTEN_KEEPALIVE uint32_t hm_count_absent(hm_header *h, const int64_t *keys, uint32_t n) {
  const hm_index *ix = hm_current(h);
  uint32_t absent = 0;
  for (uint32_t i = 0; i < n; i++) absent += hm_find(h, ix, keys[i], hm_mix(keys[i])) < 0;
  return absent;
}

/**
 * Writer: makes room for `extra` new keys (rows and index slots) so that a following insert cannot fail.
 * Returns 0, or 1 when the memory cannot grow that far (nothing changed but possibly grown memory). With
 * `dry_run`, changes nothing and returns 2 when room would have to be made.
 */
EMSCRIPTEN_KEEPALIVE uint32_t hm_reserve(hm_header *h, uint32_t extra, uint32_t dry_run) {
  uint64_t rows_free = (uint64_t)h->free_rows + ((uint64_t)h->num_chunks << h->chunk_shift) - h->rows_used;
  uint64_t need_rows = (uint64_t)h->size + extra;
  if (need_rows > 0xffffffffull) return 1;
  if (dry_run && rows_free < extra) return 2;
  while (rows_free < extra) {
    if (hm_add_chunk(h)) return 1;
    rows_free += 1ull << h->chunk_shift;
  }
  const hm_index *ix = hm_current(h);
  uint64_t limit = ((uint64_t)ix->cap * h->max_load_q16) >> 16;
  if ((uint64_t)h->index_used + extra > limit) {
    if (dry_run) return 2;
    // Grow so that the load right after is 3/4 of the limit (or shed tombstones at the same size).
    uint32_t cap = hm_cap_for(h, (need_rows * 4 + 2) / 3);
    if (hm_rebuild(h, cap)) return 1;
  }
  return 0;
}

/**
 * Writer: inserts or replaces keys[i] -> rows[i] (n x dim floats) after hm_reserve(n or more). Later
 * repeats of a key win. Returns the number of new keys.
 */
EMSCRIPTEN_KEEPALIVE uint32_t hm_insert(hm_header *h, const int64_t *keys, const float *rows, uint32_t n) {
  hm_index *ix = hm_current(h);
  const uint32_t row_bytes = h->dim * 4u, stamp = ++h->clock;
  uint32_t added = 0;
  for (uint32_t i = 0; i < n; i++) {
    const int64_t key = keys[i];
    const uint64_t hash = hm_mix(key);
    const int32_t pos = hm_find(h, ix, key, hash);
    uint32_t row;
    uint8_t *rec;
    if (pos >= 0) {
      row = (SLOTS(ix)[pos] >> h->tag_bits) - 1;
      rec = hm_rec(h, row);
      hm_begin(rec);
    } else {
      row = hm_take_row(h);
      rec = hm_rec(h, row);
      hm_begin(rec);
      *(int64_t *)(rec + h->key_off) = key;
      if (h->policy == POLICY_LEAST_USED) *(uint32_t *)(rec + 4) = 0;
    }
    if (h->policy == POLICY_OLDEST) *(uint32_t *)(rec + 4) = stamp;
    hm_copy(rec + h->data_off, (const uint8_t *)rows + i * row_bytes, row_bytes);
    hm_end(rec, 0);
    if (pos < 0) { hm_place(h, ix, hash, row, 1); h->size++; added++; }
  }
  h->insertions += added;
  h->replacements += n - added;
  return added;
}

/** Writer: erases keys; returns how many were present. */
EMSCRIPTEN_KEEPALIVE uint32_t hm_erase(hm_header *h, const int64_t *keys, uint32_t n) {
  hm_index *ix = hm_current(h);
  uint32_t erased = 0;
  for (uint32_t i = 0; i < n; i++) {
    int32_t pos = hm_find(h, ix, keys[i], hm_mix(keys[i]));
    if (pos < 0) continue;
    uint32_t row = (SLOTS(ix)[pos] >> h->tag_bits) - 1;
    __atomic_store_n(&SLOTS(ix)[pos], TOMB, SC);
    hm_free_row(h, row);
    erased++;
  }
  h->erasures += erased;
  return erased;
}

// The `k`-th smallest (1-based) meta value among live records: three histogram passes of 11/11/10 bits.
static uint32_t hm_select(hm_header *h, uint32_t k) {
  uint32_t prefix = 0;
  for (uint32_t pass = 0; pass < 3; pass++) {
    const uint32_t shift = pass == 0 ? 21 : pass == 1 ? 10 : 0;
    const uint32_t bits = pass == 2 ? 10 : 11;
    const uint32_t high_shift = shift + bits;   // bits above this pass, fixed by `prefix`
    for (uint32_t b = 0; b < HIST; b++) h->hist[b] = 0;
    for (uint32_t r = 0; r < h->rows_used; r++) {
      uint8_t *rec = hm_rec(h, r);
      if (*hm_ver(rec) & FREE) continue;
      uint32_t m = *(volatile uint32_t *)(rec + 4);
      if (high_shift < 32 && (m >> high_shift) != (prefix >> high_shift)) continue;
      h->hist[(m >> shift) & ((1u << bits) - 1u)]++;
    }
    // Readers may bump use counts between passes: never run past the last bucket.
    uint32_t b = 0;
    while (b < HIST - 1 && h->hist[b] < k) k -= h->hist[b++];
    prefix |= b << shift;
  }
  return prefix;
}

/**
 * Writer: when the partition holds more than `margin` keys, evicts by the policy down to `target`
 * (random records; smallest access count; oldest insert/update stamp). Returns the number evicted.
 */
EMSCRIPTEN_KEEPALIVE uint32_t hm_evict(hm_header *h) {
  if (h->size <= h->margin) return 0;
  uint32_t need = h->size - h->target, done = 0;
  if (h->policy == POLICY_RANDOM) {
    while (done < need) {
      uint32_t x = h->rng;
      x ^= x << 13; x ^= x >> 17; x ^= x << 5;
      h->rng = x;
      uint32_t row = hm_reduce(x, h->rows_used);
      if (*hm_ver(hm_rec(h, row)) & FREE) continue;
      hm_remove(h, row);
      done++;
    }
  } else {
    const uint32_t threshold = hm_select(h, need);
    // Strictly below the threshold first, then ties in row order, then (only if readers moved counts
    // meanwhile) any record.
    for (uint32_t pass = 0; pass < 3; pass++)
      for (uint32_t r = 0; r < h->rows_used && done < need; r++) {
        const uint8_t *rec = hm_rec(h, r);
        if (*hm_ver((uint8_t *)rec) & FREE) continue;
        const uint32_t m = *(volatile const uint32_t *)(rec + 4);
        if (pass == 2 || (pass == 0 ? m < threshold : m == threshold)) { hm_remove(h, r); done++; }
      }
  }
  h->evictions += done;
  return done;
}

/** Writer: keys of live records among rows [first, first + count) to `out`; returns how many. */
EMSCRIPTEN_KEEPALIVE uint32_t hm_dump(hm_header *h, uint32_t first, uint32_t count, int64_t *out) {
  uint32_t end = first + count > h->rows_used ? h->rows_used : first + count, k = 0;
  for (uint32_t r = first; r < end; r++) {
    uint8_t *rec = hm_rec(h, r);
    if (!(*hm_ver(rec) & FREE)) out[k++] = hm_key(h, rec);
  }
  return k;
}

/** Writer: removes every key (records are freed, a fresh small index is published). Returns 0 or 1 (no memory). */
EMSCRIPTEN_KEEPALIVE uint32_t hm_clear(hm_header *h) {
  for (uint32_t r = 0; r < h->rows_used; r++)
    if (!(*hm_ver(hm_rec(h, r)) & FREE)) hm_free_row(h, r);
  return (uint32_t)hm_rebuild(h, hm_cap_for(h, 0));
}

/** Counters and sizes: 0 size, 1 hits, 2 misses, 3 insertions, 4 replacements, 5 evictions, 6 erasures,
 *  7 rows_used, 8 index capacity, 9 index_used, 10 allocated top, 11 record stride, 12 chunk rows. */
EMSCRIPTEN_KEEPALIVE double hm_stat(hm_header *h, uint32_t which) {
  switch (which) {
    case 0: return __atomic_load_n(&h->size, SC);
    case 1: case 2: {
      // Slots keep their counters when released, so lookups of ended threads still count.
      uint64_t sum = 0;
      for (uint32_t i = 0; i < MAX_READERS; i++)
        sum += which == 1 ? *(volatile uint64_t *)&h->readers[i].hits : *(volatile uint64_t *)&h->readers[i].misses;
      return (double)sum;
    }
    case 3: return (double)h->insertions;
    case 4: return (double)h->replacements;
    case 5: return (double)h->evictions;
    case 6: return (double)h->erasures;
    case 7: return h->rows_used;
    case 8: return hm_current(h)->cap;
    case 9: return h->index_used;
    case 10: return h->top;
    case 11: return h->stride;
    case 12: return (double)(1u << h->chunk_shift);
    default: return -1;
  }
}

// ---- routing (in a thread's scratch of partition 0): split a batch by partition and put it back in order ----

/**
 * Partition of each key (same hash as the index; high bits), grouped order: `offsets[p]` is where
 * partition p's keys start in `grouped` (offsets has parts + 1 entries), `perm[g]` the original position
 * of grouped key g. `cursor` is parts u32 of scratch.
 */
EMSCRIPTEN_KEEPALIVE void hm_route(const int64_t *keys, uint32_t n, uint32_t parts, uint32_t *part,
                                   uint32_t *offsets, uint32_t *cursor, uint32_t *perm, int64_t *grouped) {
  for (uint32_t p = 0; p <= parts; p++) offsets[p] = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t p = hm_reduce((uint32_t)(hm_mix(keys[i]) >> 32), parts);
    part[i] = p;
    offsets[p + 1]++;
  }
  for (uint32_t p = 0; p < parts; p++) { offsets[p + 1] += offsets[p]; cursor[p] = offsets[p]; }
  for (uint32_t i = 0; i < n; i++) {
    uint32_t g = cursor[part[i]]++;
    perm[g] = i;
    grouped[g] = keys[i];
  }
}

/** dst[g] = src[perm[g]] (to grouped order) when `scatter` is 0, dst[perm[g]] = src[g] otherwise. */
EMSCRIPTEN_KEEPALIVE void hm_permute_rows(const uint8_t *src, const uint32_t *perm, uint32_t n, uint32_t row_bytes,
                                          uint8_t *dst, uint32_t scatter) {
  if (scatter) for (uint32_t g = 0; g < n; g++) hm_copy(dst + perm[g] * row_bytes, src + g * row_bytes, row_bytes);
  else for (uint32_t g = 0; g < n; g++) hm_copy(dst + g * row_bytes, src + perm[g] * row_bytes, row_bytes);
}

/** Original positions (ascending, plus `base`) of the grouped misses miss_g[0..m) to `out`; `flags` n bytes. */
EMSCRIPTEN_KEEPALIVE uint32_t hm_unpermute_misses(const uint32_t *perm, const uint32_t *miss_g, uint32_t m, uint8_t *flags,
                                                  uint32_t n, uint32_t *out, uint32_t base) {
  for (uint32_t i = 0; i < n; i++) flags[i] = 0;
  for (uint32_t j = 0; j < m; j++) flags[perm[miss_g[j]]] = 1;
  uint32_t k = 0;
  for (uint32_t i = 0; i < n; i++) if (flags[i]) out[k++] = base + i;
  return k;
}

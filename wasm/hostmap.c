// Host tier (L2) kernels: one HostArena partition living in one shared memory (docs/host-tier.md has the
// layout). No static data and no shadow stack: everything lives at offsets passed in, at or above 64 KiB.
//
// A partition is an open-addressing index of 16-byte slots over a slab of rows:
//   slot = { i64 key, u32 version, u32 ref }   (ref 0 empty, 1 tombstone, row + 2 live)
//   slab = rows of dim floats, nothing else     ([u32 meta] per row after a chunk's rows, only for
//                                                evict_least_used / evict_oldest)
// A hit therefore costs one index line (key, version and row number together) and the row itself.
// Rows live in chunks of 2^chunk_shift rows, allocated as the slab grows; a chunk table maps row -> chunk.
//
// Concurrency: one writer per partition (the `lock` word, taken by the JS side with Atomics) and any number
// of lock-free readers. Slot versions are a seqlock over the slot and its row: the writer makes the version
// odd, writes the row (or the slot), then makes it even; a reader reads the slot, copies the row and
// retries if the version was odd or changed. Erase leaves a tombstone, so entries never move under a reader,
// and a freed row is reused only after its slot's version moved. The index grows (or sheds tombstones) by
// building a new one beside the old and publishing its offset with one atomic store. Readers that still
// probe a retired index see the same rows through older copies of the slots, so until the retired index is
// reclaimed (every reader that might hold it has left: epoch slots, one per reader thread) the writer takes
// a key's slot in it too (odd version, tombstone on erase) whenever it rewrites or removes that key.
#include <stdint.h>
#include <emscripten.h>
#include <wasm_simd128.h>

#define HM_MAGIC 0x484d3033u
#define SC __ATOMIC_SEQ_CST
#define BUSY 1u
#define REF_EMPTY 0u
#define REF_TOMB 1u
#define REF_ROW 2u
#define MAX_READERS 128
#define MAX_REGIONS 64
#define HIST 2048
#define POLICY_RANDOM 0u
#define POLICY_LEAST_USED 1u
#define POLICY_OLDEST 2u
#define ALIGN 64u
#define PAGE 65536u
#define MAX_CAP 0x0fff0000u

// One cache line per reader thread: its epoch and counters are written on every lookup.
typedef struct { uint32_t claimed, epoch, scratch, scratch_bytes; uint64_t hits, misses; uint32_t pad[8]; } hm_reader;
typedef struct { uint32_t off, bytes, epoch, pad; } hm_region;

typedef struct {
  uint32_t lock, magic, dim, row_bytes;         // 0
  uint32_t policy, meta, chunk_bytes, pad0;     // 16
  uint32_t pad1, chunk_shift, max_chunks, chunk_table;     // 32
  uint32_t num_chunks, rows_used, free_head, free_rows;    // 48
  uint32_t size, index, index_used, top;        // 64
  uint32_t epoch, clock, rng, margin;           // 80
  uint32_t target, max_load_q16, min_cap, num_free;        // 96
  uint32_t num_retired, pad2, pad3, pad4;       // 112
  uint64_t insertions, replacements, evictions, erasures; // 128
  uint32_t pad5[8];
  hm_reader readers[MAX_READERS];               // 192
  hm_region free_list[MAX_REGIONS];
  hm_region retired[MAX_REGIONS];               // retired indexes that readers may still probe
  uint32_t hist[HIST];
} hm_header;

_Static_assert(sizeof(hm_reader) == 64, "one cache line per reader");
_Static_assert(sizeof(hm_header) == 192 + MAX_READERS * 64 + 2 * MAX_REGIONS * 16 + HIST * 4, "layout");

typedef struct { int64_t key; uint32_t ver, ref; } hm_slot;
typedef struct { uint32_t cap, pad[15]; } hm_index;   // followed by hm_slot slots[cap]

_Static_assert(sizeof(hm_slot) == 16, "four slots per cache line");

#define SLOTS(ix) ((hm_slot *)((uintptr_t)(ix) + sizeof(hm_index)))
#define CHUNKS(h) ((uint32_t *)(uintptr_t)(h)->chunk_table)

static inline uint64_t hm_mix(int64_t key) {
  uint64_t k = (uint64_t)key;
  k ^= k >> 33; k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33; k *= 0xc4ceb93fe53d4ce9ULL;
  k ^= k >> 33;
  return k;
}

static inline uint32_t hm_reduce(uint32_t x, uint32_t n) { return (uint32_t)(((uint64_t)x * n) >> 32); }

// The row of `row` and its meta word, from header fields the caller may keep in locals (the kernels'
// atomics make the compiler reload fields it reads through `h`).
static inline uint8_t *hm_row_at(const uint32_t *chunks, uint32_t shift, uint32_t row_bytes, uint32_t row) {
  return (uint8_t *)(uintptr_t)(chunks[row >> shift] + (row & ((1u << shift) - 1u)) * row_bytes);
}
static inline uint8_t *hm_row(const hm_header *h, uint32_t row) { return hm_row_at(CHUNKS(h), h->chunk_shift, h->row_bytes, row); }
static inline uint32_t *hm_meta_at(const uint32_t *chunks, uint32_t shift, uint32_t row_bytes, uint32_t row) {
  return (uint32_t *)(uintptr_t)(chunks[row >> shift] + (row_bytes << shift) + (row & ((1u << shift) - 1u)) * 4u);
}
static inline uint32_t *hm_meta(const hm_header *h, uint32_t row) { return hm_meta_at(CHUNKS(h), h->chunk_shift, h->row_bytes, row); }

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

// Frees the retired indexes no reader can still hold.
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

// Grows the memory to cover bytes below `end`; 0, or 1 when it cannot.
static int hm_cover(uint64_t end) {
  const uint64_t have = (uint64_t)__builtin_wasm_memory_size(0) * PAGE;
  if (end <= have) return 0;
  return __builtin_wasm_memory_grow(0, (uint32_t)((end - have + PAGE - 1) / PAGE)) == (uintptr_t)-1;
}

// Returns the offset of `bytes` bytes (64-aligned), growing the memory to cover them when `commit` (else
// the caller covers what it uses with hm_cover); 0 when it cannot.
static uint32_t hm_alloc_at(hm_header *h, uint32_t bytes, uint32_t commit) {
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
  if (commit && hm_cover(end)) return 0;
  uint32_t off = h->top;
  h->top = (uint32_t)end;
  return off;
}

static uint32_t hm_alloc(hm_header *h, uint32_t bytes) { return hm_alloc_at(h, bytes, 1); }

// ---- index ----

static inline uint32_t hm_start(const hm_index *ix, uint64_t hash) { return hm_reduce((uint32_t)hash, ix->cap); }
static inline uint32_t hm_next(uint32_t pos, uint32_t cap) { return pos + 1 == cap ? 0 : pos + 1; }

// Slot holding `key` live in `ix` (writer's view), or 0.
static hm_slot *hm_find(const hm_index *ix, int64_t key, uint64_t hash) {
  const uint32_t cap = ix->cap;
  hm_slot *slots = SLOTS(ix);
  for (uint32_t pos = hm_start(ix, hash);; pos = hm_next(pos, cap)) {
    hm_slot *s = &slots[pos];
    if (s->ref == REF_EMPTY) return 0;
    if (s->ref >= REF_ROW && s->key == key) return s;
  }
}

// Slot seqlock (writer side): odd while the slot or its row is being written.
static inline void hm_begin(hm_slot *s) {
  __atomic_store_n(&s->ver, s->ver | BUSY, SC);
  // The row's stores must not become visible before the odd version (a release store alone allows it).
  __atomic_thread_fence(SC);
}
static inline void hm_end(hm_slot *s) { __atomic_store_n(&s->ver, (s->ver | BUSY) + 1u, SC); }

// Puts a slot for a key known to be absent: the first tombstone or empty slot of its probe sequence.
static void hm_place(hm_header *h, hm_index *ix, int64_t key, uint64_t hash, uint32_t row, uint32_t count_used) {
  const uint32_t cap = ix->cap;
  hm_slot *slots = SLOTS(ix);
  uint32_t pos = hm_start(ix, hash);
  while (slots[pos].ref >= REF_ROW) pos = hm_next(pos, cap);
  hm_slot *s = &slots[pos];
  if (s->ref == REF_EMPTY && count_used) h->index_used++;
  hm_begin(s);
  *(volatile int64_t *)&s->key = key;
  __atomic_store_n(&s->ref, row + REF_ROW, SC);
  hm_end(s);
}

static uint32_t hm_index_bytes(uint32_t cap) { return (uint32_t)sizeof(hm_index) + cap * (uint32_t)sizeof(hm_slot); }

static inline hm_index *hm_current(hm_header *h) { return (hm_index *)(uintptr_t)__atomic_load_n(&h->index, SC); }

// Takes (odd version) the slots of `key` in the current index and in every retired index that readers
// may still probe, so that a reader of any of them retries while the key's row or slot changes. Returns
// the current slot (0 when the key is absent).
static hm_slot *hm_take_key(hm_header *h, int64_t key, uint64_t hash) {
  for (uint32_t i = 0; i < h->num_retired; i++) {
    hm_slot *old = hm_find((const hm_index *)(uintptr_t)h->retired[i].off, key, hash);
    if (old) hm_begin(old);
  }
  hm_slot *s = hm_find(hm_current(h), key, hash);
  if (s) hm_begin(s);
  return s;
}

// Gives back what hm_take_key took; with `tomb` the key's slots become tombstones first.
static void hm_give_key(hm_header *h, int64_t key, uint64_t hash, hm_slot *s, uint32_t tomb) {
  for (uint32_t i = 0; i < h->num_retired; i++) {
    hm_slot *old = hm_find((const hm_index *)(uintptr_t)h->retired[i].off, key, hash);
    if (!old) continue;
    if (tomb) __atomic_store_n(&old->ref, REF_TOMB, SC);
    hm_end(old);
  }
  if (tomb) __atomic_store_n(&s->ref, REF_TOMB, SC);
  hm_end(s);
}

// Builds an index of `cap` slots over the live keys beside the current one and publishes it.
static int hm_rebuild(hm_header *h, uint32_t cap) {
  hm_reclaim(h);
  // A retired index must stay known to writers until it is reclaimed (see hm_take_key).
  if (h->num_retired == MAX_REGIONS) return 1;
  uint32_t off = hm_alloc(h, hm_index_bytes(cap));
  if (!off) return 1;
  hm_index *ix = (hm_index *)(uintptr_t)off;
  hm_zero((uint8_t *)ix, hm_index_bytes(cap));
  ix->cap = cap;
  h->index_used = 0;
  hm_index *old = hm_current(h);
  if (old) {
    const hm_slot *slots = SLOTS(old);
    for (uint32_t p = 0; p < old->cap; p++)
      if (slots[p].ref >= REF_ROW) hm_place(h, ix, slots[p].key, hm_mix(slots[p].key), slots[p].ref - REF_ROW, 1);
  }
  __atomic_store_n(&h->index, off, SC);
  uint32_t e = __atomic_add_fetch(&h->epoch, 1u, SC);
  if (old) {
    // Readers that entered with an epoch below `e` may still probe the old index.
    h->retired[h->num_retired].off = (uint32_t)(uintptr_t)old;
    h->retired[h->num_retired].bytes = (hm_index_bytes(old->cap) + ALIGN - 1) & ~(ALIGN - 1);
    h->retired[h->num_retired].epoch = e;
    h->num_retired++;
  }
  return 0;
}

static uint32_t hm_cap_for(const hm_header *h, uint64_t keys) {
  uint64_t cap = (keys * 65536ull + h->max_load_q16 - 1) / h->max_load_q16;
  if (cap < h->min_cap) cap = h->min_cap;
  cap = (cap + 15) & ~15ull;
  return cap > MAX_CAP ? MAX_CAP : (uint32_t)cap;
}

// ---- rows ----

// Puts a row whose slots were made tombstones (hm_give_key) on the free list, linked through its data.
static void hm_free_row(hm_header *h, uint32_t row) {
  *(uint32_t *)hm_row(h, row) = h->free_head;
  h->free_head = row + 1;
  h->free_rows++;
  h->size--;
}

// Removes the live key of slot `s` of the current index.
static void hm_remove(hm_header *h, hm_slot *s) {
  const int64_t key = s->key;
  const uint64_t hash = hm_mix(key);
  const uint32_t row = s->ref - REF_ROW;
  hm_give_key(h, key, hash, hm_take_key(h, key, hash), 1);
  hm_free_row(h, row);
}

// A slab chunk without meta words is covered by memory only as far as rows are taken from it
// (hm_reserve), so that the last, partly used chunk of a partition holds no unused pages.
static int hm_add_chunk(hm_header *h) {
  if (h->num_chunks >= h->max_chunks) return 1;
  uint32_t off = hm_alloc_at(h, h->chunk_bytes, h->meta != 0);
  if (!off) return 1;
  CHUNKS(h)[h->num_chunks++] = off;
  return 0;
}

static uint32_t hm_take_row(hm_header *h) {
  if (h->free_head) {
    uint32_t row = h->free_head - 1;
    h->free_head = *(uint32_t *)hm_row(h, row);
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
  h->row_bytes = dim * 4u;
  h->meta = policy == POLICY_RANDOM ? 0u : 4u;
  const uint32_t per_row = h->row_bytes + h->meta;
  uint32_t shift = 0;
  while ((uint64_t)per_row << (shift + 1) <= chunk_bytes) shift++;
  h->chunk_shift = shift;
  h->chunk_bytes = per_row << shift;
  h->max_chunks = (uint32_t)(0x100000000ull / h->chunk_bytes) + 1u;
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

// Loads that overlap the memory misses of many keys (wasm has no prefetch instruction; the loads of a pass
// do not wait for each other). hm_touch_slots hashes keys[b0..b1) once, keeps each home slot in pos[i]
// and loads it; hm_touch_rows walks each probe sequence (its lines loaded by then) to the slot holding the
// key, or to an empty slot, keeps that position (or HM_ABSENT) in pos[i] and loads every line of the row.
// hm_gather runs them a block ahead of its copies: the slots of block b + 1 and the rows of block b are in
// flight together, and the probe and copy of block b then find their lines in cache.
#define HM_ABSENT 0xffffffffu
static void hm_touch_slots(const hm_index *ix, const int64_t *keys, uint32_t b0, uint32_t b1, uint32_t *pos) {
  const volatile hm_slot *slots = SLOTS(ix);
  for (uint32_t i = b0; i < b1; i++) {
    const uint32_t p = hm_start(ix, hm_mix(keys[i]));
    pos[i] = p;
    (void)slots[p].ref;
  }
}

static void hm_touch_rows(const hm_index *ix, const int64_t *keys, uint32_t b0, uint32_t b1, uint32_t *pos,
                          const uint32_t *chunks, uint32_t shift, uint32_t row_bytes) {
  const volatile hm_slot *slots = SLOTS(ix);
  const uint32_t cap = ix->cap;
  for (uint32_t i = b0; i < b1; i++) {
    const int64_t key = keys[i];
    uint32_t p = pos[i], ref;
    while ((ref = slots[p].ref) != REF_EMPTY && (ref < REF_ROW || slots[p].key != key)) p = hm_next(p, cap);
    if (ref == REF_EMPTY) { pos[i] = HM_ABSENT; continue; }
    pos[i] = p;
    const uint8_t *row = hm_row_at(chunks, shift, row_bytes, ref - REF_ROW);
    for (uint32_t off = 0; off < row_bytes; off += 64) (void)*(volatile const uint8_t *)(row + off);
    (void)*(volatile const uint8_t *)(row + row_bytes - 1);
  }
}

#define HM_BLOCK 16u

/**
 * Reader: looks up keys[0..n) (lock-free). Row i of `out` (row order[i] when `order` is not 0: a router
 * gathers straight into request order) gets the row of keys[i], or zeros when absent; `miss` gets
 * miss_base + i of each absent key, ascending. Returns the number of misses. `tmp`: n u32 of
 * scratch. `fence`: order the row copy before the version check with a full fence, for CPUs that may
 * reorder loads (not needed on x86-64, where loads are not reordered with older loads).
 */
EMSCRIPTEN_KEEPALIVE uint32_t hm_gather(hm_header *h, uint32_t slot, const int64_t *keys, uint32_t n, float *out,
                                        const uint32_t *order, uint32_t *miss, uint32_t miss_base, uint32_t *tmp,
                                        uint32_t fence) {
  hm_reader *me = &h->readers[slot];
  __atomic_store_n(&me->epoch, __atomic_load_n(&h->epoch, SC), SC);
  const hm_index *ix = hm_current(h);
  const uint32_t cap = ix->cap, row_bytes = h->row_bytes, lfu = h->policy == POLICY_LEAST_USED;
  const uint32_t shift = h->chunk_shift, oldest = h->policy == POLICY_OLDEST;
  // evict_oldest: a hit is an access, stamped newer than every insert so far and older than the next
  // (inserts stamp even clock values, accesses the odd one in between; see hm_insert).
  const uint32_t now = oldest ? __atomic_load_n(&h->clock, SC) + 1u : 0u;
  const uint32_t *chunks = CHUNKS(h);
  hm_slot *slots = SLOTS(ix);
  uint32_t misses = 0;
  hm_touch_slots(ix, keys, 0, n < HM_BLOCK ? n : HM_BLOCK, tmp);
  for (uint32_t i = 0; i < n; i++) {
    if (i % HM_BLOCK == 0) {
      const uint32_t end = i + HM_BLOCK < n ? i + HM_BLOCK : n;
      if (end < n) hm_touch_slots(ix, keys, end, end + HM_BLOCK < n ? end + HM_BLOCK : n, tmp);
      hm_touch_rows(ix, keys, i, end, tmp, chunks, shift, row_bytes);
    }
    const int64_t key = keys[i];
    uint8_t *dst = (uint8_t *)(out) + (order ? order[i] : i) * row_bytes;
    uint32_t pos = tmp[i], hit = 0;
    if (pos != HM_ABSENT) for (;;) {
      hm_slot *s = &slots[pos];
      const uint32_t v1 = __atomic_load_n(&s->ver, SC);
      if (v1 & BUSY) continue;
      const uint32_t ref = *(volatile const uint32_t *)&s->ref;
      if (ref == REF_EMPTY) break;
      if (ref < REF_ROW || *(volatile const int64_t *)&s->key != key) { pos = hm_next(pos, cap); continue; }
      hm_copy(dst, hm_row_at(chunks, shift, row_bytes, ref - REF_ROW), row_bytes);
      if (fence) __atomic_thread_fence(SC);
      else __atomic_signal_fence(SC);   // compiler barrier: the copy stays before the check
      if (__atomic_load_n(&s->ver, SC) != v1) continue;   // rewritten meanwhile: read the slot again
      // Racy by design (a plain store after the check, like HPS's unlocked counters): a row freed and
      // reused meanwhile may get this count or stamp; it only steers eviction, never what a lookup reads.
      if (lfu) { volatile uint32_t *c = hm_meta_at(chunks, shift, row_bytes, ref - REF_ROW); uint32_t x = *c; if (x != 0xffffffffu) *c = x + 1; }
      else if (oldest) { volatile uint32_t *c = hm_meta_at(chunks, shift, row_bytes, ref - REF_ROW); if (*c != now) *c = now; }
      hit = 1;
      break;
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
  for (uint32_t i = 0; i < n; i++) absent += hm_find(ix, keys[i], hm_mix(keys[i])) == 0;
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
  if (need_rows > 0xfffffff0ull) return 1;
  if (dry_run && rows_free < extra) return 2;
  while (rows_free < extra) {
    if (hm_add_chunk(h)) return 1;
    rows_free += 1ull << h->chunk_shift;
  }
  if (extra > h->free_rows) {
    // New rows are taken in order from rows_used: cover the last one this insert may take.
    const uint32_t last = h->rows_used + (extra - h->free_rows) - 1u;
    const uint64_t end = (uint64_t)(uintptr_t)hm_row(h, last) + h->row_bytes;
    if (dry_run && end > (uint64_t)__builtin_wasm_memory_size(0) * PAGE) return 2;
    if (hm_cover(end)) return 1;
  }
  const hm_index *ix = hm_current(h);
  uint64_t limit = ((uint64_t)ix->cap * h->max_load_q16) >> 16;
  if ((uint64_t)h->index_used + extra > limit) {
    if (dry_run) return 2;
    // Grow so that the load right after is 3/4 of the limit (or shed tombstones at the same size).
    uint32_t cap = hm_cap_for(h, (need_rows * 4 + 2) / 3);
    if (((uint64_t)cap * h->max_load_q16 >> 16) < need_rows || hm_rebuild(h, cap)) return 1;
  }
  return 0;
}

/**
 * Writer: inserts or replaces keys[i] -> rows[i] (n x dim floats) after hm_reserve(n or more). Later
 * repeats of a key win. Returns the number of new keys.
 */
EMSCRIPTEN_KEEPALIVE uint32_t hm_insert(hm_header *h, const int64_t *keys, const float *rows, uint32_t n) {
  hm_reclaim(h);   // fewer retired indexes to mirror writes into
  hm_index *ix = hm_current(h);
  // evict_oldest stamps: each insert call takes the next even clock value, so rows it writes are newer
  // than every earlier access (hm_gather stamps hits with clock + 1) and older than later ones.
  const uint32_t row_bytes = h->row_bytes, policy = h->policy;
  const uint32_t stamp = (__atomic_load_n(&h->clock, SC) | 1u) + 1u;
  __atomic_store_n(&h->clock, stamp, SC);
  uint32_t added = 0;
  for (uint32_t i = 0; i < n; i++) {
    const int64_t key = keys[i];
    const uint64_t hash = hm_mix(key);
    const uint8_t *src = (const uint8_t *)rows + i * row_bytes;
    hm_slot *s = hm_take_key(h, key, hash);
    if (s) {
      const uint32_t row = s->ref - REF_ROW;
      hm_copy(hm_row(h, row), src, row_bytes);
      if (policy == POLICY_OLDEST) *hm_meta(h, row) = stamp;
      hm_give_key(h, key, hash, s, 0);
      continue;
    }
    // A new key: its row is reachable by no slot yet (a reused row's old slots were made tombstones).
    const uint32_t row = hm_take_row(h);
    hm_copy(hm_row(h, row), src, row_bytes);
    if (policy != POLICY_RANDOM) *hm_meta(h, row) = policy == POLICY_OLDEST ? stamp : 0u;
    hm_place(h, ix, key, hash, row, 1);
    h->size++;
    added++;
  }
  h->insertions += added;
  h->replacements += n - added;
  return added;
}

/** Writer: erases keys; returns how many were present. */
EMSCRIPTEN_KEEPALIVE uint32_t hm_erase(hm_header *h, const int64_t *keys, uint32_t n) {
  hm_reclaim(h);
  const hm_index *ix = hm_current(h);
  uint32_t erased = 0;
  for (uint32_t i = 0; i < n; i++) {
    hm_slot *s = hm_find(ix, keys[i], hm_mix(keys[i]));
    if (!s) continue;
    hm_remove(h, s);
    erased++;
  }
  h->erasures += erased;
  return erased;
}

// The `k`-th smallest (1-based) meta value among live keys: three histogram passes of 11/11/10 bits.
static uint32_t hm_select(hm_header *h, uint32_t k) {
  const hm_index *ix = hm_current(h);
  const hm_slot *slots = SLOTS(ix);
  uint32_t prefix = 0;
  for (uint32_t pass = 0; pass < 3; pass++) {
    const uint32_t shift = pass == 0 ? 21 : pass == 1 ? 10 : 0;
    const uint32_t bits = pass == 2 ? 10 : 11;
    const uint32_t high_shift = shift + bits;   // bits above this pass, fixed by `prefix`
    for (uint32_t b = 0; b < HIST; b++) h->hist[b] = 0;
    for (uint32_t p = 0; p < ix->cap; p++) {
      if (slots[p].ref < REF_ROW) continue;
      uint32_t m = *(volatile uint32_t *)hm_meta(h, slots[p].ref - REF_ROW);
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
 * (random keys; smallest access count; oldest insert, update or lookup stamp). Returns the number evicted.
 */
EMSCRIPTEN_KEEPALIVE uint32_t hm_evict(hm_header *h) {
  if (h->size <= h->margin) return 0;
  hm_reclaim(h);
  const hm_index *ix = hm_current(h);
  hm_slot *slots = SLOTS(ix);
  uint32_t need = h->size - h->target, done = 0;
  if (h->policy == POLICY_RANDOM) {
    // Uniform over live keys: random slots, empty ones and tombstones skipped.
    while (done < need && h->size) {
      uint32_t x = h->rng;
      x ^= x << 13; x ^= x >> 17; x ^= x << 5;
      h->rng = x;
      hm_slot *s = &slots[hm_reduce(x, ix->cap)];
      if (s->ref < REF_ROW) continue;
      hm_remove(h, s);
      done++;
    }
  } else {
    const uint32_t threshold = hm_select(h, need);
    // Strictly below the threshold first, then ties in slot order, then (only if readers moved counts
    // meanwhile) any key.
    for (uint32_t pass = 0; pass < 3; pass++)
      for (uint32_t p = 0; p < ix->cap && done < need; p++) {
        hm_slot *s = &slots[p];
        if (s->ref < REF_ROW) continue;
        const uint32_t m = *(volatile const uint32_t *)hm_meta(h, s->ref - REF_ROW);
        if (pass == 2 || (pass == 0 ? m < threshold : m == threshold)) { hm_remove(h, s); done++; }
      }
  }
  h->evictions += done;
  return done;
}

/** Writer: keys of live slots among index positions [first, first + count) to `out`; returns how many. */
EMSCRIPTEN_KEEPALIVE uint32_t hm_dump(hm_header *h, uint32_t first, uint32_t count, int64_t *out) {
  const hm_index *ix = hm_current(h);
  const hm_slot *slots = SLOTS(ix);
  uint32_t end = first + count > ix->cap ? ix->cap : first + count, k = 0;
  for (uint32_t p = first; p < end; p++)
    if (slots[p].ref >= REF_ROW) out[k++] = slots[p].key;
  return k;
}

/** Writer: removes every key (rows are freed, a fresh small index is published). Returns 0 or 1 (no memory). */
EMSCRIPTEN_KEEPALIVE uint32_t hm_clear(hm_header *h) {
  const hm_index *ix = hm_current(h);
  hm_slot *slots = SLOTS(ix);
  for (uint32_t p = 0; p < ix->cap; p++)
    if (slots[p].ref >= REF_ROW) hm_remove(h, &slots[p]);
  return (uint32_t)hm_rebuild(h, hm_cap_for(h, 0));
}

/** Counters and sizes: 0 size, 1 hits, 2 misses, 3 insertions, 4 replacements, 5 evictions, 6 erasures,
 *  7 rows_used, 8 index capacity, 9 index_used, 10 allocated top, 11 row bytes (with its meta word),
 *  12 chunk rows, 13 index slot bytes. */
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
    case 11: return h->row_bytes + h->meta;
    case 12: return (double)(1u << h->chunk_shift);
    case 13: return sizeof(hm_slot);
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

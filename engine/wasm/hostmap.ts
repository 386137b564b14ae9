import { KERNEL_RESERVED_BYTES } from './memory.js';

/**
 * Typed signatures of the host-tier kernels exported by wasm/hps.wasm (wasm/hostmap.c, prefix `hm_`).
 * Every pointer is a byte offset into the partition's shared memory; `header` is the partition header
 * (HEADER_OFFSET). Routing kernels (hm_route, hm_permute_rows, hm_unpermute_misses) work in the calling
 * thread's scratch of partition 0. Only engine/host/ uses these.
 */
export interface HostKernels {
  /** Lays out a partition in a fresh memory; 0, or 1 when the memory cannot hold it. */
  hm_init(header: number, dim: number, policy: number, chunkBytes: number, margin: number, target: number,
    initialKeys: number, maxLoadQ16: number, seed: number): number;
  /** Claims a reader slot for thread `owner` (threadId + 1); -1 when all are taken. */
  hm_claim(header: number, owner: number): number;
  hm_release(header: number, slot: number): void;
  /** Releases every slot of thread `owner` (threadId + 1); returns how many. */
  hm_release_owner(header: number, owner: number): number;
  /** Scratch of at least `bytes` for reader `slot` (writer lock held); 0 when memory is exhausted. */
  hm_scratch(header: number, slot: number, bytes: number): number;
  /**
   * Lock-free lookup: rows to `out` (row order[i] for key i when `order` is not 0, else row i; zeros for
   * misses), miss positions + missBase to `miss`; returns misses. `tmp`: n u32 of scratch; `fence`: 1
   * where the CPU may reorder loads (see READ_FENCE).
   */
  hm_gather(header: number, slot: number, keys: number, n: number, out: number, order: number, miss: number,
    missBase: number, tmp: number, fence: number): number;
  /** Writer: keys of keys[0..n) absent from the partition (repeats counted each time). */
  hm_count_absent(header: number, keys: number, n: number): number;
  /** Writer: room for `extra` new keys; with `dryRun` only says whether memory would be allocated (2). 0 ok, 1 no memory. */
  hm_reserve(header: number, extra: number, dryRun: number): number;
  /** Writer: insert or replace n rows (after hm_reserve); returns new keys. */
  hm_insert(header: number, keys: number, rows: number, n: number): number;
  /** Writer: returns keys erased. */
  hm_erase(header: number, keys: number, n: number): number;
  /** Writer: overflow handling by the partition's policy; returns keys evicted. */
  hm_evict(header: number): number;
  /** Writer: live keys among records [first, first + count) to `out`; returns how many. */
  hm_dump(header: number, first: number, count: number, out: number): number;
  /** Writer: removes every key; 0, or 1 when no memory for the new index. */
  hm_clear(header: number): number;
  /** Counters and sizes, see Stat. */
  hm_stat(header: number, which: number): number;
  hm_route(keys: number, n: number, parts: number, part: number, offsets: number, cursor: number, perm: number,
    grouped: number): void;
  hm_permute_rows(src: number, perm: number, n: number, rowBytes: number, dst: number, scatter: number): void;
  hm_unpermute_misses(perm: number, missGrouped: number, m: number, flags: number, n: number, out: number,
    base: number): number;
}

/** hm_stat selectors (wasm/hostmap.c). */
export const enum Stat {
  Size = 0, Hits = 1, Misses = 2, Insertions = 3, Replacements = 4, Evictions = 5, Erasures = 6,
  RowsUsed = 7, IndexCapacity = 8, IndexUsed = 9, Top = 10, RowBytes = 11, ChunkRows = 12, SlotBytes = 13,
}

/** Overflow policy numbers of hm_init. */
export const POLICY_CODES = { evict_random: 0, evict_least_used: 1, evict_oldest: 2 } as const;

/** The partition header sits right above the module's reserved bytes; its first word is the writer lock. */
export const HEADER_OFFSET = KERNEL_RESERVED_BYTES;
/** Index load factor limit (times 65536): the index grows past 0.9 and lands at 0.675 after growth. */
export const MAX_LOAD_Q16 = Math.round(0.9 * 65536);
/**
 * Slab bytes per key: the row, and a meta word for evict_least_used (use count) and evict_oldest
 * (stamp). The key and the version live in the key's 16-byte index slot (SLOT_BYTES).
 */
export function rowBytes(dim: number, policy: keyof typeof POLICY_CODES): number {
  return 4 * dim + (policy === 'evict_random' ? 0 : 4);
}
/** Bytes of an index slot: i64 key, u32 version (seqlock), u32 row reference. */
export const SLOT_BYTES = 16;

/**
 * A seqlock reader must finish copying a row before it checks the version again. x86-64 never reorders
 * loads with older loads, so a compiler barrier is enough there; elsewhere (arm64) the kernel issues a
 * full fence per row read.
 */
export const READ_FENCE = process.arch === 'x64' || process.arch === 'ia32' ? 0 : 1;

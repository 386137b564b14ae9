import { HpsError } from '../errors.js';
import { KERNEL_RESERVED_BYTES, MAX_MEMORY_PAGES, WASM_PAGE_BYTES } from '../wasm/memory.js';
import type { CachePolicy } from '../config/types.js';

/**
 * Where everything of a WasmEmbeddingCache lives in its shared memory. The header (mirrored by the
 * `l1_header` struct of wasm/cache.c) is at KERNEL_RESERVED_BYTES; then the scratch directory and one
 * block per set: the set's metadata (occupancy mask, then the ways' keys, versions, counts and stamps,
 * padded to whole 64-byte lines) followed by the ways' rows, so that a lookup stays within one or two
 * memory pages. Each thread's scratch area (keys, rows and miss positions of one chunk) is appended by
 * growing the memory.
 */
export const HEADER = KERNEL_RESERVED_BYTES;
export const MAGIC = 0x4c31_4331; // "L1C1"

/** Byte offsets of the header fields (u32 fields first, then u64 counters from byte 64). */
export const H = {
  magic: 0, dim: 4, ways: 8, numSets: 12, policy: 16, lock: 20, sets: 24, setBytes: 28,
  rowsInSet: 32, dir: 36, dirLen: 40, capacity: 44,
  clock: 64, size: 72, hits: 80, misses: 88, insertions: 96, evictions: 104,
} as const;
const HEADER_BYTES = 128;

/**
 * Scratch areas recorded for reuse by later attaches (a thread beyond this still works, unrecorded).
 * An entry is 4 u32: state, offset, owner thread id + 1, unused.
 */
export const DIR_LEN = 256;
export const DIR_ENTRY_WORDS = 4;
export const DIR_FREE = 2;
export const DIR_USED = 1;

export const WAYS_ALLOWED = [1, 2, 4, 8, 16, 32];
export const MAX_DIM = 65536;

export interface CacheGeometry {
  dim: number;
  ways: number;
  numSets: number;
  policy: CachePolicy;
}

export interface CacheLayout extends CacheGeometry {
  capacity: number;
  /** Where the set blocks start. */
  sets: number;
  /** Bytes per set block, whole 64-byte lines. */
  setBytes: number;
  /** Offset of the rows in a set block: metadata of 8 bytes (occupancy, padding) + 24 per way (key, version, count, stamp), whole lines. */
  rowsInSet: number;
  dir: number;
  /** First byte after the row slab, page aligned: where scratch areas start. */
  end: number;
}

const align = (n: number, a: number): number => Math.ceil(n / a) * a;

export function cacheLayout(g: CacheGeometry): CacheLayout {
  const capacity = g.numSets * g.ways;
  const dir = HEADER + HEADER_BYTES;
  const sets = align(dir + DIR_LEN * DIR_ENTRY_WORDS * 4, 64);
  const rowsInSet = align(8 + 24 * g.ways, 64);
  const setBytes = align(rowsInSet + g.ways * g.dim * 4, 64);
  const end = align(sets + g.numSets * setBytes, WASM_PAGE_BYTES);
  return { ...g, capacity, sets, setBytes, rowsInSet, dir, end };
}

/** Rows of one chunk of a batch: about 1 MiB of rows, at least 32 (a dump chunk holds a set) and at most 4096. */
export function chunkRows(dim: number): number {
  return Math.max(32, Math.min(4096, Math.floor((1 << 20) / (dim * 4))));
}

/**
 * One thread's scratch: the call's stamp (u64), then keys, rows, miss positions and the query's probe
 * results (way and version, 8 bytes a key) of one chunk; then what the small-batch path (l1_serve) needs
 * for one chunk: the inverse map, first positions, missed keys, a dedup table (2 x chunk rounded up to a
 * power of two: u32 indexes, then i64 keys), the missed keys' rows from the lower tiers, one u32 per
 * distinct key for l1_place_missed, and the distinct count.
 */
export interface ScratchLayout {
  stamp: number;
  keys: number;
  rows: number;
  miss: number;
  probe: number;
  inverse: number;
  first: number;
  missKeys: number;
  table: number;
  tableMask: number;
  fill: number;
  slotOf: number;
  distinct: number;
  bytes: number;
}

export function scratchLayout(base: number, dim: number): ScratchLayout {
  const chunk = chunkRows(dim);
  let tableSize = 16;
  while (tableSize < 2 * chunk) tableSize *= 2;
  const keys = base + 16;
  const rows = keys + chunk * 8;
  const miss = rows + chunk * dim * 4;
  const probe = miss + chunk * 4;
  const inverse = probe + chunk * 8;
  const first = inverse + chunk * 4;
  const missKeys = align(first + chunk * 4, 8);
  const table = missKeys + chunk * 8;
  const fill = align(table + tableSize * 12, 16);
  const slotOf = fill + chunk * dim * 4;
  const distinct = slotOf + chunk * 4;
  return {
    stamp: base, keys, rows, miss, probe, inverse, first, missKeys, table, tableMask: tableSize - 1, fill, slotOf, distinct,
    bytes: align(distinct + 4 - base, WASM_PAGE_BYTES),
  };
}

/** Checks the options of a new cache; returns its geometry. Capacity is rounded up to whole sets. */
export function checkGeometry(dim: unknown, capacity: unknown, ways: unknown, policy: unknown): CacheGeometry {
  if (!Number.isInteger(dim) || (dim as number) < 1 || (dim as number) > MAX_DIM) {
    throw new HpsError('BAD_CONFIG', `WasmEmbeddingCache dim: expected an integer in [1, ${MAX_DIM}], got ${String(dim)}`);
  }
  if (!Number.isInteger(capacity) || (capacity as number) < 1) {
    throw new HpsError('BAD_CONFIG', `WasmEmbeddingCache capacity: expected an integer >= 1 (rows), got ${String(capacity)}`);
  }
  if (!WAYS_ALLOWED.includes(ways as number)) {
    throw new HpsError('BAD_CONFIG', `WasmEmbeddingCache ways: expected one of ${WAYS_ALLOWED.join(', ')}, got ${String(ways)}`);
  }
  if (policy !== 'lru' && policy !== 'lfu') {
    throw new HpsError('BAD_CONFIG', `WasmEmbeddingCache policy: expected 'lru' or 'lfu', got ${String(policy)}`);
  }
  const g: CacheGeometry = { dim: dim as number, ways: ways as number, numSets: Math.ceil((capacity as number) / (ways as number)), policy };
  const need = cacheLayout(g).end + scratchLayout(0, g.dim).bytes;
  const max = MAX_MEMORY_PAGES * WASM_PAGE_BYTES;
  if (need > max) {
    throw new HpsError('CAPACITY', `WasmEmbeddingCache capacity ${String(capacity)} x dim ${String(dim)} needs ${need} bytes, more than the ${max} bytes a wasm memory can address: lower the capacity (gpucacheper)`);
  }
  return g;
}

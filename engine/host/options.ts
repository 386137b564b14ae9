import { HpsError } from '../errors.js';
import type { OverflowPolicy } from '../config/types.js';
import { ALLOCATION_RATE, OVERFLOW_MARGIN, OVERFLOW_POLICY, OVERFLOW_RESOLUTION_TARGET } from '../config/defaults.js';
import { rowBytes, SLOT_BYTES } from '../wasm/hostmap.js';

/** Options of HostArena.create: VolatileDbConfig's fields for one table (HPS defaults when left out). */
export interface HostArenaOptions {
  /** Vector dimension (float32 elements per row). */
  dim: number;
  /** Partitions (one shared memory each); default 1. */
  numPartitions?: number;
  /** Largest slab growth step in bytes (`allocation_rate`); default 256 MiB. */
  allocationRate?: number;
  /** Keys a partition holds before overflow handling runs (`overflow_margin`); default no limit. */
  overflowMargin?: number;
  overflowPolicy?: OverflowPolicy;
  /** Fraction of overflowMargin that eviction goes down to (`overflow_resolution_target`); default 0.8. */
  overflowResolutionTarget?: number;
  /**
   * Keys the arena is expected to hold (a hint): sizes each partition's index up front and the slab
   * growth step, for at most overflowMargin keys and what maxPartitionBytes can hold per partition.
   */
  expectedKeys?: number;
  /** Memory limit of each partition in bytes (a wasm32 memory: 4 GiB at most, the default). */
  maxPartitionBytes?: number;
}

export interface ResolvedArenaOptions {
  dim: number;
  numPartitions: number;
  allocationRate: number;
  overflowMargin: number;
  overflowPolicy: OverflowPolicy;
  overflowResolutionTarget: number;
  expectedKeys: number;
  maxPartitionBytes: number;
}

const KNOWN = ['dim', 'numPartitions', 'allocationRate', 'overflowMargin', 'overflowPolicy', 'overflowResolutionTarget', 'expectedKeys', 'maxPartitionBytes'];
const POLICIES: readonly OverflowPolicy[] = ['evict_random', 'evict_least_used', 'evict_oldest'];
/** A wasm32 memory holds at most 4 GiB: partitions beyond this many make no sense for one table. */
const MAX_PARTITIONS = 4096;
const MAX_DIM = 1 << 20;
const MAX_PARTITION_BYTES = 4 * 2 ** 30;
/** Room for the reserved bytes, header, chunk table and a first slab step. */
const MIN_PARTITION_BYTES = 4 << 20;

function fail(key: string, value: unknown, expected: string): never {
  throw new HpsError('BAD_CONFIG', `HostArena.create: options.${key} is ${show(value)}: expected ${expected}`);
}

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : typeof v === 'bigint' ? `${v}n` : String(v);
}

function integer(o: Record<string, unknown>, key: string, min: number, max: number, dflt?: number): number {
  const v = o[key] ?? dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    fail(key, o[key], `an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? '2^53-1' : max}]`);
  }
  return v;
}

/** Validates HostArena.create options; errors name the option, the value and what was expected. */
export function resolveArenaOptions(options: unknown): ResolvedArenaOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new HpsError('BAD_CONFIG', `HostArena.create: options must be an object with at least { dim }, got ${options === null ? 'null' : typeof options}`);
  }
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KNOWN.includes(key)) throw new HpsError('BAD_CONFIG', `HostArena.create: unknown option ${JSON.stringify(key)}: expected one of ${KNOWN.join(', ')}`);
  }
  const dim = integer(o, 'dim', 1, MAX_DIM);
  const numPartitions = integer(o, 'numPartitions', 1, MAX_PARTITIONS, 1);
  const allocationRate = integer(o, 'allocationRate', 1, Number.MAX_SAFE_INTEGER, ALLOCATION_RATE);
  const overflowMargin = integer(o, 'overflowMargin', 1, Number.MAX_SAFE_INTEGER, OVERFLOW_MARGIN);
  const overflowPolicy = (o.overflowPolicy ?? OVERFLOW_POLICY) as OverflowPolicy;
  if (!POLICIES.includes(overflowPolicy)) fail('overflowPolicy', o.overflowPolicy, POLICIES.join(' | '));
  const target = o.overflowResolutionTarget ?? OVERFLOW_RESOLUTION_TARGET;
  if (typeof target !== 'number' || !(target > 0 && target <= 1)) fail('overflowResolutionTarget', o.overflowResolutionTarget, 'a number in (0, 1]');
  const expectedKeys = integer(o, 'expectedKeys', 0, Number.MAX_SAFE_INTEGER, 0);
  const maxPartitionBytes = integer(o, 'maxPartitionBytes', MIN_PARTITION_BYTES, MAX_PARTITION_BYTES, MAX_PARTITION_BYTES);
  return { dim, numPartitions, allocationRate, overflowMargin, overflowPolicy, overflowResolutionTarget: target, expectedKeys, maxPartitionBytes };
}

/**
 * The slab growth step of one partition: allocation_rate at most, and small enough that the last,
 * partly used step stays a small part of the partition (1/64 of the expected bytes, else 1 MiB). HPS's
 * default of 256 MiB per step would leave up to 4 GiB unused over 16 partitions.
 */
export function slabStepBytes(o: ResolvedArenaOptions): number {
  const record = rowBytes(o.dim, o.overflowPolicy);
  const expectedBytes = expectedPerPartition(o) * record;
  const wanted = expectedBytes ? Math.min(16 << 20, Math.max(64 << 10, expectedBytes / 64)) : 1 << 20;
  return Math.max(64 << 10, record, Math.min(o.allocationRate, wanted));
}

/** Keys one partition is sized for up front: expectedKeys spread over the partitions, within the margin and memory. */
export function expectedPerPartition(o: ResolvedArenaOptions): number {
  const fits = Math.floor((0.9 * o.maxPartitionBytes) / (rowBytes(o.dim, o.overflowPolicy) + SLOT_BYTES / 0.88));
  return Math.min(Math.ceil(o.expectedKeys / o.numPartitions), o.overflowMargin, fits);
}

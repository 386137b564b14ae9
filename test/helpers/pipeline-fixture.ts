import { join } from 'node:path';
import { ParameterServer, type HpsOptions, type ModelOptions, type TableStats } from '../../engine/index.js';
import { randomUint32Keys, randomVectors, tempDir } from './lmdb-random.js';
import { writeHugeCtr } from './import-files.js';

/**
 * A table on disk with an independent reference (a Map of its rows), and the keys grouped by where the
 * server's warm-up puts them: warm-up reads L3 in ascending key order, loading the first
 * initialCacheRate of rows into L2 and the first rows L1 holds into L1. Keys are non-negative so that
 * every ordering of them agrees.
 */
export class PipelineFixture {
  readonly dir = tempDir('pipeline');
  readonly dim: number;
  readonly keys: BigInt64Array;
  readonly vectors: Float32Array;
  readonly reference = new Map<bigint, Float32Array>();
  readonly sorted: bigint[];
  readonly defaultValue = -0.5;

  constructor(n: number, dim: number, seed: number) {
    this.dim = dim;
    this.keys = randomUint32Keys(n, seed);
    this.vectors = randomVectors(n, dim, seed + 1);
    this.keys.forEach((k, i) => this.reference.set(k, this.vectors.slice(i * dim, (i + 1) * dim)));
    this.sorted = Array.from(this.keys).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    writeHugeCtr(join(this.dir.path, 'model', 't'), this.keys, this.vectors);
  }

  /** Keys ranked [from, to) in ascending order. */
  ranked(from: number, to: number): BigInt64Array {
    return BigInt64Array.from(this.sorted.slice(from, to));
  }

  /** Keys in no tier. */
  absent(n: number): BigInt64Array {
    return BigInt64Array.from({ length: n }, (_, i) => (1n << 40n) + BigInt(i) * 7919n);
  }

  options(model: Partial<ModelOptions> = {}, extra: Partial<HpsOptions> = {}): HpsOptions {
    return {
      baseDir: this.dir.path,
      keyType: 'int64',
      models: [{ name: 'm', l1CacheFraction: 0.2, tables: [{ name: 't', dim: this.dim, defaultValue: this.defaultValue, sparseFile: 'model/t' }], ...model }],
      persistentDb: { path: 'store' },
      volatileDb: { type: 'hash_map', numPartitions: 2, initialCacheRate: 0.25 },
      workerThreads: 0,
      ...extra,
    };
  }

  open(model: Partial<ModelOptions> = {}, extra: Partial<HpsOptions> = {}, splitMinKeys?: number): Promise<ParameterServer> {
    return ParameterServer.open(this.options(model, extra), { progress: false, log: () => {}, splitMinKeys });
  }

  /** The expected rows of `keys` (repeats included): the reference row, or the default vector. */
  expected(keys: BigInt64Array): Float32Array {
    const out = new Float32Array(keys.length * this.dim);
    keys.forEach((k, i) => {
      const row = this.reference.get(k);
      if (row) out.set(row, i * this.dim);
      else out.fill(this.defaultValue, i * this.dim, (i + 1) * this.dim);
    });
    return out;
  }
}

/** Tier hits of table m/t since `before` (a stats() snapshot). */
export function hitsSince(ps: ParameterServer, before: TableStats | null): { l1: number; l2: number; l3: number; defaults: number } {
  const now = ps.stats()[0];
  return {
    l1: now.l1.hits - (before?.l1.hits ?? 0),
    l2: now.l2.hits - (before?.l2.hits ?? 0),
    l3: now.l3.hits - (before?.l3.hits ?? 0),
    defaults: now.defaults - (before?.defaults ?? 0),
  };
}

export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

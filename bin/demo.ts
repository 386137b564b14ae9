import { mkdirSync, mkdtempSync, openSync, readSync, closeSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParameterServer } from '../engine/index.js';
import { formatStats, xorshift, zipfLookups } from './workload.js';

export interface DemoOptions {
  keys: number;
  dim: number;
  dir?: string;
  seconds: number;
  batch: number;
  seed: number;
}

const MiB = 1 << 20;

/**
 * `hps demo`: writes a synthetic HugeCTR model (random int64 keys, random vectors) and a ps.json,
 * opens it (which imports it into LMDB and warms the host arena and the L1 cache), runs Zipf(1.05)
 * batched lookups for a few seconds, prints the per-tier hit rates and latencies, and checks random
 * keys against the generated files.
 */
export async function runDemo(o: DemoOptions, log: (line: string) => void): Promise<void> {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'hps-demo-'));
  const removeAfter = o.dir === undefined;
  try {
    const folder = join(dir, 'model', 't0');
    let t = performance.now();
    const keys = generateModel(folder, o.keys, o.dim, o.seed);
    const bytes = o.keys * (8 + o.dim * 4);
    log(`generated ${o.keys} keys x dim ${o.dim} (${(bytes / MiB).toFixed(0)} MiB, HugeCTR format) in ${secs(t)} s at ${folder}`);
    const psJson = join(dir, 'ps.json');
    writeFileSync(psJson, JSON.stringify(demoConfig(o.dim), null, 2));
    t = performance.now();
    const ps = await ParameterServer.open(psJson);
    try {
      const imported = ps.info().importsAtOpen[0];
      if (imported) {
        log(`imported ${imported.rows} keys into LMDB in ${imported.seconds.toFixed(2)} s: ${fmt(imported.keysPerSecond)} keys/s, ${(imported.bytes / MiB / imported.seconds).toFixed(0)} MiB/s`);
      } else {
        log(`store already up to date (opened in ${secs(t)} s)`);
      }
      const rate = await zipfLookups(ps, { model: 'demo', table: 't0', keys, dim: o.dim, batch: o.batch, seconds: o.seconds, seed: o.seed + 1 });
      log(`Zipf(1.05) lookups, batches of ${o.batch} keys for ${o.seconds} s: ${fmt(rate.lookupsPerSecond)} lookups/s, ${fmt(rate.keysPerSecond)} keys/s`);
      for (const line of formatStats(ps.stats()[0])) log(line);
      await checkSample(ps, keys, folder, o, log);
    } finally {
      await ps.close();
    }
  } finally {
    if (removeAfter) rmSync(dir, { recursive: true, force: true });
  }
}

function demoConfig(dim: number): object {
  return {
    supportlonglong: true,
    // Three tiers, sized like the tiered workload of docs/benchmarks.md: L1 holds 5% of the rows, L2 starts with 25%, L3 has them all.
    models: [{ model: 'demo', sparse_files: ['model/t0'], embedding_table_names: ['t0'], embedding_vecsize_per_table: [dim], default_value_for_each_table: [0], gpucacheper: 0.05 }],
    volatile_db: { type: 'hash_map', initial_cache_rate: 0.25, cache_missed_embeddings: true },
    persistent_db: { type: 'lmdb', path: 'store' },
  };
}

/** Writes `key` and `emb_vector`; keys are distinct (low half = row number) and otherwise random. */
function generateModel(folder: string, n: number, dim: number, seed: number): BigInt64Array {
  mkdirSync(folder, { recursive: true });
  const keys = new BigInt64Array(n);
  const halves = new Uint32Array(keys.buffer);
  const next = xorshift(seed);
  for (let i = 0; i < n; i++) {
    halves[2 * i] = i;
    halves[2 * i + 1] = next();
  }
  const keyFd = openSync(join(folder, 'key'), 'w');
  writeSync(keyFd, new Uint8Array(keys.buffer));
  closeSync(keyFd);
  const vecFd = openSync(join(folder, 'emb_vector'), 'w');
  const chunkRows = Math.max(1, Math.floor((16 * MiB) / (dim * 4)));
  const chunk = new Float32Array(chunkRows * dim);
  for (let start = 0; start < n; start += chunkRows) {
    const rows = Math.min(chunkRows, n - start);
    for (let i = 0; i < rows * dim; i++) chunk[i] = next() / 2147483648 - 1;
    writeSync(vecFd, new Uint8Array(chunk.buffer, 0, rows * dim * 4));
  }
  closeSync(vecFd);
  return keys;
}

async function checkSample(ps: ParameterServer, keys: BigInt64Array, folder: string, o: DemoOptions, log: (line: string) => void): Promise<void> {
  const n = Math.min(1000, keys.length);
  const next = xorshift(o.seed + 2);
  const positions = Array.from({ length: n }, () => next() % keys.length);
  const got = await ps.lookup('demo', 't0', BigInt64Array.from(positions, (p) => keys[p]));
  const fd = openSync(join(folder, 'emb_vector'), 'r');
  const want = new Float32Array(o.dim);
  try {
    for (let j = 0; j < n; j++) {
      readSync(fd, new Uint8Array(want.buffer), 0, o.dim * 4, positions[j] * o.dim * 4);
      for (let k = 0; k < o.dim; k++) {
        if (!Object.is(got[j * o.dim + k], want[k])) {
          throw new Error(`check failed: key ${keys[positions[j]]} (row ${positions[j]}) element ${k} is ${got[j * o.dim + k]}, the file holds ${want[k]}`);
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  log(`checked ${n} random keys against the generated files: all vectors match exactly`);
}

function secs(since: number): string {
  return ((performance.now() - since) / 1000).toFixed(2);
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

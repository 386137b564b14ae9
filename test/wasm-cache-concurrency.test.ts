import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { WasmEmbeddingCache, type WasmCacheHandle } from '../engine/cache/wasm-cache.js';

// Readers in worker threads query keys while a writer thread keeps rewriting them (and evicting them with
// other keys of the same sets). Every element of a row the writer stores equals writeNo * KEYS + keyIndex,
// so a reader can tell a torn row (mixed elements) and a row of another key (wrong residue) apart.
const DIM = 64;
const KEYS = 32;
const READS = 20000;

interface Job {
  role: 'reader' | 'writer';
  handle: WasmCacheHandle;
  keys: BigInt64Array;
  intruders: BigInt64Array;
  /** [0]: set by the main thread when the readers are done; [1]: set by the writer once it is writing. */
  flags: Int32Array;
}

function reader(job: Job): { torn: number; wrongKey: number; hits: number; stamps: number } {
  const cache = WasmEmbeddingCache.attach(job.handle);
  const out = new Float32Array(KEYS * DIM);
  const seen = new Set<number>();
  while (Atomics.load(job.flags, 1) === 0) Atomics.wait(job.flags, 1, 0, 10);
  let torn = 0, wrongKey = 0, hits = 0;
  for (let r = 0; r < READS; r++) {
    const missed = cache.querySync(job.keys, out);
    let m = 0;
    for (let i = 0; i < KEYS; i++) {
      if (m < missed.length && missed[m] === i) { m++; continue; }
      hits++;
      const v = out[i * DIM];
      for (let d = 1; d < DIM; d++) if (out[i * DIM + d] !== v) { torn++; break; }
      if (v % KEYS !== i) wrongKey++;
      seen.add(Math.floor(v / KEYS));
    }
  }
  void cache.close();
  return { torn, wrongKey, hits, stamps: seen.size };
}

function writer(job: Job): { writes: number } {
  const cache = WasmEmbeddingCache.attach(job.handle);
  const rows = new Float32Array(KEYS * DIM);
  const one = new Float32Array(DIM).fill(-1);
  let writeNo = 1;
  // Float32 holds integers exactly up to 2^24: stop well before writeNo * KEYS gets there.
  while (Atomics.load(job.flags, 0) === 0 && writeNo < 400_000) {
    for (let i = 0; i < KEYS; i++) rows.fill(writeNo * KEYS + i, i * DIM, (i + 1) * DIM);
    if (writeNo % 3 === 0) cache.updateSync(job.keys, rows);
    else cache.insertSync(job.keys, rows);
    if (writeNo % 5 === 0) {
      const j = writeNo % job.intruders.length;
      cache.insertSync(job.intruders.subarray(j, j + 1), one); // evicts a watched key of that set
    }
    if (writeNo % 7 === 0) cache.eraseSync(job.keys.subarray(writeNo % KEYS, (writeNo % KEYS) + 1));
    if (writeNo === 1) Atomics.store(job.flags, 1, 1);
    writeNo++;
  }
  void cache.close();
  return { writes: writeNo - 1 };
}

if (!isMainThread) {
  const job = workerData as Job;
  parentPort!.postMessage(job.role === 'reader' ? reader(job) : writer(job));
} else {
  test('concurrent readers never see a torn row or a row of another key while a writer rewrites and evicts', async () => {
    const cache = WasmEmbeddingCache.create({ dim: DIM, capacity: 64, ways: 8, policy: 'lru' });
    const keys = new BigInt64Array(KEYS);
    const halves = new Uint32Array(keys.buffer);
    for (let i = 0; i < halves.length; i++) halves[i] = (Math.random() * 2 ** 32) >>> 0;
    const intruders = keys.map((k) => k ^ 0x5a5a5a5a5a5an);
    const flags = new Int32Array(new SharedArrayBuffer(8));
    const start = (role: Job['role']) => {
      const w = new Worker(new URL(import.meta.url), { workerData: { role, handle: cache.handle(), keys, intruders, flags } });
      return new Promise<Record<string, number>>((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
    };
    const writing = start('writer');
    const results = await Promise.all([start('reader'), start('reader')]);
    Atomics.store(flags, 0, 1);
    const { writes } = await writing;
    for (const r of results) {
      assert.is(r.torn, 0, 'no torn row');
      assert.is(r.wrongKey, 0, 'no row of another key');
      assert.ok(r.hits > 0, 'readers saw hits');
    }
    assert.ok(writes > 0, 'the writer wrote');
    assert.ok(cache.stats().size <= cache.capacity);
    console.log(`  writer rounds ${writes}; distinct writes seen by readers: ${results.map((r) => r.stamps).join(', ')}; hits ${results.map((r) => r.hits).join(', ')}`);
  });

  test.run();
}

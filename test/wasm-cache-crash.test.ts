import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Worker, isMainThread, workerData } from 'node:worker_threads';
import { WasmEmbeddingCache, type WasmCacheHandle } from '../engine/cache/wasm-cache.js';
import { HEADER, H } from '../engine/cache/layout.js';

// A writer thread is terminated at a random moment while it rewrites and erases keys, most of the time
// inside a write (holding the writer lock, a slot's version odd). releaseThread must then free the
// lock, drop the half-written row and the dead thread's scratch area, and leave a cache whose rows are
// all whole rows of their own keys. Every element of a row written is writeNo * KEYS + keyIndex.
const DIM = 32;
const KEYS = 64;

interface Job {
  handle: WasmCacheHandle;
  keys: BigInt64Array;
  /** [0]: batches written so far. */
  progress: Int32Array;
}

function writer({ handle, keys, progress }: Job): void {
  const cache = WasmEmbeddingCache.attach(handle);
  const rows = new Float32Array(KEYS * DIM);
  for (let writeNo = 1; ; writeNo = (writeNo % 200_000) + 1) {
    for (let i = 0; i < KEYS; i++) rows.fill(writeNo * KEYS + i, i * DIM, (i + 1) * DIM);
    cache.insertSync(keys, rows);
    if (writeNo % 3 === 0) cache.eraseSync(keys.subarray(writeNo % KEYS, (writeNo % KEYS) + 4));
    Atomics.add(progress, 0, 1);
    Atomics.notify(progress, 0);
  }
}

/** Slots whose seqlock version is odd, read from the layout of engine/cache/layout.ts. */
function oddVersions(cache: WasmEmbeddingCache): number {
  const buf = cache.handle().memory.buffer;
  const h = new Uint32Array(buf, HEADER, 16);
  const sets = h[H.sets / 4], setBytes = h[H.setBytes / 4];
  let odd = 0;
  for (let set = 0; set < cache.numSets; set++) {
    const ver = new Uint32Array(buf, sets + set * setBytes + 8 + 8 * cache.ways, cache.ways);
    for (let w = 0; w < cache.ways; w++) odd += Atomics.load(ver, w) & 1;
  }
  return odd;
}

if (!isMainThread) {
  writer(workerData as Job);
} else {
  test('a writer thread terminated mid-write: releaseThread recovers the lock and leaves only whole rows', async () => {
    const cache = WasmEmbeddingCache.create({ dim: DIM, capacity: 48, ways: 8 }); // fewer slots than keys: evictions
    const keys = new BigInt64Array(KEYS);
    const halves = new Uint32Array(keys.buffer);
    for (let i = 0; i < halves.length; i++) halves[i] = (Math.random() * 2 ** 32) >>> 0;
    const lock = new Uint32Array(cache.handle().memory.buffer, HEADER + H.lock, 1);
    const out = new Float32Array(KEYS * DIM);
    let recovered = 0, attempts = 0, memoryBytes = 0;
    while (recovered < 3 && attempts < 60) {
      attempts++;
      const progress = new Int32Array(new SharedArrayBuffer(4));
      const worker = new Worker(new URL(import.meta.url), { workerData: { handle: cache.handle(), keys, progress } });
      const target = 1 + Math.floor(Math.random() * 30);
      while (Atomics.load(progress, 0) < target) Atomics.wait(progress, 0, Atomics.load(progress, 0), 20);
      const dead = worker.threadId;
      await worker.terminate();
      if (cache.releaseThread(dead)) recovered++;
      assert.is(Atomics.load(lock, 0), 0, `attempt ${attempts}: the writer lock is free`);
      assert.is(oddVersions(cache), 0, `attempt ${attempts}: no slot left odd (mid-write)`);

      const missed = cache.querySync(keys, out);
      let m = 0;
      for (let i = 0; i < KEYS; i++) {
        if (m < missed.length && missed[m] === i) { m++; continue; }
        const v = out[i * DIM];
        for (let d = 1; d < DIM; d++) assert.is(out[i * DIM + d], v, `attempt ${attempts}: key ${i} has a whole row`);
        assert.is(v % KEYS, i, `attempt ${attempts}: key ${i} has its own row`);
      }
      assert.is(cache.stats().size, cache.dumpSync().length, `attempt ${attempts}: size recounted`);
      assert.ok(cache.stats().size <= cache.capacity);
      cache.insertSync(keys.subarray(0, 1), new Float32Array(DIM).fill(KEYS * 300_000)); // writers proceed
      // The dead thread's scratch area is reused by the next attach, so the memory stops growing.
      if (attempts === 2) memoryBytes = cache.handle().memory.buffer.byteLength;
      if (attempts > 2) assert.is(cache.handle().memory.buffer.byteLength, memoryBytes, 'scratch areas reused');
    }
    console.log(`  ${attempts} writers terminated, ${recovered} of them inside a write`);
    assert.ok(recovered >= 1, 'at least one writer was terminated holding the lock');
  });

  test.run();
}

import { parentPort, workerData } from 'node:worker_threads';
import { WasmEmbeddingCache, type WasmCacheHandle } from '../../engine/cache/wasm-cache.js';

/**
 * A reader thread of the l1-cache suite: attaches to the cache of the main thread, warms up, waits at a
 * shared start line with the other readers, then queries `calls` batches of the shared key stream and
 * answers with the seconds it took.
 */
interface Setup {
  handle: WasmCacheHandle;
  stream: BigInt64Array;
  batch: number;
  calls: number;
  /** [0]: readers ready; [1]: set to 1 by the main thread to start. */
  gate: Int32Array;
  offset: number;
}

const { handle, stream, batch, calls, gate, offset } = workerData as Setup;
const cache = WasmEmbeddingCache.attach(handle);
const out = new Float32Array(batch * cache.dim);
const starts = stream.length - batch + 1;
const query = (i: number) => {
  const start = ((offset + i) * 7919 * batch) % starts;
  cache.querySync(stream.subarray(start, start + batch), out);
};
for (let i = 0; i < Math.max(4, calls >> 2); i++) query(i);
Atomics.add(gate, 0, 1);
Atomics.notify(gate, 0);
Atomics.wait(gate, 1, 0);
const t0 = process.hrtime.bigint();
for (let i = 0; i < calls; i++) query(i);
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
await cache.close();
parentPort!.postMessage(seconds);
